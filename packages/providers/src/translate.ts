/**
 * Translation between the chat protocols (OpenAI ⇄ Anthropic ⇄ Google) through the neutral model:
 * requests, non-stream responses, and a stateful stream translator that turns upstream SSE bytes
 * into the inbound protocol's SSE bytes while capturing usage and the generated text. Same-protocol
 * calls stay pass-through (the body and stream bytes the client sent or the upstream wrote).
 */
import { assertNever, type ChatProtocol, type ChatRequest, type ChatStreamEvent, type ChatStreamRenderer, type RenderContext, type StopReason } from "./chat-model.js";
import { buildAnthropicUpstreamBody } from "./anthropic/upstream-request.js";
import { buildGoogleUpstreamBody } from "./google/upstream-request.js";
import type { ParseError } from "./openai/chat-request.js";
import { createOpenAIStreamTap } from "./openai/stream-tap.js";
import { buildOpenAIUpstreamChatBody } from "./openai/upstream-request.js";
import type { ProviderUsage } from "./openai/usage.js";
import {
  createChatStreamParser,
  createChatStreamRenderer,
  inboundToNeutral,
  parseChatResponse,
  parseInboundChatRequest,
  renderChatResponse,
  renderNeutralRequest,
  type InboundChatRequest,
  type InboundRequestContext,
  type NeutralRequestRenderOptions,
} from "./protocol.js";
import { createSseSplitter, type SseEvent } from "./sse.js";

/** Options of `translateRequest`. */
export interface TranslateRequestOptions extends InboundRequestContext, NeutralRequestRenderOptions {
  /** The model id sent upstream (default: the inbound model). */
  readonly upstreamModel?: string;
  /** The output limit to enforce (lowers the client's, or sets one); null/absent = the client's. */
  readonly maxOutputTokens?: number | null;
}

/** A request ready for the upstream. */
export interface TranslatedRequest {
  readonly inbound: InboundChatRequest;
  /** The neutral form; null when same-protocol pass-through holds what the neutral model cannot. */
  readonly neutral: ChatRequest | null;
  /** The upstream body (Google: model and streaming are in the URL, see `googleGenerateUrl`). */
  readonly body: Record<string, unknown>;
  readonly upstreamModel: string;
  readonly stream: boolean;
}

/** The same-protocol pass-through body, with model and output limit applied. */
function buildPassThroughBody(inbound: InboundChatRequest, upstreamModel: string, max: number | null): Record<string, unknown> {
  switch (inbound.protocol) {
    case "openai":
      return buildOpenAIUpstreamChatBody(inbound.parsed, { upstreamModel, maxOutputTokens: max, forceStreamUsage: true });
    case "anthropic":
      return buildAnthropicUpstreamBody(inbound.parsed, { upstreamModel, maxOutputTokens: max });
    case "google":
      return buildGoogleUpstreamBody(inbound.parsed, max);
    default:
      return assertNever(inbound);
  }
}

/**
 * Validates `body` as an inbound `from` request and builds the `to` upstream body. Same protocol:
 * the client's body with the model replaced and the output limit lowered (OpenAI streams ask for
 * usage). Across protocols: through the neutral model, with `maxOutputTokens` applied; features
 * the other protocol cannot express are a ParseError (answer 400 `invalid_request`).
 */
export function translateRequest(from: ChatProtocol, to: ChatProtocol, body: unknown, opts: TranslateRequestOptions = {}): TranslatedRequest | ParseError {
  const inbound = parseInboundChatRequest(from, body, opts);
  if ("error" in inbound) return inbound;
  const upstreamModel = opts.upstreamModel ?? inbound.parsed.model;
  const max = opts.maxOutputTokens ?? null;
  const converted = inboundToNeutral(inbound);
  const stream = inbound.parsed.stream;
  if (from === to) {
    const neutral = "error" in converted ? null : converted;
    return { inbound, neutral, body: buildPassThroughBody(inbound, upstreamModel, max), upstreamModel, stream };
  }
  if ("error" in converted) return converted;
  const limit = max === null ? converted.maxOutputTokens : Math.min(max, converted.maxOutputTokens ?? max);
  const neutral: ChatRequest = { ...converted, model: upstreamModel, maxOutputTokens: limit };
  return { inbound, neutral, body: renderNeutralRequest(to, neutral, opts), upstreamModel, stream };
}

/**
 * Translates a non-stream `from` response body into the `to` shape; the body itself when the
 * protocols are the same; null when `json` is not a `from` response.
 */
export function translateResponse(from: ChatProtocol, to: ChatProtocol, json: unknown, ctx: RenderContext): Record<string, unknown> | null {
  const neutral = parseChatResponse(from, json);
  if (neutral === null) return null;
  if (from === to) return json as Record<string, unknown>;
  return renderChatResponse(to, neutral, ctx);
}

/** Options of `createStreamTranslator`. */
export interface StreamTranslatorOptions {
  /** The upstream's protocol (what `push` receives). */
  readonly from: ChatProtocol;
  /** The client's protocol (what `push` returns). */
  readonly to: ChatProtocol;
  readonly ctx: RenderContext;
}

/** A stream translator; one per upstream response. */
export interface StreamTranslator {
  /** Feeds upstream bytes; returns the bytes to send to the client now (complete events only). */
  push(chunk: Uint8Array): Uint8Array;
  /** Ends the stream: flushes a trailing event and closes the client's stream if the upstream finished. */
  end(): Uint8Array;
  /** The final usage the upstream reported, null when none arrived (cut stream: count the text). */
  usage(): ProviderUsage | null;
  /**
   * The prompt's tokens as the upstream reported them before its final usage (Anthropic
   * `message_start`, Gemini's first `usageMetadata`) or in it; null when it reported none. A cut
   * stream bills this rather than the tokenizer's estimate.
   */
  reportedInputTokens(): number | null;
  /**
   * The prompt's split as the upstream reported it (cache reads, cache writes; output 0), from its
   * final usage or, for a stream cut before it, from the start (Anthropic `message_start`); null
   * when it reported no split. A cut stream bills this split, not every input token at full price.
   */
  reportedInputUsage(): ProviderUsage | null;
  /** Generated text so far (text, reasoning, tool names and arguments), for counting. */
  completionText(): string;
  /** The stop reason the upstream gave, null when none yet. */
  stopReason(): StopReason | null;
  /** True once the upstream finished cleanly (OpenAI `[DONE]`, Anthropic `message_stop`, Gemini's finishReason). */
  readonly completed: boolean;
}

/**
 * Creates a translator. Upstream events are parsed into neutral events (to capture usage, text and
 * the stop reason) and rendered in the client's protocol; with the same protocol on both sides the
 * upstream's bytes are forwarded (OpenAI through `createOpenAIStreamTap`, which hides the usage
 * chunk the gateway forced when the client did not ask for it).
 */
export function createStreamTranslator(opts: StreamTranslatorOptions): StreamTranslator {
  const { from, to, ctx } = opts;
  if (from !== to) return translateStreamWith(from, createChatStreamRenderer(to, ctx));
  const tap = from === "openai" ? createOpenAIStreamTap({ clientWantsUsage: ctx.includeUsage }) : null;
  return translateStreamWith(from, null, tap);
}

/**
 * A translator from an upstream speaking `from` through `renderer` (any client stream shape, e.g.
 * the Responses API's); `renderer` null = the upstream's bytes are forwarded (through `tap` when given).
 */
export function translateStreamWith(from: ChatProtocol, renderer: ChatStreamRenderer | null, tap: { push(chunk: Uint8Array): Uint8Array; end(): Uint8Array } | null = null): StreamTranslator {
  const splitter = createSseSplitter();
  const parser = createChatStreamParser(from);
  let usage: ProviderUsage | null = null;
  let reportedInput: number | null = null;
  let reportedSplit: ProviderUsage | null = null;
  let text = "";
  let stop: StopReason | null = null;
  let ended = false;

  const observe = (e: ChatStreamEvent): void => {
    switch (e.type) {
      case "text":
      case "reasoning":
        text += e.text;
        return;
      case "tool_call_start":
        text += e.name;
        return;
      case "tool_call_delta":
        text += e.arguments;
        return;
      case "stop":
        stop = e.reason;
        return;
      case "usage":
        usage = e.usage;
        reportedInput = e.usage.inputTokens;
        reportedSplit = { ...e.usage, outputTokens: 0 };
        return;
      case "start":
        if (e.inputTokens !== null && reportedInput === null) reportedInput = e.inputTokens;
        if (e.inputUsage !== undefined && reportedSplit === null) reportedSplit = { ...e.inputUsage, outputTokens: 0 };
        return;
      case "end":
        ended = true;
        return;
      case "error":
        return;
      default:
        assertNever(e);
    }
  };

  const run = (events: SseEvent[], final: boolean): Buffer => {
    const out: (string | Buffer)[] = [];
    for (const event of events) {
      for (const e of parser.parse(event)) {
        observe(e);
        if (renderer !== null) out.push(renderer.render(e));
      }
      if (renderer === null) out.push(event.raw);
    }
    if (final && renderer !== null) out.push(renderer.finish());
    return Buffer.concat(out.map((x) => (typeof x === "string" ? Buffer.from(x, "utf8") : x)));
  };

  return {
    push(chunk: Uint8Array): Uint8Array {
      const events = splitter.push(chunk);
      const out = run(events, false);
      return tap === null ? out : tap.push(chunk);
    },
    end(): Uint8Array {
      const out = run(splitter.end(), true);
      return tap === null ? out : tap.end();
    },
    usage: () => usage,
    reportedInputTokens: () => reportedInput,
    reportedInputUsage: () => reportedSplit,
    completionText: () => text,
    stopReason: () => stop,
    get completed() {
      return ended || (from === "google" && stop !== null);
    },
  };
}
