/** OpenAI chat completions (bodies and stream chunks) to and from the neutral model. */
import { assertNever, type ChatPart, type ChatResponse, type ChatStreamEvent, type ChatStreamParser, type ChatStreamRenderer, type RenderContext, type StopReason } from "../chat-model.js";
import type { SseEvent } from "../sse.js";
import { extractOpenAIUsage, isJsonObject, type ProviderUsage } from "./usage.js";

/** Neutral stop reason of an OpenAI `finish_reason` (function_call -> tool_calls). */
export function openAIFinishToNeutral(reason: unknown): StopReason {
  switch (reason) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "stop";
  }
}

/** OpenAI `usage` of neutral usage. */
export function renderOpenAIUsage(u: ProviderUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
  };
}

/** A neutral response of the first choice of an OpenAI chat completion; null when it is not one. */
export function openAIResponseToNeutral(json: unknown): ChatResponse | null {
  if (!isJsonObject(json) || !Array.isArray(json["choices"])) return null;
  const choice: unknown = json["choices"][0];
  const message = isJsonObject(choice) && isJsonObject(choice["message"]) ? choice["message"] : {};
  const parts: ChatPart[] = [];
  const content = message["content"] ?? message["refusal"];
  if (typeof content === "string" && content.length > 0) parts.push({ type: "text", text: content });
  const toolCalls = (Array.isArray(message["tool_calls"]) ? message["tool_calls"] : []).flatMap((c) => {
    const fn = isJsonObject(c) ? c["function"] : null;
    return isJsonObject(c) && isJsonObject(fn) ? [{ id: String(c["id"]), name: String(fn["name"]), arguments: String(fn["arguments"] ?? "") }] : [];
  });
  return {
    id: typeof json["id"] === "string" ? json["id"] : "",
    model: typeof json["model"] === "string" ? json["model"] : "",
    parts,
    toolCalls,
    reasoning: typeof message["reasoning_content"] === "string" ? message["reasoning_content"] : "",
    stopReason: openAIFinishToNeutral(isJsonObject(choice) ? choice["finish_reason"] : null),
    usage: extractOpenAIUsage(json),
  };
}

/** An OpenAI `chat.completion` body of a neutral response (usage zeros when none was reported). */
export function neutralToOpenAIResponse(res: ChatResponse, ctx: RenderContext): Record<string, unknown> {
  const text = res.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
  const message: Record<string, unknown> = { role: "assistant", content: text.length > 0 || res.toolCalls.length === 0 ? text : null, refusal: null };
  if (res.toolCalls.length > 0) message["tool_calls"] = res.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  return {
    id: res.id.length > 0 ? res.id : `chatcmpl-${ctx.requestId}`,
    object: "chat.completion",
    created: Math.floor(ctx.nowMs / 1000),
    model: ctx.model ?? res.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: res.stopReason }],
    usage: renderOpenAIUsage(res.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }),
  };
}

/**
 * A parser of an upstream OpenAI stream (first choice only): the first chunk -> start, content ->
 * text, reasoning_content -> reasoning, tool call deltas -> tool_call_start (when an id arrives) and
 * tool_call_delta, finish_reason -> stop, a usage object -> usage, `[DONE]` -> end.
 */
export function createOpenAIStreamParser(): ChatStreamParser {
  let started = false;
  return {
    parse(event: SseEvent): ChatStreamEvent[] {
      if (event.data === null) return [];
      if (event.data.trim() === "[DONE]") return [{ type: "end" }];
      let d: unknown;
      try {
        d = JSON.parse(event.data);
      } catch {
        return [];
      }
      if (!isJsonObject(d)) return [];
      const out: ChatStreamEvent[] = [];
      if (isJsonObject(d["error"])) return [{ type: "error", message: String(d["error"]["message"] ?? "upstream stream error") }];
      if (!started) {
        started = true;
        out.push({ type: "start", id: String(d["id"] ?? ""), model: String(d["model"] ?? ""), inputTokens: null });
      }
      const choice: unknown = Array.isArray(d["choices"]) ? d["choices"].find((c) => isJsonObject(c) && (c["index"] ?? 0) === 0) : undefined;
      if (isJsonObject(choice)) {
        const delta = isJsonObject(choice["delta"]) ? choice["delta"] : {};
        if (typeof delta["reasoning_content"] === "string" && delta["reasoning_content"].length > 0) out.push({ type: "reasoning", text: delta["reasoning_content"] });
        const text = delta["content"] ?? delta["refusal"];
        if (typeof text === "string" && text.length > 0) out.push({ type: "text", text });
        for (const c of Array.isArray(delta["tool_calls"]) ? delta["tool_calls"] : []) {
          if (!isJsonObject(c)) continue;
          const index = typeof c["index"] === "number" ? c["index"] : 0;
          const fn = isJsonObject(c["function"]) ? c["function"] : {};
          if (typeof c["id"] === "string") out.push({ type: "tool_call_start", index, id: c["id"], name: String(fn["name"] ?? "") });
          if (typeof fn["arguments"] === "string" && fn["arguments"].length > 0) out.push({ type: "tool_call_delta", index, arguments: fn["arguments"] });
        }
        if (typeof choice["finish_reason"] === "string") out.push({ type: "stop", reason: openAIFinishToNeutral(choice["finish_reason"]) });
      }
      const usage = extractOpenAIUsage(d);
      if (usage !== null) out.push({ type: "usage", usage });
      return out;
    },
  };
}

/**
 * A renderer of neutral events as an OpenAI chunk stream for an inbound OpenAI client: a role
 * chunk, content and tool call chunks, a finish chunk, the usage chunk (`choices: []`) only when the
 * client asked for it (and `"usage": null` on the other chunks then, as OpenAI does), `[DONE]`.
 */
export function createOpenAIStreamRenderer(ctx: RenderContext): ChatStreamRenderer {
  let id = `chatcmpl-${ctx.requestId}`;
  let model = ctx.model ?? "";
  let started = false;
  let stopped = false;
  let finished = false;
  const created = Math.floor(ctx.nowMs / 1000);

  const chunk = (choices: unknown[], usage?: Record<string, unknown>): string => {
    const c: Record<string, unknown> = { id, object: "chat.completion.chunk", created, model, choices };
    if (usage !== undefined) c["usage"] = usage;
    else if (ctx.includeUsage) c["usage"] = null;
    return `data: ${JSON.stringify(c)}\n\n`;
  };
  const delta = (d: Record<string, unknown>, finish: StopReason | null = null): string => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
  const ensureStarted = (): string => {
    if (started) return "";
    started = true;
    return delta({ role: "assistant", content: "", refusal: null });
  };
  const done = (): string => {
    finished = true;
    return "data: [DONE]\n\n";
  };

  return {
    render(e: ChatStreamEvent): string {
      if (finished) return "";
      switch (e.type) {
        case "start":
          if (e.id.length > 0) id = e.id;
          if (ctx.model === null) model = e.model;
          return ensureStarted();
        case "text":
          return e.text.length === 0 ? "" : ensureStarted() + delta({ content: e.text });
        case "reasoning":
          return "";
        case "tool_call_start":
          return ensureStarted() + delta({ tool_calls: [{ index: e.index, id: e.id, type: "function", function: { name: e.name, arguments: "" } }] });
        case "tool_call_delta":
          return e.arguments.length === 0 ? "" : delta({ tool_calls: [{ index: e.index, function: { arguments: e.arguments } }] });
        case "stop":
          stopped = true;
          return ensureStarted() + delta({}, e.reason);
        case "usage":
          return ctx.includeUsage ? chunk([], renderOpenAIUsage(e.usage)) : "";
        case "error":
          finished = true;
          return `data: ${JSON.stringify({ error: { message: e.message, type: "api_error", param: null, code: "upstream_error" } })}\n\n`;
        case "end":
          return (stopped ? "" : ensureStarted() + delta({}, "stop")) + done();
        default:
          return assertNever(e);
      }
    },
    finish: () => (finished || !stopped ? "" : done()),
  };
}
