/**
 * Request pricing. Prices are micro-dollars per million tokens; a request's cost is rounded up to
 * the next whole micro-dollar, so a sum of charges never undercounts.
 */
import type { ActualUsage } from "./decision.js";
import type { ModelPrice } from "./model.js";

const MILLION = 1_000_000n;

/** ceil(n / d) for n >= 0, d > 0. */
function divideCeil(n: bigint, d: bigint): bigint {
  return n <= 0n ? 0n : (n + d - 1n) / d;
}

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
 * Actual cost in micro-dollars: ceil((uncached*in + cached*cachedPrice + output*out) / 1e6).
 * `cachedInputTokens` are part of `inputTokens`; a cached price of null means the input price.
 */
export function computeCost(price: ModelPrice, usage: ActualUsage): bigint {
  const input = tokens(usage.inputTokens);
  const cachedRaw = tokens(usage.cachedInputTokens);
  const cached = cachedRaw > input ? input : cachedRaw;
  const cachedPrice = price.cachedInputPerMillion ?? price.inputPerMillion;
  const numerator =
    (input - cached) * price.inputPerMillion + cached * cachedPrice + tokens(usage.outputTokens) * price.outputPerMillion;
  return divideCeil(numerator, MILLION);
}

/** Upper-bound cost in micro-dollars of `inputTokens` (any of them uncached) and `outputTokens`. */
export function upperBoundCost(price: ModelPrice, inputTokens: number, outputTokens: number): bigint {
  const numerator = tokens(inputTokens) * inputPriceUpperBound(price) + tokens(outputTokens) * price.outputPerMillion;
  return divideCeil(numerator, MILLION);
}

/**
 * The most output tokens that `availableMicros` can pay after `inputTokens` (priced at the upper
 * bound); -1 when it cannot even pay the input; `Number.MAX_SAFE_INTEGER` when output is free.
 */
export function affordableOutputTokens(price: ModelPrice, inputTokens: number, availableMicros: bigint): number {
  const room = availableMicros * MILLION - tokens(inputTokens) * inputPriceUpperBound(price);
  if (room < 0n) return -1;
  if (price.outputPerMillion <= 0n) return Number.MAX_SAFE_INTEGER;
  const n = room / price.outputPerMillion;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}
