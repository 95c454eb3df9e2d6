/** Pure builders of the mock's OpenAI embeddings responses. */
import { createHash } from "node:crypto";
import type { MockDirectives } from "./directives.js";

/** Every embedding has this many dimensions. */
export const EMBEDDING_DIMENSIONS = 8;

/** One input item: a string or an array of token ids. */
export type EmbeddingInput = string | readonly number[];

/** Normalises `input` to a list of items; null when malformed. */
export function normaliseEmbeddingInput(input: unknown): EmbeddingInput[] | null {
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === "number");
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === "string")) return input as string[];
  if (isTokens(input)) return [input];
  if (input.every(isTokens)) return input as number[][];
  return null;
}

/** ceil(UTF-8 bytes / 4) per string input, the length of each token array. */
export function countEmbeddingTokens(inputs: readonly EmbeddingInput[]): number {
  let total = 0;
  for (const item of inputs) total += typeof item === "string" ? Math.ceil(Buffer.byteLength(item, "utf8") / 4) : item.length;
  return total;
}

/** A deterministic vector in [-1, 1) from the item's SHA-256 (float32-exact values). */
export function embedItem(item: EmbeddingInput): number[] {
  const digest = createHash("sha256")
    .update(typeof item === "string" ? item : JSON.stringify(item))
    .digest();
  const vector: number[] = [];
  for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) vector.push(Math.fround(digest.readUInt16BE(i * 2) / 32768 - 1));
  return vector;
}

/** The vector as the OpenAI API's `encoding_format: "base64"` (little-endian float32). */
function toBase64(vector: readonly number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString("base64");
}

/** An OpenAI embeddings `list` body. */
export function buildEmbeddingsResponse(body: Record<string, unknown>, inputs: readonly EmbeddingInput[], directives: MockDirectives): Record<string, unknown> {
  const base64 = body["encoding_format"] === "base64";
  const promptTokens = directives.promptTokens ?? countEmbeddingTokens(inputs);
  return {
    object: "list",
    data: inputs.map((item, index) => {
      const vector = embedItem(item);
      return { object: "embedding", index, embedding: base64 ? toBase64(vector) : vector };
    }),
    model: typeof body["model"] === "string" ? body["model"] : "mock-embedding",
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
