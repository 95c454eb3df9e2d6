/**
 * OpenAI Embeddings against a Gemini account: the inputs become one `batchEmbedContents` call
 * (one request per input, `dimensions` as `outputDimensionality`), and Gemini's vectors come back
 * in OpenAI's list shape, as floats or as base64 little-endian float32 (`encoding_format`, which the
 * official SDK sets to base64 by default). Gemini reports no usage for embeddings: the caller
 * supplies the counted prompt tokens.
 */
import type { ParseError } from "../openai/chat-request.js";
import type { ParsedEmbeddingsRequest } from "../openai/embeddings-request.js";
import { isJsonObject } from "../openai/usage.js";

/** The `batchEmbedContents` body for an OpenAI embeddings request; an error for token-id inputs (Gemini takes text only). */
export function buildGoogleBatchEmbedBodyFromOpenAI(req: ParsedEmbeddingsRequest, upstreamModel: string): { readonly requests: readonly Record<string, unknown>[] } | ParseError {
  const dimensions = req.body["dimensions"];
  const texts: string[] = [];
  for (const item of req.inputs) {
    if (typeof item !== "string") return { error: "token-id inputs cannot be embedded by a Gemini model; send text" };
    texts.push(item);
  }
  const extra = typeof dimensions === "number" && Number.isInteger(dimensions) && dimensions > 0 ? { outputDimensionality: dimensions } : {};
  return { requests: texts.map((text) => ({ model: `models/${upstreamModel}`, content: { parts: [{ text }] }, ...extra })) };
}

/** A float vector as OpenAI's base64: the little-endian float32 bytes. */
export function encodeEmbeddingBase64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString("base64");
}

/** How to render the OpenAI answer. */
export interface OpenAIEmbeddingsRender {
  /** The public model name to show. */
  readonly model: string;
  readonly encodingFormat: "float" | "base64";
  /** Prompt tokens to report (counted by the gateway). */
  readonly promptTokens: number;
}

/**
 * OpenAI's embeddings list from a Gemini `batchEmbedContents` answer; null when it is not one or
 * does not hold `expected` vectors of numbers.
 */
export function googleEmbeddingsToOpenAI(json: unknown, expected: number, render: OpenAIEmbeddingsRender): Record<string, unknown> | null {
  if (!isJsonObject(json) || !Array.isArray(json["embeddings"]) || json["embeddings"].length !== expected) return null;
  const data: Record<string, unknown>[] = [];
  for (const [index, e] of (json["embeddings"] as unknown[]).entries()) {
    const values = isJsonObject(e) ? e["values"] : null;
    if (!Array.isArray(values) || !values.every((v): v is number => typeof v === "number")) return null;
    data.push({ object: "embedding", index, embedding: render.encodingFormat === "base64" ? encodeEmbeddingBase64(values) : values });
  }
  return { object: "list", data, model: render.model, usage: { prompt_tokens: render.promptTokens, total_tokens: render.promptTokens } };
}
