import { describe, expect, it } from "vitest";
import type { ModelPrice } from "./model.js";
import { affordableOutputTokens, computeCost, upperBoundCost } from "./pricing.js";

const price: ModelPrice = { inputPerMillion: 150_000n, outputPerMillion: 600_000n, cachedInputPerMillion: 75_000n };

describe("computeCost", () => {
  it.each([
    [{ inputTokens: 1_000_000, cachedInputTokens: 0, outputTokens: 0 }, 150_000n],
    [{ inputTokens: 1000, cachedInputTokens: 0, outputTokens: 1000 }, 750n],
    [{ inputTokens: 1000, cachedInputTokens: 400, outputTokens: 0 }, 120n],
    [{ inputTokens: 1, cachedInputTokens: 0, outputTokens: 0 }, 1n],
    [{ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, 0n],
    [{ inputTokens: 7, cachedInputTokens: 0, outputTokens: 3 }, 3n],
  ])("%j -> %s micros (rounded up)", (usage, micros) => {
    expect(computeCost(price, usage)).toBe(micros);
  });

  it("prices cached tokens at the input price when no cached price is set", () => {
    const p: ModelPrice = { ...price, cachedInputPerMillion: null };
    expect(computeCost(p, { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 0 })).toBe(150n);
  });

  it("never counts more cached tokens than input tokens", () => {
    expect(computeCost(price, { inputTokens: 100, cachedInputTokens: 500, outputTokens: 0 })).toBe(8n);
  });
});

describe("upperBoundCost / affordableOutputTokens", () => {
  it("bounds with every input token uncached and the full output", () => {
    expect(upperBoundCost(price, 1000, 1000)).toBe(750n);
    expect(upperBoundCost(price, 1000, 0)).toBe(150n);
  });

  it("uses the cached price when it is (oddly) above the input price", () => {
    expect(upperBoundCost({ ...price, cachedInputPerMillion: 300_000n }, 1000, 0)).toBe(300n);
  });

  it("finds the largest output the money pays for, exactly", () => {
    // 750 micros: input 1000 tokens costs 150, leaving 600 micros = 1000 output tokens.
    expect(affordableOutputTokens(price, 1000, 750n)).toBe(1000);
    expect(upperBoundCost(price, 1000, affordableOutputTokens(price, 1000, 749n))).toBeLessThanOrEqual(749n);
    expect(upperBoundCost(price, 1000, affordableOutputTokens(price, 1000, 749n) + 1)).toBeGreaterThan(749n);
    expect(affordableOutputTokens(price, 1000, 149n)).toBe(-1);
    expect(affordableOutputTokens({ ...price, outputPerMillion: 0n }, 10, 5n)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
