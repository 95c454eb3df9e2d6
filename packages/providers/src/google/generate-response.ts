/** Gemini GenerateContentResponse: usage, generated text, and conversion to and from the neutral model. */
import { assertNever, parseJsonObject, type ChatPart, type ChatResponse, type ChatToolCall, type RenderContext, type StopReason } from "../chat-model.js";
import { isJsonObject, type ProviderUsage } from "../openai/usage.js";
import { pickField } from "./generate-request.js";

/** A non-negative integer, else 0. */
function count(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0;
}

/**
 * Neutral usage of a Gemini `usageMetadata`: input = promptTokenCount + toolUsePromptTokenCount,
 * cached = cachedContentTokenCount, output = candidatesTokenCount + thoughtsTokenCount (thinking is
 * billed as output). Null when it has neither a prompt nor a candidates count.
 */
export function readGoogleUsage(meta: unknown): ProviderUsage | null {
  if (!isJsonObject(meta)) return null;
  const prompt = pickField(meta, "promptTokenCount");
  const candidates = pickField(meta, "candidatesTokenCount");
  if (typeof prompt !== "number" && typeof candidates !== "number") return null;
  const inputTokens = count(prompt) + count(pickField(meta, "toolUsePromptTokenCount"));
  const cached = Math.min(count(pickField(meta, "cachedContentTokenCount")), inputTokens);
  return { inputTokens, cachedInputTokens: cached, outputTokens: count(candidates) + count(pickField(meta, "thoughtsTokenCount")) };
}

/** `usageMetadata` of a Gemini response body, neutral; null when absent. */
export function extractGoogleUsage(json: unknown): ProviderUsage | null {
  return isJsonObject(json) ? readGoogleUsage(pickField(json, "usageMetadata")) : null;
}

/** Gemini `usageMetadata` of neutral usage. */
export function renderGoogleUsage(usage: ProviderUsage | null): Record<string, number> {
  const u = usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  const meta: Record<string, number> = { promptTokenCount: u.inputTokens, candidatesTokenCount: u.outputTokens, totalTokenCount: u.inputTokens + u.outputTokens };
  if (u.cachedInputTokens > 0) meta["cachedContentTokenCount"] = u.cachedInputTokens;
  return meta;
}

/** Neutral stop reason of a Gemini `finishReason` (STOP after a function call = tool_calls). */
export function googleFinishToNeutral(reason: unknown, sawToolCall: boolean): StopReason {
  switch (reason) {
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
      return "content_filter";
    default:
      return sawToolCall ? "tool_calls" : "stop";
  }
}

/** Gemini `finishReason` of a neutral stop reason (tool calls end with STOP, as Gemini does). */
export function neutralStopToGoogle(reason: StopReason): string {
  switch (reason) {
    case "stop":
    case "tool_calls":
      return "STOP";
    case "length":
      return "MAX_TOKENS";
    case "content_filter":
      return "SAFETY";
    default:
      return assertNever(reason);
  }
}

/** The parts of the first candidate (Gemini answers one candidate unless asked for more). */
export function firstCandidate(json: unknown): { parts: Record<string, unknown>[]; finishReason: unknown } | null {
  if (!isJsonObject(json) || !Array.isArray(json["candidates"])) return null;
  const c: unknown = json["candidates"][0];
  if (!isJsonObject(c)) return null;
  const content = c["content"];
  const parts = isJsonObject(content) && Array.isArray(content["parts"]) ? content["parts"].filter(isJsonObject) : [];
  return { parts, finishReason: pickField(c, "finishReason") };
}

/** Concatenated generated text of every candidate (text, thoughts, function names and args). */
export function extractGoogleCompletionText(json: unknown): string {
  if (!isJsonObject(json) || !Array.isArray(json["candidates"])) return "";
  let text = "";
  for (const c of json["candidates"]) {
    const content = isJsonObject(c) ? c["content"] : null;
    const parts = isJsonObject(content) && Array.isArray(content["parts"]) ? content["parts"] : [];
    for (const p of parts) {
      if (!isJsonObject(p)) continue;
      if (typeof p["text"] === "string") text += p["text"];
      const fc = pickField(p, "functionCall");
      if (isJsonObject(fc)) text += String(fc["name"]) + JSON.stringify(fc["args"] ?? {});
    }
  }
  return text;
}

/** A neutral response of a Gemini response body; null when it has no candidate. */
export function googleResponseToNeutral(json: unknown): ChatResponse | null {
  const cand = firstCandidate(json);
  if (cand === null || !isJsonObject(json)) return null;
  const parts: ChatPart[] = [];
  const toolCalls: ChatToolCall[] = [];
  let reasoning = "";
  for (const p of cand.parts) {
    const fc = pickField(p, "functionCall");
    if (isJsonObject(fc)) {
      const id = typeof fc["id"] === "string" ? fc["id"] : `call_${toolCalls.length}`;
      toolCalls.push({ id, name: String(fc["name"]), arguments: JSON.stringify(fc["args"] ?? {}) });
    } else if (typeof p["text"] === "string") {
      if (p["thought"] === true) reasoning += p["text"];
      else parts.push({ type: "text", text: p["text"] });
    }
  }
  const id = pickField(json, "responseId");
  const model = pickField(json, "modelVersion");
  return {
    id: typeof id === "string" ? id : "",
    model: typeof model === "string" ? model : "",
    parts,
    toolCalls,
    reasoning,
    stopReason: googleFinishToNeutral(cand.finishReason, toolCalls.length > 0),
    usage: extractGoogleUsage(json),
  };
}

/** Gemini parts of neutral text parts and tool calls. */
export function renderGoogleParts(parts: readonly ChatPart[], toolCalls: readonly ChatToolCall[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const p of parts) if (p.type === "text") out.push({ text: p.text });
  for (const c of toolCalls) out.push({ functionCall: { name: c.name, args: parseJsonObject(c.arguments) ?? {} } });
  return out;
}

/** A Gemini GenerateContentResponse of a neutral response. */
export function neutralToGoogleResponse(res: ChatResponse, ctx: RenderContext): Record<string, unknown> {
  const parts = renderGoogleParts(res.parts, res.toolCalls);
  return {
    candidates: [{ content: { role: "model", parts: parts.length > 0 ? parts : [{ text: "" }] }, finishReason: neutralStopToGoogle(res.stopReason), index: 0 }],
    usageMetadata: renderGoogleUsage(res.usage),
    modelVersion: ctx.model ?? res.model,
    responseId: res.id.length > 0 ? res.id : ctx.requestId,
  };
}
