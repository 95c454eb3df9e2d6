/**
 * OpenAI Responses API (`POST /v1/responses`) through the gateway, to any upstream: the request is
 * validated and turned into the neutral chat model, admitted on the same path as every route (the
 * prompt bounded as the most demanding upstream of the route counts it), rendered for each
 * candidate account's protocol, sent along the route, and the answer (JSON, or the Responses event
 * stream) rendered back; settled on the provider's usage, else the tokenizer's count.
 */
import { performance } from "node:perf_hooks";
import { upstreamOutputLimit, type Admission } from "@tollgate/policy";
import {
  createResponsesStreamRenderer,
  extractChatCompletionText,
  extractChatUsage,
  neutralToResponsesResponse,
  parseChatResponse,
  parseResponsesRequest,
  renderNeutralRequest,
  responsesErrorEvent,
  responsesRequestToNeutral,
  shapeResponsesRequest,
  translateStreamWith,
  type ChatRequest,
  type ResponsesRenderContext,
} from "@tollgate/providers";
import type { ChatResult } from "./chat.service.js";
import { countedUsageOf } from "./chat-counting.js";
import { GatewayError } from "./gateway-error.js";
import type { RequestHeaders } from "./key-auth.js";
import { routeProtocolsOf } from "./protocol-chat.service.js";
import { admitRequest, beginRequest, finish, rateLimitHeaders } from "./request-context.js";
import { relayStream } from "./stream-relay.js";
import { isSuccessStatus, readUpstreamJson, rejectUpstreamStatus, type UpstreamPathDeps } from "./upstream-exchange.js";
import { sendRouted, type AttemptPlan } from "./upstream-routing.js";
import { chatTargetOf, protocolOfProvider } from "./upstream-target.js";
import { Outcome } from "./usage-record.js";

/** One inbound Responses request as the route hands it over. */
export interface ResponsesInput {
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  /** Aborted when the client goes away. */
  readonly clientSignal: AbortSignal;
}

const ROUTE = "/v1/responses";
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

/** The neutral request for one candidate: its upstream model and output limit. */
function candidateRequest(neutral: ChatRequest, via: Admission, requested: number | null): ChatRequest {
  return { ...neutral, model: via.model.upstreamModel, maxOutputTokens: upstreamOutputLimit(via.maxOutputTokens, requested, 1) ?? requested };
}

/** Handles `POST /v1/responses`; throws `GatewayError` for every refusal or failure before the answer starts. */
export async function handleResponses(deps: UpstreamPathDeps, input: ResponsesInput): Promise<ChatResult> {
  const ctx = beginRequest(deps, ROUTE, input.headers, input.query);
  const parsed = parseResponsesRequest(input.body);
  if ("error" in parsed) throw new GatewayError("invalid_request", parsed.error);
  const neutral = responsesRequestToNeutral(parsed);
  if ("error" in neutral) throw new GatewayError("invalid_request", neutral.error);
  const match = ctx.state.index.keyBySecretHmac(ctx.keyHmac);
  const routed = match === null ? [] : routeProtocolsOf(ctx.state.index, match.key.organizationId, parsed.model);
  const upstreams = routed.length === 0 ? (["openai"] as const) : routed;
  const shape = shapeResponsesRequest(parsed, neutral, upstreams);
  const admitted = await admitRequest(deps, ctx, shape, parsed.stream);
  const facts = { stream: parsed.stream, publicModel: parsed.model, operation: "chat" as const };
  const plan = (via: Admission): AttemptPlan => {
    const protocol = protocolOfProvider(via.account.provider);
    const body = renderNeutralRequest(protocol, candidateRequest(neutral, via, parsed.maxOutputTokens), { maxTokensWhenAbsent: via.maxOutputTokens });
    const target = chatTargetOf(via.account, via.model.upstreamModel, parsed.stream);
    return { url: target.url, headers: target.headers, body: JSON.stringify(body), clientSignal: input.clientSignal };
  };
  const { exchange, admission } = await sendRouted(deps, ctx, admitted, plan, facts);
  const upstream = protocolOfProvider(admission.account.provider);
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs }, upstream);
  const headers = rateLimitHeaders(admission.rateLimits ?? []);
  const render: ResponsesRenderContext = { requestId: ctx.requestId, model: parsed.model, nowMs: deps.now(), request: parsed.body };
  if (parsed.stream) {
    const translator = translateStreamWith(upstream, createResponsesStreamRenderer(render));
    const errorEvent = (code: string, message: string): string => responsesErrorEvent(code, message);
    const body = relayStream(deps, ctx, admission, exchange, translator, errorEvent, { ...facts, firstByteMs });
    return { kind: "stream", status: 200, headers: { ...headers, ...SSE_HEADERS }, body };
  }
  const end = { ...facts, firstByteMs, countedUsage: () => countedUsageOf(ctx.promptTokens, "") };
  const json = await readUpstreamJson(deps, ctx, admission, exchange, end);
  const counted = () => countedUsageOf(ctx.promptTokens, extractChatCompletionText(upstream, json));
  const answer = parseChatResponse(upstream, json);
  if (answer === null) {
    await finish(deps, ctx, admission, { ...end, usage: null, countedUsage: counted, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
    throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  }
  await finish(deps, ctx, admission, { ...end, usage: extractChatUsage(upstream, json), countedUsage: counted, outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  return { kind: "json", status: 200, headers, body: JSON.stringify(neutralToResponsesResponse(answer, render)) };
}
