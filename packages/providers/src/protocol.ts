/**
 * One entry point per operation, dispatching on the protocol: parse an inbound chat request,
 * convert it to and from the neutral model, parse and render responses and streams, read usage,
 * and build error bodies. The translator (translate.ts) is built from these.
 */
import { assertNever, type ChatProtocol, type ChatRequest, type ChatResponse, type ChatStreamParser, type ChatStreamRenderer, type RenderContext } from "./chat-model.js";
import { anthropicErrorBody, anthropicErrorFor } from "./anthropic/errors.js";
import { anthropicRequestToNeutral, neutralToAnthropicRequest } from "./anthropic/messages-neutral.js";
import { parseAnthropicMessagesRequest, scanAnthropicInput, type ParsedAnthropicRequest } from "./anthropic/messages-request.js";
import { anthropicResponseToNeutral, extractAnthropicCompletionText, extractAnthropicUsage, neutralToAnthropicResponse } from "./anthropic/messages-response.js";
import { createAnthropicStreamParser, createAnthropicStreamRenderer } from "./anthropic/messages-stream.js";
import { googleErrorBody, googleErrorFor } from "./google/errors.js";
import { googleRequestToNeutral, neutralToGoogleRequest } from "./google/generate-neutral.js";
import { parseGoogleGenerateRequest, scanGoogleInput, type ParsedGoogleRequest } from "./google/generate-request.js";
import { extractGoogleCompletionText, extractGoogleUsage, googleResponseToNeutral, neutralToGoogleResponse } from "./google/generate-response.js";
import { createGoogleStreamParser, createGoogleStreamRenderer } from "./google/generate-stream.js";
import type { InputScan } from "./input-bound.js";
import { scanOpenAIChatInput } from "./openai/chat-input-bound.js";
import { openAIRequestToNeutral, neutralToOpenAIRequest } from "./openai/chat-neutral.js";
import { isParseError, parseOpenAIChatRequest, type MaxTokensField, type ParsedChatRequest, type ParseError } from "./openai/chat-request.js";
import { createOpenAIStreamParser, createOpenAIStreamRenderer, neutralToOpenAIResponse, openAIResponseToNeutral } from "./openai/chat-response-neutral.js";
import { openAIErrorBody } from "./openai/errors.js";
import { extractOpenAICompletionText, extractOpenAIUsage, type ProviderUsage } from "./openai/usage.js";

/** A validated inbound chat request, tagged with its protocol. */
export type InboundChatRequest =
  | { readonly protocol: "openai"; readonly parsed: ParsedChatRequest }
  | { readonly protocol: "anthropic"; readonly parsed: ParsedAnthropicRequest }
  | { readonly protocol: "google"; readonly parsed: ParsedGoogleRequest };

/** What a Google request carries outside its body (the path's model, and which method). */
export interface InboundRequestContext {
  /** Google only: the `{model}` of the path. */
  readonly model?: string;
  /** Google only: true for `:streamGenerateContent`. */
  readonly stream?: boolean;
}

/** Validates an inbound chat body of `protocol` with that protocol's rules and messages. */
export function parseInboundChatRequest(protocol: ChatProtocol, body: unknown, ctx: InboundRequestContext = {}): InboundChatRequest | ParseError {
  switch (protocol) {
    case "openai": {
      const parsed = parseOpenAIChatRequest(body);
      return isParseError(parsed) ? parsed : { protocol, parsed };
    }
    case "anthropic": {
      const parsed = parseAnthropicMessagesRequest(body);
      return "error" in parsed ? parsed : { protocol, parsed };
    }
    case "google": {
      const parsed = parseGoogleGenerateRequest(ctx.model ?? "", body, ctx.stream === true);
      return "error" in parsed ? parsed : { protocol, parsed };
    }
    default:
      return assertNever(protocol);
  }
}

/**
 * The inbound protocol's own scan of its body: its text bound (as an upstream of the same protocol
 * counts it) and its images and unsizable parts (the same whatever the upstream).
 */
export function scanInboundChatInput(inbound: InboundChatRequest): InputScan {
  switch (inbound.protocol) {
    case "openai":
      return scanOpenAIChatInput(inbound.parsed);
    case "anthropic":
      return scanAnthropicInput(inbound.parsed);
    case "google":
      return scanGoogleInput(inbound.parsed);
    default:
      return assertNever(inbound);
  }
}

/** The neutral form of a validated inbound request; an error for features the neutral model lacks. */
export function inboundToNeutral(inbound: InboundChatRequest): ChatRequest | ParseError {
  switch (inbound.protocol) {
    case "openai":
      return openAIRequestToNeutral(inbound.parsed);
    case "anthropic":
      return anthropicRequestToNeutral(inbound.parsed);
    case "google":
      return googleRequestToNeutral(inbound.parsed);
    default:
      return assertNever(inbound);
  }
}

/** Options of `renderNeutralRequest`. */
export interface NeutralRequestRenderOptions {
  /** Anthropic: `max_tokens` when the request has no limit (the model's maximum output; default 4096). */
  readonly maxTokensWhenAbsent?: number;
  /** OpenAI: the output-limit field to write (default `max_tokens`). */
  readonly openAIMaxTokensField?: MaxTokensField;
}

/** The upstream body of a neutral request in `protocol` (for Google the model and stream flag go in the URL). */
export function renderNeutralRequest(protocol: ChatProtocol, req: ChatRequest, opts: NeutralRequestRenderOptions = {}): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return neutralToOpenAIRequest(req, opts.openAIMaxTokensField === undefined ? {} : { maxTokensField: opts.openAIMaxTokensField });
    case "anthropic":
      return neutralToAnthropicRequest(req, { maxTokensWhenAbsent: opts.maxTokensWhenAbsent ?? 4096 });
    case "google":
      return neutralToGoogleRequest(req);
    default:
      return assertNever(protocol);
  }
}

/** The neutral form of a `protocol` response body; null when the body is not one. */
export function parseChatResponse(protocol: ChatProtocol, json: unknown): ChatResponse | null {
  switch (protocol) {
    case "openai":
      return openAIResponseToNeutral(json);
    case "anthropic":
      return anthropicResponseToNeutral(json);
    case "google":
      return googleResponseToNeutral(json);
    default:
      return assertNever(protocol);
  }
}

/** A `protocol` response body of a neutral response. */
export function renderChatResponse(protocol: ChatProtocol, res: ChatResponse, ctx: RenderContext): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return neutralToOpenAIResponse(res, ctx);
    case "anthropic":
      return neutralToAnthropicResponse(res, ctx);
    case "google":
      return neutralToGoogleResponse(res, ctx);
    default:
      return assertNever(protocol);
  }
}

/** A fresh stream parser for an upstream speaking `protocol`. */
export function createChatStreamParser(protocol: ChatProtocol): ChatStreamParser {
  switch (protocol) {
    case "openai":
      return createOpenAIStreamParser();
    case "anthropic":
      return createAnthropicStreamParser();
    case "google":
      return createGoogleStreamParser();
    default:
      return assertNever(protocol);
  }
}

/** A fresh stream renderer for a client speaking `protocol`. */
export function createChatStreamRenderer(protocol: ChatProtocol, ctx: RenderContext): ChatStreamRenderer {
  switch (protocol) {
    case "openai":
      return createOpenAIStreamRenderer(ctx);
    case "anthropic":
      return createAnthropicStreamRenderer(ctx);
    case "google":
      return createGoogleStreamRenderer(ctx);
    default:
      return assertNever(protocol);
  }
}

/** The usage a non-stream `protocol` response body reports, null when none. */
export function extractChatUsage(protocol: ChatProtocol, json: unknown): ProviderUsage | null {
  switch (protocol) {
    case "openai":
      return extractOpenAIUsage(json);
    case "anthropic":
      return extractAnthropicUsage(json);
    case "google":
      return extractGoogleUsage(json);
    default:
      return assertNever(protocol);
  }
}

/** The generated text of a non-stream `protocol` response body (for counting when no usage came back). */
export function extractChatCompletionText(protocol: ChatProtocol, json: unknown): string {
  switch (protocol) {
    case "openai":
      return extractOpenAICompletionText(json);
    case "anthropic":
      return extractAnthropicCompletionText(json);
    case "google":
      return extractGoogleCompletionText(json);
    default:
      return assertNever(protocol);
  }
}

/**
 * The HTTP body of a gateway refusal in the inbound protocol's shape. The status is the contract's
 * (the caller's table); Anthropic and Google bodies carry their own type/status for the code.
 */
export function chatErrorBody(protocol: ChatProtocol, code: string, message: string): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return { ...openAIErrorBody(code, message) };
    case "anthropic":
      return { ...anthropicErrorBody(code, message) };
    case "google":
      return { ...googleErrorBody(code, message) };
    default:
      return assertNever(protocol);
  }
}

/** The HTTP status a protocol associates with a gateway code (Anthropic and Google tables; OpenAI: null = the caller's). */
export function chatErrorStatus(protocol: ChatProtocol, code: string): number | null {
  switch (protocol) {
    case "openai":
      return null;
    case "anthropic":
      return anthropicErrorFor(code).status;
    case "google":
      return googleErrorFor(code).status;
    default:
      return assertNever(protocol);
  }
}
