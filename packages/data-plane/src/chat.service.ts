/**
 * OpenAI Chat Completions through the gateway: authenticate, decide, call the provider account
 * with its own credential (the virtual key never goes upstream), relay the JSON answer or the SSE
 * stream, and settle the actual usage (provider-reported, else the prompt as the reservation
 * counted it and the generated text counted with the tokenizer).
 */
import { performance } from "node:perf_hooks";
import { upstreamOutputLimit, type Admission } from "@tollgate/policy";
import {
  buildOpenAIUpstreamChatBody,
  createOpenAIStreamTap,
  extractOpenAICompletionText,
  extractOpenAIUsage,
  isParseError,
  openAIErrorBody,
  parseOpenAIChatRequest,
  type ParsedChatRequest,
} from "@tollgate/providers";
import { countedUsageOf } from "./chat-counting.js";
import { GatewayError } from "./gateway-error.js";
import { shapeChatRequest } from "./inbound-request.js";
import type { RequestHeaders } from "./key-auth.js";
import { admitRequest, beginRequest, finish, rateLimitHeaders, type RequestContext } from "./request-context.js";
import { isSuccessStatus, readUpstreamJsonText, rejectUpstreamStatus, type ScrubbedExchange, type UpstreamPathDeps } from "./upstream-exchange.js";
import { sendRouted, type AttemptPlan } from "./upstream-routing.js";
import { chatTargetOf, protocolOfProvider } from "./upstream-target.js";
import { Outcome } from "./usage-record.js";
import { relayStream, type RelayTransform } from "./stream-relay.js";

/** What the chat service needs: the request path and the upstream sender. */
export type ChatServiceDeps = UpstreamPathDeps;

/** One inbound chat request as the route hands it over. */
export interface ChatInput {
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  /** Aborted when the client goes away. */
  readonly clientSignal: AbortSignal;
}

/** The answer to send (errors are thrown as `GatewayError`). */
export type ChatResult =
  | { readonly kind: "json"; readonly status: number; readonly headers: Record<string, string>; readonly body: string }
  | { readonly kind: "stream"; readonly status: number; readonly headers: Record<string, string>; readonly body: AsyncIterable<Uint8Array> };

const ROUTE = "/v1/chat/completions";

/** Handles `POST /v1/chat/completions`; throws `GatewayError` for every refusal or failure. */
export async function handleChatCompletion(deps: ChatServiceDeps, input: ChatInput): Promise<ChatResult> {
  const ctx = beginRequest(deps, ROUTE, input.headers, input.query);
  const parsed = parseOpenAIChatRequest(input.body);
  if (isParseError(parsed)) throw new GatewayError("invalid_request", parsed.error);
  const admitted = await admitRequest(deps, ctx, shapeChatRequest(parsed), parsed.stream);
  const headers = rateLimitHeaders(admitted.rateLimits ?? []);
  const facts = { stream: parsed.stream, publicModel: parsed.model, operation: "chat" as const };
  const routed = await sendRouted(deps, ctx, admitted, (via) => upstreamRequestOf(via, parsed, input.clientSignal), facts);
  const { exchange, admission } = routed;
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs });
  const end = { ...facts, firstByteMs, countedUsage: () => countedUsageOf(ctx.promptTokens, "") };
  if (parsed.stream) return { kind: "stream", status: 200, headers: { ...headers, ...SSE_HEADERS }, body: relayOpenAIStream(deps, ctx, admission, parsed, exchange, { ...facts, firstByteMs }) };
  const { json, text } = await readUpstreamJsonText(deps, ctx, admission, exchange, end);
  const usage = extractOpenAIUsage(json);
  await finish(deps, ctx, admission, { ...end, usage, countedUsage: () => countedUsageOf(ctx.promptTokens, extractOpenAICompletionText(json)), outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  // The caller sees its own model name; when the upstream already answered with it, its bytes go out as they came.
  return { kind: "json", status: 200, headers, body: json["model"] === parsed.model ? text : JSON.stringify({ ...json, model: parsed.model }) };
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

/** The upstream call: the account's URL and credential, the upstream model, the output limit of `upstreamOutputLimit` (OpenAI-style accounts only). */
function upstreamRequestOf(admission: Admission, parsed: ParsedChatRequest, clientSignal: AbortSignal): AttemptPlan {
  if (protocolOfProvider(admission.account.provider) !== "openai") return { skip: `model "${parsed.model}" is not served by an OpenAI-style account` };
  const body = buildOpenAIUpstreamChatBody(parsed, {
    upstreamModel: admission.model.upstreamModel,
    maxOutputTokens: upstreamOutputLimit(admission.maxOutputTokens, parsed.requestedMaxOutputTokens, parsed.n),
    forceStreamUsage: true,
  });
  const target = chatTargetOf(admission.account, admission.model.upstreamModel, parsed.stream);
  return { url: target.url, headers: target.headers, body: JSON.stringify(body), clientSignal };
}

/**
 * Relays the upstream SSE through the usage tap (which hides a usage chunk the client did not ask
 * for) on the shared relay, which settles once however the stream ends.
 */
function relayOpenAIStream(
  deps: ChatServiceDeps,
  ctx: RequestContext,
  admission: Admission,
  parsed: ParsedChatRequest,
  exchange: ScrubbedExchange,
  end: { firstByteMs: number; stream: boolean; publicModel: string; operation: "chat" },
): AsyncGenerator<Uint8Array> {
  const tap = createOpenAIStreamTap({ clientWantsUsage: parsed.includeUsage });
  const transform: RelayTransform = {
    push: (chunk) => tap.push(chunk),
    end: () => tap.end(),
    usage: () => tap.usage(),
    completionText: () => tap.completionText(),
    reportedInputTokens: () => null,
    reportedInputUsage: () => null,
  };
  const errorEvent = (code: string, message: string): string => `data: ${JSON.stringify(openAIErrorBody(code, message))}\n\n`;
  return relayStream(deps, ctx, admission, exchange, transform, errorEvent, end);
}
