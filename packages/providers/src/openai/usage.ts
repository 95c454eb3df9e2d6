/** Usage extraction from OpenAI responses (non-stream bodies and stream chunks alike). */
import type { ActualUsage } from "@tollgate/policy";

/** Token usage as a provider reported it; `inputTokens` includes `cachedInputTokens`. */
export type ProviderUsage = ActualUsage;

/** Narrows to a plain JSON object. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A non-negative integer count, or null. */
function readCount(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null;
}

/**
 * Reads `usage` of an OpenAI chat completion, chunk or embeddings response: `prompt_tokens`,
 * `prompt_tokens_details.cached_tokens` and `.audio_tokens`, `completion_tokens` (reasoning tokens
 * are already inside it; absent for embeddings = 0) and `completion_tokens_details.audio_tokens`.
 * Null when there is no usable usage object.
 */
export function extractOpenAIUsage(json: unknown): ProviderUsage | null {
  if (!isJsonObject(json)) return null;
  const usage = json["usage"];
  if (!isJsonObject(usage)) return null;
  const inputTokens = readCount(usage["prompt_tokens"]);
  if (inputTokens === null) return null;
  const details = usage["prompt_tokens_details"];
  const cached = isJsonObject(details) ? readCount(details["cached_tokens"]) : null;
  const outputTokens = readCount(usage["completion_tokens"]) ?? 0;
  const outDetails = usage["completion_tokens_details"];
  const audioIn = isJsonObject(details) ? (readCount(details["audio_tokens"]) ?? 0) : 0;
  const audioOut = isJsonObject(outDetails) ? (readCount(outDetails["audio_tokens"]) ?? 0) : 0;
  return {
    inputTokens,
    cachedInputTokens: Math.min(cached ?? 0, inputTokens),
    outputTokens,
    ...(audioIn > 0 ? { audioInputTokens: audioIn } : {}),
    ...(audioOut > 0 ? { audioOutputTokens: audioOut } : {}),
  };
}

/**
 * Whether an OpenAI chat body sends audio (an `input_audio` content part) or asks for audio output
 * (`modalities` naming "audio", or an `audio` object): such a request is served only by a model
 * with audio prices.
 */
export function requestsOpenAIAudio(body: Readonly<Record<string, unknown>>): boolean {
  const modalities = body["modalities"];
  if (Array.isArray(modalities) && modalities.includes("audio")) return true;
  if (isJsonObject(body["audio"])) return true;
  const messages = body["messages"];
  if (!Array.isArray(messages)) return false;
  return messages.some((m) => isJsonObject(m) && Array.isArray(m["content"]) && m["content"].some((p) => isJsonObject(p) && p["type"] === "input_audio"));
}

/**
 * Concatenates the generated text of a non-stream chat completion (content, refusal, tool call
 * names and arguments of every choice), to count output tokens when no usage came back.
 */
export function extractOpenAICompletionText(json: unknown): string {
  if (!isJsonObject(json) || !Array.isArray(json["choices"])) return "";
  let text = "";
  for (const choice of json["choices"]) {
    if (isJsonObject(choice)) text += collectGeneratedText(choice["message"]);
  }
  return text;
}

/** Text of a message or a stream delta: content, refusal, reasoning, tool call names and arguments. */
export function collectGeneratedText(message: unknown): string {
  if (!isJsonObject(message)) return "";
  let text = "";
  for (const field of ["content", "refusal", "reasoning_content"]) {
    const v = message[field];
    if (typeof v === "string") text += v;
  }
  const calls = message["tool_calls"];
  if (Array.isArray(calls)) {
    for (const call of calls) {
      if (isJsonObject(call)) text += collectFunctionText(call["function"]);
    }
  }
  text += collectFunctionText(message["function_call"]);
  return text;
}

/** Name and arguments of a function call (or a delta of one). */
function collectFunctionText(fn: unknown): string {
  if (!isJsonObject(fn)) return "";
  const name = typeof fn["name"] === "string" ? fn["name"] : "";
  const args = typeof fn["arguments"] === "string" ? fn["arguments"] : "";
  return name + args;
}
