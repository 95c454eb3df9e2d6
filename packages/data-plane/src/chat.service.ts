/**
 * OpenAI Chat Completions through the gateway: authenticate, decide, call the provider account
 * with its own credential (the virtual key never goes upstream), relay the JSON answer or the SSE
 * stream, and settle the actual usage (provider-reported, else counted with the tokenizer).
 */
import { performance } from "node:perf_hooks";
import type { Admission, ActualUsage } from "@tollgate/policy";
import {
  buildOpenAIUpstreamChatBody,
  countTokens,
  createOpenAIStreamTap,
  estimateInputTokensUpperBound,
  extractOpenAICompletionText,
  extractOpenAIErrorMessage,
  extractOpenAIUsage,
  isParseError,
  mapUpstreamStatus,
  openAIAuthHeaders,
  openAIChatUrl,
  openAIErrorBody,
  parseOpenAIChatRequest,
  type ParsedChatRequest,
} from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import type { RequestHeaders } from "./key-auth.js";
import {
  abandon,
  assertUsageRecordable,
  beginRequest,
  decideWithGrants,
  finish,
  rateLimitHeaders,
  refuse,
  type RequestContext,
  type RequestPathDeps,
} from "./request-context.js";
import { UpstreamCallError, type UpstreamExchange, type UpstreamSend } from "./upstream.client.js";
import { Outcome } from "./usage-record.js";

/** What the chat service needs beyond the shared request path. */
export interface ChatServiceDeps extends RequestPathDeps {
  readonly upstream: UpstreamSend;
}

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
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Handles `POST /v1/chat/completions`; throws `GatewayError` for every refusal or failure. */
export async function handleChatCompletion(deps: ChatServiceDeps, input: ChatInput): Promise<ChatResult> {
  const ctx = beginRequest(deps, ROUTE, input.headers, input.query);
  const parsed = parseOpenAIChatRequest(input.body);
  if (isParseError(parsed)) throw new GatewayError("invalid_request", parsed.error);
  assertUsageRecordable(deps);
  const decision = await decideWithGrants(deps, ctx, {
    model: parsed.model,
    inputTokensUpperBound: estimateInputTokensUpperBound(parsed),
    requestedMaxOutputTokens: parsed.requestedMaxOutputTokens === null ? null : parsed.requestedMaxOutputTokens * parsed.n,
    operation: "chat",
  });
  if (!decision.allow) throw await refuse(deps, ctx, decision, parsed.model, parsed.stream);
  const headers = rateLimitHeaders(decision.rateLimits ?? []);
  const exchange = await callUpstream(deps, ctx, decision, parsed, input.clientSignal);
  const firstByteMs = performance.now() - ctx.startedMono;
  const end = { firstByteMs, stream: parsed.stream, publicModel: parsed.model, countedUsage: () => countUsage(parsed, "") };
  if (exchange.status < 200 || exchange.status >= 300) {
    const text = await readText(exchange, MAX_ERROR_BODY_BYTES).catch(() => "");
    exchange.finish();
    const mapped = mapUpstreamStatus(exchange.status);
    await abandon(deps, ctx, decision, { ...end, outcome: Outcome.UPSTREAM_ERROR, status: mapped.status, errorCode: mapped.code });
    const upstreamMessage = mapped.status === 400 || mapped.status === 413 ? extractOpenAIErrorMessage(safeJson(text)) : null;
    throw new GatewayError(mapped.code, upstreamMessage ?? `the upstream provider answered ${exchange.status}`);
  }
  if (parsed.stream) return { kind: "stream", status: 200, headers: { ...headers, ...SSE_HEADERS }, body: relayStream(deps, ctx, decision, parsed, exchange, end) };
  let text: string;
  try {
    text = await readText(exchange, Number.POSITIVE_INFINITY);
  } catch (err) {
    const failure = exchange.classify(err);
    const errorCode = failure === "timeout" ? "upstream_timeout" : "upstream_error";
    const outcome = failure === "client_aborted" ? Outcome.CLIENT_ABORTED : Outcome.UPSTREAM_ERROR;
    await finish(deps, ctx, decision, { ...end, usage: null, outcome, status: failure === "timeout" ? 504 : 502, errorCode });
    throw new GatewayError(errorCode, failure === "timeout" ? "the upstream provider timed out" : "the upstream response was cut");
  } finally {
    exchange.finish();
  }
  const json = safeJson(text);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    await finish(deps, ctx, decision, { ...end, usage: null, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
    throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  }
  const usage = extractOpenAIUsage(json);
  await finish(deps, ctx, decision, { ...end, usage, countedUsage: () => countUsage(parsed, extractOpenAICompletionText(json)), outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  return { kind: "json", status: 200, headers, body: JSON.stringify({ ...(json as Record<string, unknown>), model: parsed.model }) };
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

async function callUpstream(deps: ChatServiceDeps, ctx: RequestContext, admission: Admission, parsed: ParsedChatRequest, clientSignal: AbortSignal): Promise<UpstreamExchange> {
  // Send the admitted limit whenever the upstream could otherwise produce more than was reserved.
  const requested = parsed.requestedMaxOutputTokens === null ? null : parsed.requestedMaxOutputTokens * parsed.n;
  const capped = admission.outputCapped || parsed.n > 1 || (requested !== null && requested > admission.maxOutputTokens);
  const body = buildOpenAIUpstreamChatBody(parsed, {
    upstreamModel: admission.model.upstreamModel,
    maxOutputTokens: capped ? Math.max(1, Math.floor(admission.maxOutputTokens / parsed.n)) : null,
    forceStreamUsage: true,
  });
  try {
    return await deps.upstream({ url: openAIChatUrl(admission.account.baseUrl), headers: openAIAuthHeaders(admission.account.apiKey), body: JSON.stringify(body), clientSignal });
  } catch (err) {
    const failure = err instanceof UpstreamCallError ? err.failure : "connection";
    const timeout = failure === "timeout";
    const errorCode = timeout ? "upstream_timeout" : "upstream_error";
    const outcome = failure === "client_aborted" ? Outcome.CLIENT_ABORTED : Outcome.UPSTREAM_ERROR;
    deps.logger.warn({ requestId: ctx.requestId, failure, err: { message: (err as Error).message } }, "upstream call failed");
    await abandon(deps, ctx, admission, { firstByteMs: 0, stream: parsed.stream, publicModel: parsed.model, outcome, status: timeout ? 504 : 502, errorCode });
    throw new GatewayError(errorCode, timeout ? "the upstream provider timed out" : "the upstream provider could not be reached");
  }
}

/** Relays the upstream SSE through the usage tap; settles when the stream ends, fails or the client leaves. */
async function* relayStream(
  deps: ChatServiceDeps,
  ctx: RequestContext,
  admission: Admission,
  parsed: ParsedChatRequest,
  exchange: UpstreamExchange,
  end: { firstByteMs: number; stream: boolean; publicModel: string },
): AsyncGenerator<Uint8Array> {
  const tap = createOpenAIStreamTap({ clientWantsUsage: parsed.includeUsage });
  let outcome = Outcome.CLIENT_ABORTED;
  let status = 200;
  let errorCode = "";
  try {
    for await (const chunk of exchange.body) {
      const out = tap.push(chunk);
      if (out.length > 0) yield out;
    }
    const tail = tap.end();
    outcome = Outcome.SUCCESS;
    if (tail.length > 0) yield tail;
  } catch (err) {
    const failure = exchange.classify(err);
    if (failure !== "client_aborted") {
      outcome = Outcome.UPSTREAM_ERROR;
      errorCode = failure === "timeout" ? "upstream_timeout" : "upstream_error";
      status = failure === "timeout" ? 504 : 502;
      const message = failure === "timeout" ? "the upstream provider timed out" : "the upstream stream was cut";
      yield Buffer.from(`data: ${JSON.stringify(openAIErrorBody(errorCode, message))}\n\n`);
    }
  } finally {
    exchange.finish();
    const usage = tap.usage();
    const counted = (): ActualUsage => countUsage(parsed, tap.completionText());
    await finish(deps, ctx, admission, { ...end, usage, countedUsage: counted, outcome, status, errorCode });
  }
}

/** Usage counted with the tokenizer: the prompt's text (+3 per message, +3 priming) and the generated text. */
export function countUsage(parsed: ParsedChatRequest, completionText: string): ActualUsage {
  let input = 3;
  for (const m of parsed.messages) input += 3 + countTokens(textOfMessage(m));
  return { inputTokens: input, cachedInputTokens: 0, outputTokens: countTokens(completionText) };
}

function textOfMessage(m: Readonly<Record<string, unknown>>): string {
  let text = typeof m["role"] === "string" ? m["role"] : "";
  if (typeof m["name"] === "string") text += m["name"];
  const content = m["content"];
  if (typeof content === "string") text += content;
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string") text += (part as { text: string }).text;
    }
  }
  if (m["tool_calls"] !== undefined) text += JSON.stringify(m["tool_calls"]);
  return text;
}

async function readText(exchange: UpstreamExchange, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of exchange.body) {
    size += chunk.length;
    if (size > limit) break;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
