/** Anthropic Messages responses: usage, generated text, and conversion to and from the neutral model. */
import { assertNever, parseJsonObject, type ChatPart, type ChatResponse, type ChatToolCall, type RenderContext, type StopReason } from "../chat-model.js";
import { isJsonObject, type ProviderUsage } from "../openai/usage.js";

/** A non-negative integer, else 0. */
function count(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0;
}

/**
 * Neutral usage of an Anthropic `usage` object: input = input_tokens + cache_read_input_tokens +
 * cache_creation_input_tokens, cached = cache_read_input_tokens, cache writes =
 * cache_creation_input_tokens (of them 1-hour = cache_creation.ephemeral_1h_input_tokens), output =
 * output_tokens (thinking included). Null when it has no integer `input_tokens` nor `output_tokens`.
 */
export function readAnthropicUsage(usage: unknown): ProviderUsage | null {
  if (!isJsonObject(usage)) return null;
  if (typeof usage["input_tokens"] !== "number" && typeof usage["output_tokens"] !== "number") return null;
  const cached = count(usage["cache_read_input_tokens"]);
  const writes = count(usage["cache_creation_input_tokens"]);
  const creation = usage["cache_creation"];
  const longWrites = Math.min(writes, isJsonObject(creation) ? count(creation["ephemeral_1h_input_tokens"]) : 0);
  const inputTokens = count(usage["input_tokens"]) + cached + writes;
  return {
    inputTokens,
    cachedInputTokens: cached,
    outputTokens: count(usage["output_tokens"]),
    ...(writes > 0 ? { cacheWriteInputTokens: writes } : {}),
    ...(longWrites > 0 ? { cacheWrite1hInputTokens: longWrites } : {}),
  };
}

/** `usage` of an Anthropic message body, neutral; null when absent. */
export function extractAnthropicUsage(json: unknown): ProviderUsage | null {
  return isJsonObject(json) ? readAnthropicUsage(json["usage"]) : null;
}

/** Anthropic `usage` of neutral usage (cache reads and cache writes as the upstream reported them). */
export function renderAnthropicUsage(usage: ProviderUsage | null): Record<string, number> {
  const u = usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  const writes = u.cacheWriteInputTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - u.cachedInputTokens - writes),
    cache_creation_input_tokens: writes,
    cache_read_input_tokens: u.cachedInputTokens,
    output_tokens: u.outputTokens,
  };
}

/** Neutral stop reason of an Anthropic `stop_reason` (end_turn, stop_sequence, pause_turn -> stop). */
export function anthropicStopToNeutral(reason: unknown): StopReason {
  switch (reason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** Anthropic `stop_reason` of a neutral one. */
export function neutralStopToAnthropic(reason: StopReason): string {
  switch (reason) {
    case "stop":
      return "end_turn";
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return assertNever(reason);
  }
}

/** Concatenated generated text of a message body (text, thinking, tool names and input JSON). */
export function extractAnthropicCompletionText(json: unknown): string {
  if (!isJsonObject(json) || !Array.isArray(json["content"])) return "";
  let text = "";
  for (const b of json["content"]) {
    if (!isJsonObject(b)) continue;
    if (typeof b["text"] === "string") text += b["text"];
    if (typeof b["thinking"] === "string") text += b["thinking"];
    if (b["type"] === "tool_use") text += String(b["name"]) + JSON.stringify(b["input"] ?? {});
  }
  return text;
}

/** A neutral response of an Anthropic message body; null when it is not one. */
export function anthropicResponseToNeutral(json: unknown): ChatResponse | null {
  if (!isJsonObject(json) || !Array.isArray(json["content"])) return null;
  const parts: ChatPart[] = [];
  const toolCalls: ChatToolCall[] = [];
  let reasoning = "";
  for (const b of json["content"]) {
    if (!isJsonObject(b)) continue;
    if (b["type"] === "text" && typeof b["text"] === "string") parts.push({ type: "text", text: b["text"] });
    else if (b["type"] === "thinking" && typeof b["thinking"] === "string") reasoning += b["thinking"];
    else if (b["type"] === "tool_use") toolCalls.push({ id: String(b["id"]), name: String(b["name"]), arguments: JSON.stringify(b["input"] ?? {}) });
  }
  return {
    id: typeof json["id"] === "string" ? json["id"] : "",
    model: typeof json["model"] === "string" ? json["model"] : "",
    parts,
    toolCalls,
    reasoning,
    stopReason: anthropicStopToNeutral(json["stop_reason"]),
    usage: extractAnthropicUsage(json),
  };
}

/** An Anthropic message body of a neutral response. */
export function neutralToAnthropicResponse(res: ChatResponse, ctx: RenderContext): Record<string, unknown> {
  const content: Record<string, unknown>[] = [];
  for (const p of res.parts) if (p.type === "text") content.push({ type: "text", text: p.text });
  for (const c of res.toolCalls) content.push({ type: "tool_use", id: c.id, name: c.name, input: parseJsonObject(c.arguments) ?? {} });
  return {
    id: res.id.length > 0 ? res.id : `msg_${ctx.requestId}`,
    type: "message",
    role: "assistant",
    model: ctx.model ?? res.model,
    content,
    stop_reason: neutralStopToAnthropic(res.stopReason),
    stop_sequence: null,
    usage: renderAnthropicUsage(res.usage),
  };
}
