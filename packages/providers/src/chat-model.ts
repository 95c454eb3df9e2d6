/**
 * The protocol-neutral chat model: every inbound protocol parses into it and every upstream
 * protocol renders from it, so translation is N parsers + N renderers instead of N² transforms.
 */
import type { SseEvent } from "./sse.js";
import type { ProviderUsage } from "./openai/usage.js";

/** The three chat wire protocols the gateway speaks. */
export type ChatProtocol = "openai" | "anthropic" | "google";

/** Every protocol, for table-driven code and tests. */
export const CHAT_PROTOCOLS: readonly ChatProtocol[] = ["openai", "anthropic", "google"];

/** Where an image comes from: a URL (http(s) or a provider file URI) or inline base64 bytes. */
export type ChatImageSource = { readonly kind: "url"; readonly url: string; readonly mediaType: string | null } | { readonly kind: "base64"; readonly mediaType: string; readonly data: string };

/** One content part of a message. */
export type ChatPart = { readonly type: "text"; readonly text: string } | { readonly type: "image"; readonly source: ChatImageSource };

/** A tool call the model made; `arguments` is JSON text (possibly partial while streaming). */
export interface ChatToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/** One turn of the conversation (system prompts live in `ChatRequest.system`). */
export type ChatMessage =
  | { readonly role: "user"; readonly parts: readonly ChatPart[] }
  | { readonly role: "assistant"; readonly parts: readonly ChatPart[]; readonly toolCalls: readonly ChatToolCall[] }
  | {
      readonly role: "tool";
      readonly toolCallId: string;
      /** The called tool's name when the protocol carries it (Google needs it). */
      readonly name: string | null;
      readonly parts: readonly ChatPart[];
      readonly isError: boolean;
    };

/** A function tool the model may call; `parameters` is a JSON schema object. */
export interface ChatTool {
  readonly name: string;
  readonly description: string | null;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** How the model may use tools. */
export type ChatToolChoice = { readonly type: "auto" } | { readonly type: "none" } | { readonly type: "required" } | { readonly type: "tool"; readonly name: string };

/** A protocol-neutral chat request. */
export interface ChatRequest {
  readonly model: string;
  /** System prompt text blocks, in order (OpenAI system/developer messages are hoisted here). */
  readonly system: readonly string[];
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ChatTool[];
  readonly toolChoice: ChatToolChoice | null;
  readonly stopSequences: readonly string[];
  readonly temperature: number | null;
  readonly topP: number | null;
  /** The output limit; null when the client sent none (Anthropic always sends one). */
  readonly maxOutputTokens: number | null;
  /** The client asked for JSON output (OpenAI `response_format`, Google `responseMimeType`). */
  readonly jsonOutput: boolean;
  readonly stream: boolean;
}

/** Why generation stopped. */
export type StopReason = "stop" | "length" | "tool_calls" | "content_filter";

/** A protocol-neutral (non-stream) chat response. */
export interface ChatResponse {
  readonly id: string;
  readonly model: string;
  /** Generated content parts (text). */
  readonly parts: readonly ChatPart[];
  readonly toolCalls: readonly ChatToolCall[];
  /** Reasoning/thinking text, counted as output, not rendered to other protocols. */
  readonly reasoning: string;
  readonly stopReason: StopReason;
  /** Null when the upstream reported none. */
  readonly usage: ProviderUsage | null;
}

/** One protocol-neutral stream event. `index` of tool events is the call's ordinal (0, 1, ...). */
export type ChatStreamEvent =
  | {
      readonly type: "start";
      readonly id: string;
      readonly model: string;
      readonly inputTokens: number | null;
      /** The provider's split of the input (cache reads and writes) as of the start, when it gave one (Anthropic `message_start`). */
      readonly inputUsage?: ProviderUsage;
    }
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "reasoning"; readonly text: string }
  | { readonly type: "tool_call_start"; readonly index: number; readonly id: string; readonly name: string }
  | { readonly type: "tool_call_delta"; readonly index: number; readonly arguments: string }
  | { readonly type: "stop"; readonly reason: StopReason }
  /** The final usage of the whole response (latest wins). */
  | { readonly type: "usage"; readonly usage: ProviderUsage }
  /** The upstream reported an error inside the stream. */
  | { readonly type: "error"; readonly message: string }
  /** The upstream ended its stream cleanly (OpenAI `[DONE]`, Anthropic `message_stop`). */
  | { readonly type: "end" };

/** Turns one upstream SSE event into neutral events; one parser per upstream response. */
export interface ChatStreamParser {
  parse(event: SseEvent): ChatStreamEvent[];
}

/** Turns neutral events into one protocol's SSE text; one renderer per client response. */
export interface ChatStreamRenderer {
  render(event: ChatStreamEvent): string;
  /** Closing events still owed when the upstream ended after a stop without an `end` (else ""). */
  finish(): string;
}

/** What a renderer needs beyond the events (identity and clock come from the caller). */
export interface RenderContext {
  /** Fallback response id when the upstream gave none (`req_...`). */
  readonly requestId: string;
  /** The model name to show the client; null = the upstream's. */
  readonly model: string | null;
  /** Epoch milliseconds, for OpenAI's `created`. */
  readonly nowMs: number;
  /** OpenAI inbound only: the client asked for `stream_options.include_usage`. */
  readonly includeUsage: boolean;
}

/** Throws for a value that the type system says cannot exist (exhaustive switches). */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** The text of the parts, joined without separator (images skipped). */
export function joinText(parts: readonly ChatPart[]): string {
  let text = "";
  for (const p of parts) if (p.type === "text") text += p.text;
  return text;
}

/** Parses JSON text into an object; `{}` for empty text, null when it is not a JSON object. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  if (text.trim().length === 0) return {};
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Splits a `data:` URL into media type and base64 data; null for any other URL. */
export function parseDataUrl(url: string): { readonly mediaType: string; readonly data: string } | null {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m === null || m[1] === undefined || m[2] === undefined ? null : { mediaType: m[1], data: m[2] };
}
