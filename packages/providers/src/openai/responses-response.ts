/**
 * OpenAI Responses API answers rendered from the neutral model: the `response` object (JSON) and
 * its event stream (`response.created`, `response.in_progress`, `response.output_item.added`,
 * `response.content_part.added`, `response.output_text.delta` ... `response.completed` with usage
 * `{input_tokens, input_tokens_details.cached_tokens, output_tokens, total_tokens}`).
 */
import { assertNever, joinText, type ChatResponse, type ChatStreamEvent, type ChatStreamRenderer, type StopReason } from "../chat-model.js";
import type { ProviderUsage } from "./usage.js";

/** What the renderer needs beyond the neutral answer. */
export interface ResponsesRenderContext {
  /** The gateway's request id (`req_...`): response and item ids derive from it. */
  readonly requestId: string;
  /** The public model name to show. */
  readonly model: string;
  /** Epoch ms, for `created_at`. */
  readonly nowMs: number;
  /** The client's request body (its settings are echoed in the response object). */
  readonly request: Readonly<Record<string, unknown>>;
}

/** An output item of a response. */
type OutputItem = Record<string, unknown>;

const idSuffix = (ctx: ResponsesRenderContext): string => ctx.requestId.replace(/^req_/, "");

/** Responses `usage` of neutral usage (zeros when none was reported). */
export function renderResponsesUsage(usage: ProviderUsage | null): Record<string, unknown> {
  const u = usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** `status` and `incomplete_details` of a stop reason. */
function statusOf(stop: StopReason | null): { status: "completed" | "incomplete"; incomplete_details: { reason: string } | null } {
  if (stop === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (stop === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** The `response` object with the request's settings echoed. */
function responseObject(
  ctx: ResponsesRenderContext,
  state: { status: string; incomplete_details: { reason: string } | null; output: OutputItem[]; usage: Record<string, unknown> | null },
): Record<string, unknown> {
  const r = ctx.request;
  const pick = (field: string, fallback: unknown): unknown => (r[field] === undefined ? fallback : r[field]);
  return {
    id: `resp_${idSuffix(ctx)}`,
    object: "response",
    created_at: Math.floor(ctx.nowMs / 1000),
    status: state.status,
    error: null,
    incomplete_details: state.incomplete_details,
    instructions: pick("instructions", null),
    max_output_tokens: pick("max_output_tokens", null),
    model: ctx.model,
    output: state.output,
    parallel_tool_calls: pick("parallel_tool_calls", true),
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: pick("temperature", 1),
    text: pick("text", { format: { type: "text" } }),
    tool_choice: pick("tool_choice", "auto"),
    tools: pick("tools", []),
    top_p: pick("top_p", 1),
    truncation: "disabled",
    usage: state.usage,
    user: pick("user", null),
    metadata: pick("metadata", {}),
  };
}

const messageItem = (id: string, text: string, status: string): OutputItem => ({
  type: "message",
  id,
  status,
  role: "assistant",
  content: status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [] }],
});

const functionCallItem = (id: string, callId: string, name: string, args: string, status: string): OutputItem => ({
  type: "function_call",
  id,
  call_id: callId,
  name,
  arguments: args,
  status,
});

/** The Responses API `response` object of a neutral (non-stream) answer. */
export function neutralToResponsesResponse(res: ChatResponse, ctx: ResponsesRenderContext): Record<string, unknown> {
  const suffix = idSuffix(ctx);
  const output: OutputItem[] = [];
  const text = joinText(res.parts);
  if (text.length > 0 || res.toolCalls.length === 0) output.push(messageItem(`msg_${suffix}`, text, "completed"));
  res.toolCalls.forEach((c, i) => output.push(functionCallItem(`fc_${suffix}_${i}`, c.id, c.name, c.arguments, "completed")));
  return responseObject(ctx, { ...statusOf(res.stopReason), output, usage: renderResponsesUsage(res.usage) });
}

/**
 * A renderer of neutral stream events as the Responses event stream. Text opens a message item
 * (and its output_text part); each tool call is a `function_call` item with argument deltas; the
 * stop reason and usage are held until the upstream ends (`end`, or `finish()` after a stop), when
 * every open item is closed and `response.completed` (or `response.incomplete`) carries the usage.
 * An upstream error becomes an `error` event.
 */
export function createResponsesStreamRenderer(ctx: ResponsesRenderContext): ChatStreamRenderer {
  const suffix = idSuffix(ctx);
  let sequence = 0;
  let started = false;
  let closed = false;
  let stop: StopReason | null = null;
  let usage: ProviderUsage | null = null;
  const output: OutputItem[] = [];
  let message: { index: number; id: string; text: string } | null = null;
  let messages = 0;
  const calls = new Map<number, { index: number; id: string; callId: string; name: string; args: string }>();

  const event = (type: string, data: Record<string, unknown>): string => {
    const payload = { type, sequence_number: sequence++, ...data };
    return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
  };
  const snapshot = (status: string, incomplete: { reason: string } | null, withUsage: boolean): Record<string, unknown> =>
    responseObject(ctx, { status, incomplete_details: incomplete, output: output.filter((o) => o !== undefined), usage: withUsage ? renderResponsesUsage(usage) : null });
  const start = (): string => {
    if (started) return "";
    started = true;
    return event("response.created", { response: snapshot("in_progress", null, false) }) + event("response.in_progress", { response: snapshot("in_progress", null, false) });
  };
  const closeMessage = (): string => {
    if (message === null) return "";
    const m = message;
    message = null;
    const item = messageItem(m.id, m.text, "completed");
    output[m.index] = item;
    const part = { type: "output_text", text: m.text, annotations: [] };
    return (
      event("response.output_text.done", { item_id: m.id, output_index: m.index, content_index: 0, text: m.text }) +
      event("response.content_part.done", { item_id: m.id, output_index: m.index, content_index: 0, part }) +
      event("response.output_item.done", { output_index: m.index, item })
    );
  };
  const closeCalls = (): string => {
    let out = "";
    for (const c of [...calls.values()].sort((a, b) => a.index - b.index)) {
      const item = functionCallItem(c.id, c.callId, c.name, c.args, "completed");
      output[c.index] = item;
      out += event("response.function_call_arguments.done", { item_id: c.id, output_index: c.index, arguments: c.args });
      out += event("response.output_item.done", { output_index: c.index, item });
    }
    calls.clear();
    return out;
  };
  const close = (): string => {
    if (closed) return "";
    closed = true;
    let out = start();
    if (output.length === 0 && message === null) {
      // A response always has a message item, even an empty one.
      message = { index: output.length, id: `msg_${suffix}`, text: "" };
      output.push(messageItem(message.id, "", "in_progress"));
      out += event("response.output_item.added", { output_index: message.index, item: messageItem(message.id, "", "in_progress") });
      out += event("response.content_part.added", { item_id: message.id, output_index: message.index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    }
    out += closeMessage() + closeCalls();
    const { status, incomplete_details } = statusOf(stop);
    const type = status === "completed" ? "response.completed" : "response.incomplete";
    return out + event(type, { response: snapshot(status, incomplete_details, true) });
  };

  return {
    render(e: ChatStreamEvent): string {
      if (closed) return "";
      switch (e.type) {
        case "start":
          return start();
        case "text": {
          let out = start();
          if (message === null) {
            message = { index: output.length, id: messages === 0 ? `msg_${suffix}` : `msg_${suffix}_${messages}`, text: "" };
            messages += 1;
            const item = messageItem(message.id, "", "in_progress");
            output.push(item);
            out += event("response.output_item.added", { output_index: message.index, item });
            out += event("response.content_part.added", { item_id: message.id, output_index: message.index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
          }
          message.text += e.text;
          return out + event("response.output_text.delta", { item_id: message.id, output_index: message.index, content_index: 0, delta: e.text });
        }
        case "reasoning":
          return start();
        case "tool_call_start": {
          let out = start() + closeMessage();
          const call = { index: output.length, id: `fc_${suffix}_${e.index}`, callId: e.id, name: e.name, args: "" };
          calls.set(e.index, call);
          const item = functionCallItem(call.id, call.callId, call.name, "", "in_progress");
          output.push(item);
          out += event("response.output_item.added", { output_index: call.index, item });
          return out;
        }
        case "tool_call_delta": {
          const call = calls.get(e.index);
          if (call === undefined) return "";
          call.args += e.arguments;
          return start() + event("response.function_call_arguments.delta", { item_id: call.id, output_index: call.index, delta: e.arguments });
        }
        case "stop":
          stop = e.reason;
          return start();
        case "usage":
          usage = e.usage;
          return start();
        case "error":
          return start() + event("error", { code: "upstream_error", message: e.message, param: null });
        case "end":
          return close();
        default:
          return assertNever(e);
      }
    },
    finish(): string {
      return stop === null ? "" : close();
    },
  };
}

/** The Responses stream's `error` event for a gateway failure after the answer started. */
export function responsesErrorEvent(code: string, message: string): string {
  return `event: error\ndata: ${JSON.stringify({ type: "error", code, message, param: null })}\n\n`;
}
