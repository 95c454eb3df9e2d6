/** Validation and token bounds of an inbound OpenAI Embeddings request. */
import { utf8Bytes, type ParseError } from "./chat-request.js";
import { isJsonObject } from "./usage.js";

/** One embeddings input item: a string or an array of token ids. */
export type EmbeddingInputItem = string | readonly number[];

/** A validated embeddings request: the original body plus what the gateway needs. */
export interface ParsedEmbeddingsRequest {
  /** The body exactly as received (never mutated). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  /** `input` normalised to a list (a single string or token array becomes one item). */
  readonly inputs: readonly EmbeddingInputItem[];
}

/** True for an array of non-negative integer token ids. */
function isTokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((t) => typeof t === "number" && Number.isInteger(t) && t >= 0);
}

/** Normalises `input`; null when it is none of the accepted shapes. */
function normaliseInput(input: unknown): EmbeddingInputItem[] | null {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === "string")) return input as string[];
  if (isTokenArray(input)) return [input];
  if (input.every((x) => isTokenArray(x) && x.length > 0)) return input as number[][];
  return null;
}

/**
 * Validates an OpenAI embeddings body: a string `model` and an `input` that is a string, a
 * non-empty array of strings, an array of token ids, or an array of token-id arrays.
 */
export function parseOpenAIEmbeddingsRequest(body: unknown): ParsedEmbeddingsRequest | ParseError {
  if (!isJsonObject(body)) return { error: "the request body must be a JSON object" };
  const model = body["model"];
  if (model === undefined || model === null) return { error: "'model' is required" };
  if (typeof model !== "string" || model.length === 0) return { error: "'model' must be a non-empty string" };
  const input = body["input"];
  if (input === undefined || input === null) return { error: "'input' is required" };
  const inputs = normaliseInput(input);
  if (inputs === null) {
    return { error: "'input' must be a string, a non-empty array of strings, or an array of token arrays" };
  }
  return { body, model, inputs };
}

/**
 * A sound upper bound of the input tokens: UTF-8 bytes of each string (a token is at least one
 * byte) and the exact length of each token-id array. Embeddings add no per-input overhead.
 */
export function estimateEmbeddingInputUpperBound(req: ParsedEmbeddingsRequest): number {
  let total = 0;
  for (const item of req.inputs) total += typeof item === "string" ? utf8Bytes(item) : item.length;
  return total;
}
