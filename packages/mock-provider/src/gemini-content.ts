/** Pure builders of the mock's Gemini generateContent responses and SSE chunks. */
import { COMPLETION_WORD, isObject, type ChatPlan, type CompletionInput, type StreamEvent } from "./chat-completion.js";

/** The text parts of a Gemini Content. */
function collectPartTexts(content: unknown, into: string[]): void {
  if (!isObject(content) || !Array.isArray(content["parts"])) return;
  for (const p of content["parts"]) if (isObject(p) && typeof p["text"] === "string") into.push(p["text"]);
}

/** A positive integer, or null. */
function positive(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}

/**
 * What the mock needs of a generateContent (or countTokens) body: the system instruction counts as
 * one message; the texts are its text parts plus every content's. An error message when invalid.
 */
export function readGeminiInput(model: string, body: Record<string, unknown>): CompletionInput | { readonly error: string } {
  const inner = body["generateContentRequest"];
  const b = isObject(inner) ? inner : body;
  const contents = b["contents"];
  if (!Array.isArray(contents) || contents.length === 0) return { error: "* GenerateContentRequest.contents: contents is not specified" };
  const texts: string[] = [];
  const system = b["systemInstruction"] ?? b["system_instruction"];
  collectPartTexts(system, texts);
  for (const c of contents) collectPartTexts(c, texts);
  const g = b["generationConfig"] ?? b["generation_config"];
  const gen = isObject(g) ? g : {};
  return {
    model,
    texts,
    messageCount: contents.length + (isObject(system) ? 1 : 0),
    maxTokens: positive(gen["maxOutputTokens"] ?? gen["max_output_tokens"]),
    n: 1,
    includeUsage: true,
  };
}

/** The `usageMetadata` of a plan after `outputTokens` generated tokens. */
function buildUsageMetadata(plan: ChatPlan, outputTokens: number | null): Record<string, number> {
  const meta: Record<string, number> = { promptTokenCount: plan.promptTokens, totalTokenCount: plan.promptTokens + (outputTokens ?? 0) };
  if (outputTokens !== null) meta["candidatesTokenCount"] = outputTokens;
  if (plan.cachedTokens > 0) meta["cachedContentTokenCount"] = plan.cachedTokens;
  return meta;
}

/** One response object with one candidate. */
function buildChunk(plan: ChatPlan, text: string, finish: boolean, outputTokens: number | null): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { parts: [{ text }], role: "model" }, index: 0 };
  if (finish) candidate["finishReason"] = plan.finishReason === "length" ? "MAX_TOKENS" : "STOP";
  return { candidates: [candidate], usageMetadata: buildUsageMetadata(plan, outputTokens), modelVersion: plan.model, responseId: plan.id };
}

/** A non-stream GenerateContentResponse. */
export function buildGeminiResponse(plan: ChatPlan): Record<string, unknown> {
  return buildChunk(plan, COMPLETION_WORD.repeat(plan.completionTokens), true, plan.completionTokens);
}

/**
 * The chunks of a streamed answer: one per token (prompt usage only), then a final chunk with
 * empty text, the finishReason and the full usage, as `data: ...\r\n\r\n` events.
 */
export function buildGeminiStreamEvents(plan: ChatPlan): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (let t = 0; t < plan.completionTokens; t++) {
    events.push({ data: `data: ${JSON.stringify(buildChunk(plan, COMPLETION_WORD, false, null))}\r\n\r\n`, isContent: true });
  }
  events.push({ data: `data: ${JSON.stringify(buildChunk(plan, "", true, plan.completionTokens))}\r\n\r\n`, isContent: false });
  return events;
}

/** The chunks of `buildGeminiStreamEvents` as one JSON array (`streamGenerateContent` without `alt=sse`). */
export function buildGeminiStreamArray(plan: ChatPlan): Record<string, unknown>[] {
  const chunks: Record<string, unknown>[] = [];
  for (let t = 0; t < plan.completionTokens; t++) chunks.push(buildChunk(plan, COMPLETION_WORD, false, null));
  chunks.push(buildChunk(plan, "", true, plan.completionTokens));
  return chunks;
}
