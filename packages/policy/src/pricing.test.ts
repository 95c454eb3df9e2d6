import { describe, expect, it } from "vitest";
import type { ModelPrice } from "./model.js";
import { affordableOutputTokens, computeCost, upperBoundCost } from "./pricing.js";

const price: ModelPrice = { inputPerMillion: 150_000n, outputPerMillion: 600_000n, cachedInputPerMillion: 75_000n };

describe("computeCost", () => {
  it.each([
    [{ inputTokens: 1_000_000, cachedInputTokens: 0, outputTokens: 0 }, 150_000_000_000n],
    [{ inputTokens: 1000, cachedInputTokens: 0, outputTokens: 1000 }, 750_000_000n],
    [{ inputTokens: 1000, cachedInputTokens: 400, outputTokens: 0 }, 120_000_000n],
    [{ inputTokens: 1, cachedInputTokens: 0, outputTokens: 0 }, 150_000n],
    [{ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, 0n],
    [{ inputTokens: 7, cachedInputTokens: 0, outputTokens: 3 }, 2_850_000n],
  ])("%j -> %s pico-dollars (exact)", (usage, micros) => {
    expect(computeCost(price, usage)).toBe(micros);
  });

  it("prices cached tokens at the input price when no cached price is set", () => {
    const p: ModelPrice = { ...price, cachedInputPerMillion: null };
    expect(computeCost(p, { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 0 })).toBe(150_000_000n);
  });

  it("never counts more cached tokens than input tokens", () => {
    expect(computeCost(price, { inputTokens: 100, cachedInputTokens: 500, outputTokens: 0 })).toBe(7_500_000n);
  });
});

describe("upperBoundCost / affordableOutputTokens", () => {
  it("bounds with every input token uncached and the full output", () => {
    expect(upperBoundCost(price, 1000, 1000)).toBe(750_000_000n);
    expect(upperBoundCost(price, 1000, 0)).toBe(150_000_000n);
  });

  it("uses the cached price when it is (oddly) above the input price", () => {
    expect(upperBoundCost({ ...price, cachedInputPerMillion: 300_000n }, 1000, 0)).toBe(300_000_000n);
  });

  it("finds the largest output the money pays for, exactly", () => {
    // $0.000750: input 1000 tokens costs $0.000150, leaving $0.000600 = 1000 output tokens.
    expect(affordableOutputTokens(price, 1000, 750_000_000n)).toBe(1000);
    expect(upperBoundCost(price, 1000, affordableOutputTokens(price, 1000, 749_999_999n))).toBeLessThanOrEqual(749_999_999n);
    expect(upperBoundCost(price, 1000, affordableOutputTokens(price, 1000, 749_999_999n) + 1)).toBeGreaterThan(749_999_999n);
    expect(affordableOutputTokens(price, 1000, 149_999_999n)).toBe(-1);
    expect(affordableOutputTokens({ ...price, outputPerMillion: 0n }, 10, 5_000_000n)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
