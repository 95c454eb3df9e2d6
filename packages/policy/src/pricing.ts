/**
 * Request pricing. Prices are micro-dollars per million tokens, which is pico-dollars per token, so
 * a cost (Σ tokens × price) is an exact integer number of pico-dollars: nothing is rounded, and a
 * sum of costs is the exact price of the sum. Upper bounds are exact too (every input token at its
 * dearest price), so a hold never undercounts.
 */
import type { ActualUsage } from "./decision.js";
import type { ModelPrice, ProviderKind } from "./model.js";

/** Tokens as a non-negative bigint (negative or fractional counts are clamped / truncated). */
function tokens(n: number): bigint {
  return n > 0 ? BigInt(Math.floor(n)) : 0n;
}

/** The price of 5-minute cache writes (absent or null = the input price). */
function cacheWritePrice(price: ModelPrice): bigint {
  return price.cacheWriteInputPerMillion ?? price.inputPerMillion;
}

/** The price of 1-hour cache writes (absent or null = the cache-write price). */
function cacheWrite1hPrice(price: ModelPrice): bigint {
  return price.cacheWrite1hInputPerMillion ?? cacheWritePrice(price);
}

/**
 * The price of one input token whatever happens to it (plain, cache read, 5-minute or 1-hour cache
 * write): the largest of them, so a reservation holds the highest price that can apply.
 */
export function inputPriceUpperBound(price: ModelPrice): bigint {
  let bound = price.inputPerMillion;
  for (const p of [price.cachedInputPerMillion ?? bound, cacheWritePrice(price), cacheWrite1hPrice(price), price.audioInputPerMillion ?? bound]) if (p > bound) bound = p;
  return bound;
}

/** The price of one output token, text or audio: the larger (sound for bounds). */
export function outputPriceUpperBound(price: ModelPrice): bigint {
  const audio = price.audioOutputPerMillion ?? price.outputPerMillion;
  return audio > price.outputPerMillion ? audio : price.outputPerMillion;
}

/** The price without its audio prices: what a request without audio is reserved and billed at. */
export function textOnlyPrice(price: ModelPrice): ModelPrice {
  if (price.audioInputPerMillion === undefined && price.audioOutputPerMillion === undefined) return price;
  const { audioInputPerMillion: _in, audioOutputPerMillion: _out, ...text } = price;
  return text;
}

/** Whether a model can serve audio: it has both audio prices. */
export function hasAudioPrices(price: ModelPrice): boolean {
  return price.audioInputPerMillion !== undefined && price.audioInputPerMillion !== null && price.audioOutputPerMillion !== undefined && price.audioOutputPerMillion !== null;
}

/** min(a, b) of bigints. */
const atMost = (a: bigint, b: bigint): bigint => (a > b ? b : a);

/**
 * Actual cost in pico-dollars, exact: plain input at the input price, cache reads at the cached
 * price, 5-minute and 1-hour cache writes at theirs, audio input and output at the audio prices,
 * text output at the output price. Cache reads, writes and audio are part of `inputTokens` (clamped
 * to it, in that order), audio output part of `outputTokens`; a missing price is the text price
 * (a missing 1-hour price, the cache-write price).
 */
export function computeCost(price: ModelPrice, usage: ActualUsage): bigint {
  const input = tokens(usage.inputTokens);
  const cached = atMost(tokens(usage.cachedInputTokens), input);
  const writes = atMost(tokens(usage.cacheWriteInputTokens ?? 0), input - cached);
  const longWrites = atMost(tokens(usage.cacheWrite1hInputTokens ?? 0), writes);
  const audioIn = atMost(tokens(usage.audioInputTokens ?? 0), input - cached - writes);
  const output = tokens(usage.outputTokens);
  const audioOut = atMost(tokens(usage.audioOutputTokens ?? 0), output);
  return (
    (input - cached - writes - audioIn) * price.inputPerMillion +
    cached * (price.cachedInputPerMillion ?? price.inputPerMillion) +
    (writes - longWrites) * cacheWritePrice(price) +
    longWrites * cacheWrite1hPrice(price) +
    audioIn * (price.audioInputPerMillion ?? price.inputPerMillion) +
    (output - audioOut) * price.outputPerMillion +
    audioOut * (price.audioOutputPerMillion ?? price.outputPerMillion)
  );
}

/** Upper-bound cost in pico-dollars of `inputTokens` (any of them uncached) and `outputTokens`. */
export function upperBoundCost(price: ModelPrice, inputTokens: number, outputTokens: number): bigint {
  return tokens(inputTokens) * inputPriceUpperBound(price) + tokens(outputTokens) * outputPriceUpperBound(price);
}

/**
 * The most output tokens that `availablePicos` can pay after `inputTokens` (priced at the upper
 * bound); -1 when it cannot even pay the input; `Number.MAX_SAFE_INTEGER` when output is free.
 */
export function affordableOutputTokens(price: ModelPrice, inputTokens: number, availablePicos: bigint): number {
  const room = availablePicos - tokens(inputTokens) * inputPriceUpperBound(price);
  if (room < 0n) return -1;
  const outputPrice = outputPriceUpperBound(price);
  if (outputPrice <= 0n) return Number.MAX_SAFE_INTEGER;
  const n = room / outputPrice;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** The cache-write prices of a model (see `cacheWritePricesOf`). */
export interface CacheWritePrices {
  readonly cacheWriteInputPerMillion: bigint | null;
  readonly cacheWrite1hInputPerMillion: bigint | null;
}

/**
 * A model's cache-write prices from what the admin set (`cacheWriteInputPerMillion`, null = the
 * provider's default). ANTHROPIC: 5-minute writes at the set price or 1.25x the input price, 1-hour
 * writes at 2x the input price (Anthropic's multipliers). Other providers bill no surcharge: the
 * set price, else none (the input price). A derived price is rounded up to a whole micro-dollar
 * per million, so it never undercounts.
 */
export function cacheWritePricesOf(provider: ProviderKind, inputPerMillion: bigint, cacheWriteInputPerMillion: bigint | null): CacheWritePrices {
  if (provider !== "ANTHROPIC") return { cacheWriteInputPerMillion, cacheWrite1hInputPerMillion: null };
  return { cacheWriteInputPerMillion: cacheWriteInputPerMillion ?? (inputPerMillion * 5n + 3n) / 4n, cacheWrite1hInputPerMillion: inputPerMillion * 2n };
}
