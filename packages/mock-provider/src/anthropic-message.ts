/** Pure builders of the mock's Anthropic Messages responses and named SSE events. */
import { COMPLETION_WORD, isObject, readLimit, type ChatPlan, type CompletionInput, type StreamEvent } from "./chat-completion.js";

/** The texts of Anthropic content: a string, text blocks, and the text inside tool_result blocks. */
function collectBlockTexts(content: unknown, into: string[]): void {
  if (typeof content === "string") {
    into.push(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const b of content) {
    if (!isObject(b)) continue;
    if (typeof b["text"] === "string") into.push(b["text"]);
    if (b["type"] === "tool_result") collectBlockTexts(b["content"], into);
  }
}

/**
 * What the mock needs of a Messages (or count_tokens) body: the system prompt counts as one
 * message; the texts are its text plus every message's text. Null with a message when invalid.
 */
export function readAnthropicInput(body: Record<string, unknown>, requireMaxTokens: boolean): CompletionInput | { readonly error: string } {
  const messages = body["messages"];
  if (!Array.isArray(messages) || messages.length === 0) return { error: "messages: Field required" };
  const maxTokens = readLimit(body, "max_tokens");
  if (requireMaxTokens && maxTokens === null) return { error: "max_tokens: Field required" };
  const texts: string[] = [];
  const system = body["system"];
  collectBlockTexts(system, texts);
  for (const m of messages) if (isObject(m)) collectBlockTexts(m["content"], texts);
  const hasSystem = system !== undefined && system !== null;
  return {
    model: typeof body["model"] === "string" ? body["model"] : "mock-model",
    texts,
    messageCount: messages.length + (hasSystem ? 1 : 0),
    maxTokens,
    n: 1,
    includeUsage: true,
  };
}

/** The Anthropic `usage` of a plan (cached tokens reported as cache reads, cache writes split by lifetime). */
function buildAnthropicUsage(plan: ChatPlan, outputTokens: number): Record<string, unknown> {
  const writes = plan.cacheWriteTokens + plan.cacheWrite1hTokens;
  return {
    input_tokens: plan.promptTokens - plan.cachedTokens - writes,
    cache_creation_input_tokens: writes,
    cache_read_input_tokens: plan.cachedTokens,
    cache_creation: { ephemeral_5m_input_tokens: plan.cacheWriteTokens, ephemeral_1h_input_tokens: plan.cacheWrite1hTokens },
    output_tokens: outputTokens,
  };
}

/** The `stop_reason` of a plan. */
function stopReason(plan: ChatPlan): string {
  return plan.finishReason === "length" ? "max_tokens" : "end_turn";
}

/** A non-stream Anthropic `message` body. */
export function buildAnthropicMessage(plan: ChatPlan): Record<string, unknown> {
  return {
    id: plan.id,
    type: "message",
    role: "assistant",
    model: plan.model,
    content: [{ type: "text", text: COMPLETION_WORD.repeat(plan.completionTokens) }],
    stop_reason: stopReason(plan),
    stop_sequence: null,
    usage: buildAnthropicUsage(plan, plan.completionTokens + plan.reasoningTokens),
  };
}

/** One named Anthropic SSE event. */
function named(type: string, data: Record<string, unknown>, isContent = false): StreamEvent {
  return { data: `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`, isContent };
}

/**
 * The events of a streamed message, in Anthropic's order: message_start (input usage), ping,
 * content_block_start, one text_delta per token, content_block_stop, message_delta (stop reason,
 * output usage), message_stop.
 */
export function buildAnthropicStreamEvents(plan: ChatPlan): StreamEvent[] {
  const message = { id: plan.id, type: "message", role: "assistant", model: plan.model, content: [], stop_reason: null, stop_sequence: null, usage: buildAnthropicUsage(plan, 1) };
  const events = [named("message_start", { message }), named("ping", {}), named("content_block_start", { index: 0, content_block: { type: "text", text: "" } })];
  for (let t = 0; t < plan.completionTokens; t++) {
    events.push(named("content_block_delta", { index: 0, delta: { type: "text_delta", text: COMPLETION_WORD } }, true));
  }
  events.push(named("content_block_stop", { index: 0 }));
  events.push(named("message_delta", { delta: { stop_reason: stopReason(plan), stop_sequence: null }, usage: { output_tokens: plan.completionTokens + plan.reasoningTokens } }));
  events.push(named("message_stop", {}));
  return events;
}
