import { describe, expect, it } from "vitest";
import type { ModelPrice } from "./model.js";
import { formatUsdPicos } from "./money.js";
import { affordableOutputTokens, cacheWritePricesOf, computeCost, hasAudioPrices, inputPriceUpperBound, textOnlyPrice, upperBoundCost } from "./pricing.js";

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

describe("cache writes (Anthropic)", () => {
  // $3 / $15 per million; 5-minute writes at 1.25x ($3.75), 1-hour writes at 2x ($6).
  const sonnet: ModelPrice = {
    inputPerMillion: 3_000_000n,
    outputPerMillion: 15_000_000n,
    cachedInputPerMillion: 300_000n,
    cacheWriteInputPerMillion: 3_750_000n,
    cacheWrite1hInputPerMillion: 6_000_000n,
  };
  // 50 plain input tokens, 100,000 written to the cache, 500 output tokens.
  const usage = { inputTokens: 100_050, cachedInputTokens: 0, outputTokens: 500, cacheWriteInputTokens: 100_000 };

  it("bills the issue's row at the cache-write price: $0.382650 (5-minute) or $0.607650 (1-hour), not $0.307650", () => {
    expect(formatUsdPicos(computeCost(sonnet, usage))).toBe("0.38265");
    expect(formatUsdPicos(computeCost(sonnet, { ...usage, cacheWrite1hInputTokens: 100_000 }))).toBe("0.60765");
    expect(formatUsdPicos(computeCost({ ...sonnet, cacheWriteInputPerMillion: null, cacheWrite1hInputPerMillion: null }, usage))).toBe("0.30765");
  });

  it("splits reads, 5-minute and 1-hour writes, clamped to the input", () => {
    // 10 plain, 20 read, 30 written (of them 10 for an hour).
    const mixed = { inputTokens: 60, cachedInputTokens: 20, outputTokens: 0, cacheWriteInputTokens: 30, cacheWrite1hInputTokens: 10 };
    expect(computeCost(sonnet, mixed)).toBe(10n * 3_000_000n + 20n * 300_000n + 20n * 3_750_000n + 10n * 6_000_000n);
    expect(computeCost(sonnet, { ...mixed, cacheWriteInputTokens: 1_000, cacheWrite1hInputTokens: 5_000 })).toBe(20n * 300_000n + 40n * 6_000_000n);
  });

  it("reserves every input token at the highest price that can apply", () => {
    expect(inputPriceUpperBound(sonnet)).toBe(6_000_000n);
    expect(upperBoundCost(sonnet, 1_000, 0)).toBe(6_000_000_000n);
    expect(inputPriceUpperBound({ ...sonnet, cacheWrite1hInputPerMillion: null })).toBe(3_750_000n);
    expect(inputPriceUpperBound(price)).toBe(150_000n);
  });
});

describe("cacheWritePricesOf", () => {
  it("defaults Anthropic to 1.25x (5-minute) and 2x (1-hour) the input price, rounded up; no surcharge elsewhere", () => {
    expect(cacheWritePricesOf("ANTHROPIC", 3_000_000n, null)).toEqual({ cacheWriteInputPerMillion: 3_750_000n, cacheWrite1hInputPerMillion: 6_000_000n });
    expect(cacheWritePricesOf("ANTHROPIC", 1n, null)).toEqual({ cacheWriteInputPerMillion: 2n, cacheWrite1hInputPerMillion: 2n });
    expect(cacheWritePricesOf("ANTHROPIC", 3_000_000n, 4_000_000n)).toEqual({ cacheWriteInputPerMillion: 4_000_000n, cacheWrite1hInputPerMillion: 6_000_000n });
    expect(cacheWritePricesOf("OPENAI", 2_500_000n, null)).toEqual({ cacheWriteInputPerMillion: null, cacheWrite1hInputPerMillion: null });
    expect(cacheWritePricesOf("GOOGLE", 2_500_000n, 3_000_000n)).toEqual({ cacheWriteInputPerMillion: 3_000_000n, cacheWrite1hInputPerMillion: null });
  });
});

describe("audio tokens", () => {
  // gpt-4o-audio-preview: $2.50 / $10 text, $40 / $80 audio per million.
  const audio: ModelPrice = { inputPerMillion: 2_500_000n, outputPerMillion: 10_000_000n, cachedInputPerMillion: null, audioInputPerMillion: 40_000_000n, audioOutputPerMillion: 80_000_000n };

  it("bills audio input and output at the audio prices, the rest at the text prices", () => {
    // 100 text + 1,000 audio input, 50 text + 500 audio output.
    const usage = { inputTokens: 1_100, cachedInputTokens: 0, outputTokens: 550, audioInputTokens: 1_000, audioOutputTokens: 500 };
    expect(formatUsdPicos(computeCost(audio, usage))).toBe("0.08075");
    expect(computeCost(audio, { ...usage, audioOutputTokens: 9_999 })).toBe(100n * 2_500_000n + 1_000n * 40_000_000n + 550n * 80_000_000n);
  });

  it("bounds input and output at the audio prices when they are dearer; a text-only price drops them", () => {
    expect(upperBoundCost(audio, 10, 10)).toBe(10n * 40_000_000n + 10n * 80_000_000n);
    expect(affordableOutputTokens(audio, 10, 10n * 40_000_000n + 80_000_000n)).toBe(1);
    expect(upperBoundCost(textOnlyPrice(audio), 10, 10)).toBe(10n * 2_500_000n + 10n * 10_000_000n);
    expect(hasAudioPrices(audio)).toBe(true);
    expect(hasAudioPrices(textOnlyPrice(audio))).toBe(false);
    expect(hasAudioPrices({ ...audio, audioOutputPerMillion: null })).toBe(false);
  });
});
