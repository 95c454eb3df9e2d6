/**
 * Request pricing. Prices are micro-dollars per million tokens, which is pico-dollars per token, so
 * a cost (Σ tokens × price) is an exact integer number of pico-dollars: nothing is rounded, and a
 * sum of costs is the exact price of the sum. Upper bounds are exact too (every input token at its
 * dearest price), so a hold never undercounts.
 */
import type { ActualUsage } from "./decision.js";
import type { ModelPrice } from "./model.js";

/** Tokens as a non-negative bigint (negative or fractional counts are clamped / truncated). */
function tokens(n: number): bigint {
  return n > 0 ? BigInt(Math.floor(n)) : 0n;
}

/** The price of one input token that may or may not be cached: the larger of both (sound for bounds). */
export function inputPriceUpperBound(price: ModelPrice): bigint {
  const cached = price.cachedInputPerMillion ?? price.inputPerMillion;
  return cached > price.inputPerMillion ? cached : price.inputPerMillion;
}

/**
 * Actual cost in pico-dollars, exact: uncached*in + cached*cachedPrice + output*out.
 * `cachedInputTokens` are part of `inputTokens`; a cached price of null means the input price.
 */
export function computeCost(price: ModelPrice, usage: ActualUsage): bigint {
  const input = tokens(usage.inputTokens);
  const cachedRaw = tokens(usage.cachedInputTokens);
  const cached = cachedRaw > input ? input : cachedRaw;
  const cachedPrice = price.cachedInputPerMillion ?? price.inputPerMillion;
  const numerator =
    (input - cached) * price.inputPerMillion + cached * cachedPrice + tokens(usage.outputTokens) * price.outputPerMillion;
  return numerator;
}

/** Upper-bound cost in pico-dollars of `inputTokens` (any of them uncached) and `outputTokens`. */
export function upperBoundCost(price: ModelPrice, inputTokens: number, outputTokens: number): bigint {
  return tokens(inputTokens) * inputPriceUpperBound(price) + tokens(outputTokens) * price.outputPerMillion;
}

/**
 * The most output tokens that `availablePicos` can pay after `inputTokens` (priced at the upper
 * bound); -1 when it cannot even pay the input; `Number.MAX_SAFE_INTEGER` when output is free.
 */
export function affordableOutputTokens(price: ModelPrice, inputTokens: number, availablePicos: bigint): number {
  const room = availablePicos - tokens(inputTokens) * inputPriceUpperBound(price);
  if (room < 0n) return -1;
  if (price.outputPerMillion <= 0n) return Number.MAX_SAFE_INTEGER;
  const n = room / price.outputPerMillion;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}
