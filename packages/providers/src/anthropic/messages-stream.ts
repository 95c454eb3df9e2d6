/** Anthropic Messages streams (named SSE events) to and from neutral stream events. */
import { assertNever, type ChatStreamEvent, type ChatStreamParser, type ChatStreamRenderer, type RenderContext, type StopReason } from "../chat-model.js";
import type { SseEvent } from "../sse.js";
import { isJsonObject, type ProviderUsage } from "../openai/usage.js";
import { anthropicStopToNeutral, neutralStopToAnthropic, readAnthropicUsage, renderAnthropicUsage } from "./messages-response.js";

/** Parses the JSON data of an SSE event into an object; null otherwise. */
export function readSseJson(event: SseEvent): Record<string, unknown> | null {
  if (event.data === null) return null;
  try {
    const v: unknown = JSON.parse(event.data);
    return isJsonObject(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * A parser of an upstream Anthropic stream: message_start -> start (input tokens known),
 * text/tool_use blocks and their deltas -> text / tool_call_start / tool_call_delta, thinking ->
 * reasoning, message_delta -> stop + usage (input from message_start unless repeated), message_stop
 * -> end, error -> error; ping and unknown events are ignored.
 */
export function createAnthropicStreamParser(): ChatStreamParser {
  let startUsage: ProviderUsage | null = null;
  const toolOfBlock = new Map<number, number>();
  let nextTool = 0;

  return {
    parse(event: SseEvent): ChatStreamEvent[] {
      const d = readSseJson(event);
      if (d === null) return [];
      switch (d["type"]) {
        case "message_start": {
          const m = isJsonObject(d["message"]) ? d["message"] : {};
          startUsage = readAnthropicUsage(m["usage"]);
          const id = typeof m["id"] === "string" ? m["id"] : "";
          const model = typeof m["model"] === "string" ? m["model"] : "";
          return [{ type: "start", id, model, inputTokens: startUsage?.inputTokens ?? null, ...(startUsage === null ? {} : { inputUsage: startUsage }) }];
        }
        case "content_block_start": {
          const b = isJsonObject(d["content_block"]) ? d["content_block"] : {};
          if (b["type"] === "text" && typeof b["text"] === "string" && b["text"].length > 0) return [{ type: "text", text: b["text"] }];
          if (b["type"] !== "tool_use") return [];
          const index = nextTool++;
          toolOfBlock.set(Number(d["index"]), index);
          return [{ type: "tool_call_start", index, id: String(b["id"]), name: String(b["name"]) }];
        }
        case "content_block_delta": {
          const delta = isJsonObject(d["delta"]) ? d["delta"] : {};
          if (delta["type"] === "text_delta") return [{ type: "text", text: String(delta["text"] ?? "") }];
          if (delta["type"] === "thinking_delta") return [{ type: "reasoning", text: String(delta["thinking"] ?? "") }];
          const tool = toolOfBlock.get(Number(d["index"]));
          if (delta["type"] !== "input_json_delta" || tool === undefined) return [];
          return [{ type: "tool_call_delta", index: tool, arguments: String(delta["partial_json"] ?? "") }];
        }
        case "message_delta": {
          const out: ChatStreamEvent[] = [];
          const delta = isJsonObject(d["delta"]) ? d["delta"] : {};
          if (typeof delta["stop_reason"] === "string") out.push({ type: "stop", reason: anthropicStopToNeutral(delta["stop_reason"]) });
          const u = isJsonObject(d["usage"]) ? d["usage"] : null;
          if (u !== null) {
            const repeated = typeof u["input_tokens"] === "number" ? readAnthropicUsage(u) : null;
            const base = repeated ?? startUsage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
            const outputTokens = typeof u["output_tokens"] === "number" ? u["output_tokens"] : base.outputTokens;
            out.push({ type: "usage", usage: { ...base, outputTokens } });
          }
          return out;
        }
        case "message_stop":
          return [{ type: "end" }];
        case "error": {
          const err = isJsonObject(d["error"]) ? d["error"] : {};
          return [{ type: "error", message: typeof err["message"] === "string" ? err["message"] : "upstream stream error" }];
        }
        default:
          return [];
      }
    },
  };
}

/** One named Anthropic SSE event. */
function sse(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/**
 * A renderer of neutral events as an Anthropic stream for an inbound Anthropic client:
 * message_start (+ ping), one content block per text run or tool call, and on `end` (or `finish()`
 * after a stop) message_delta with stop_reason and the full usage, then message_stop.
 */
export function createAnthropicStreamRenderer(ctx: RenderContext): ChatStreamRenderer {
  let started = false;
  let finished = false;
  let blockIndex = -1;
  let open: { readonly kind: "text" } | { readonly kind: "tool"; readonly tool: number } | null = null;
  let stopReason: StopReason | null = null;
  let usage: ProviderUsage | null = null;

  const start = (id: string, model: string, inputTokens: number | null): string => {
    started = true;
    const u = { input_tokens: inputTokens ?? 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 };
    const message = { id: id.length > 0 ? id : `msg_${ctx.requestId}`, type: "message", role: "assistant", model: ctx.model ?? model, content: [], stop_reason: null, stop_sequence: null, usage: u };
    return sse("message_start", { message }) + sse("ping", {});
  };
  const ensureStarted = (): string => (started ? "" : start("", "", null));
  const close = (): string => {
    if (open === null) return "";
    open = null;
    return sse("content_block_stop", { index: blockIndex });
  };
  const openBlock = (block: Record<string, unknown>, kind: typeof open): string => {
    const out = close();
    blockIndex++;
    open = kind;
    return out + sse("content_block_start", { index: blockIndex, content_block: block });
  };
  const closeMessage = (reason: StopReason): string => {
    finished = true;
    const u = usage === null ? { output_tokens: 0 } : renderAnthropicUsage(usage);
    const delta = { stop_reason: neutralStopToAnthropic(reason), stop_sequence: null };
    return ensureStarted() + close() + sse("message_delta", { delta, usage: u }) + sse("message_stop", {});
  };

  return {
    render(e: ChatStreamEvent): string {
      if (finished) return "";
      switch (e.type) {
        case "start":
          return started ? "" : start(e.id, e.model, e.inputTokens);
        case "text": {
          if (e.text.length === 0) return "";
          const head = ensureStarted() + (open?.kind === "text" ? "" : openBlock({ type: "text", text: "" }, { kind: "text" }));
          return head + sse("content_block_delta", { index: blockIndex, delta: { type: "text_delta", text: e.text } });
        }
        case "reasoning":
          return "";
        case "tool_call_start":
          return ensureStarted() + openBlock({ type: "tool_use", id: e.id, name: e.name, input: {} }, { kind: "tool", tool: e.index });
        case "tool_call_delta":
          if (open?.kind !== "tool" || open.tool !== e.index || e.arguments.length === 0) return "";
          return sse("content_block_delta", { index: blockIndex, delta: { type: "input_json_delta", partial_json: e.arguments } });
        case "stop":
          stopReason = e.reason;
          return ensureStarted() + close();
        case "usage":
          usage = e.usage;
          return "";
        case "error":
          finished = true;
          return sse("error", { error: { type: "api_error", message: e.message } });
        case "end":
          return closeMessage(stopReason ?? "stop");
        default:
          return assertNever(e);
      }
    },
    finish: () => (finished || stopReason === null ? "" : closeMessage(stopReason)),
  };
}
