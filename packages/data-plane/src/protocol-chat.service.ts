/**
 * Chat in any inbound protocol (OpenAI, Anthropic Messages, Gemini generateContent) against any
 * upstream protocol: validate the client's body in its own protocol, admit it on the same path as
 * every route (the prompt bounded as the upstream will count it), translate it for the model's
 * provider account, call the account with its own credential, translate the answer (JSON or
 * stream) back, and settle on the provider's usage (else the prompt as the reservation counted it).
 */
import { performance } from "node:perf_hooks";
import { upstreamOutputLimit, type Admission, type PolicyIndex } from "@tollgate/policy";
import {
  extractChatCompletionText,
  extractChatUsage,
  inboundToNeutral,
  parseInboundChatRequest,
  translateRequest,
  translateResponse,
  type ChatProtocol,
  type ChatRequest,
  type InboundChatRequest,
  type RenderContext,
} from "@tollgate/providers";
import type { ChatResult } from "./chat.service.js";
import { choicesOf, countedUsageOf, requestedOutputOf, shapeProtocolChat } from "./chat-counting.js";
import { GatewayError } from "./gateway-error.js";
import { extractSecret, type RequestHeaders } from "./key-auth.js";
import { admitRequest, beginRequest, finish, rateLimitHeaders, type RequestContext } from "./request-context.js";
import { relayTranslatedStream, sseToJsonArray } from "./stream-relay.js";
import { isSuccessStatus, readUpstreamJson, rejectUpstreamStatus, type UpstreamPathDeps } from "./upstream-exchange.js";
import { sendRouted, type AttemptPlan } from "./upstream-routing.js";
import { chatTargetOf, protocolOfProvider } from "./upstream-target.js";
import { Outcome } from "./usage-record.js";

/** One inbound chat request as a route hands it over. */
export interface ProtocolChatInput {
  readonly protocol: ChatProtocol;
  /** The route's name in metrics and usage records (`/v1/messages`, `/v1beta/models/{model}:generateContent`). */
  readonly route: string;
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  /** Aborted when the client goes away. */
  readonly clientSignal: AbortSignal;
  /** Google only: the path's model and method. */
  readonly google?: { readonly model: string; readonly stream: boolean; readonly sse: boolean };
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

/** The protocols spoken by the accounts of the route group `publicModel` names for `organizationId` (distinct; empty when unknown). */
export function routeProtocolsOf(index: PolicyIndex, organizationId: string, publicModel: string): ChatProtocol[] {
  const protocols = new Set<ChatProtocol>();
  for (const model of index.routeGroup(organizationId, publicModel)) {
    const account = index.account(model.providerAccountId);
    if (account !== null) protocols.add(protocolOfProvider(account.provider));
  }
  return [...protocols];
}

/** The protocols of the accounts a key's request for `publicModel` may be routed to. */
function routedProtocols(ctx: RequestContext, publicModel: string): ChatProtocol[] {
  const { index } = ctx.state;
  const match = index.keyBySecretHmac(ctx.keyHmac);
  return match === null ? [] : routeProtocolsOf(index, match.key.organizationId, publicModel);
}

/**
 * The protocols of the accounts an OpenAI-style request may reach, judged before any work (no
 * request id, nothing recorded): null when there is no policy, key or model (the caller's own path refuses).
 */
export function peekRouteProtocols(deps: UpstreamPathDeps, headers: RequestHeaders, query: unknown, body: unknown): ChatProtocol[] | null {
  const state = deps.store.current();
  const secret = extractSecret(headers, query);
  const model = typeof body === "object" && body !== null ? (body as { model?: unknown }).model : undefined;
  if (state === null || secret === null || typeof model !== "string") return null;
  const match = state.index.keyBySecretHmac(state.secretHmacs.hmacOf(secret));
  const protocols = match === null ? [] : routeProtocolsOf(state.index, match.key.organizationId, model);
  return protocols.length === 0 ? null : protocols;
}

/** The output limit to send upstream per answer (the one rule in `upstreamOutputLimit`); null = the client's own. */
function outputLimitOf(admission: Admission, inbound: InboundChatRequest): number | null {
  const n = choicesOf(inbound);
  const requested = requestedOutputOf(inbound);
  return upstreamOutputLimit(admission.maxOutputTokens, requested === null ? null : Math.ceil(requested / n), n);
}

/** Handles one chat request of `input.protocol`; throws `GatewayError` for every refusal or failure before the answer starts. */
export async function handleProtocolChat(deps: UpstreamPathDeps, input: ProtocolChatInput): Promise<ChatResult> {
  const ctx = beginRequest(deps, input.route, input.headers, input.query);
  const google = input.google;
  const inbound = parseInboundChatRequest(input.protocol, input.body, google === undefined ? {} : { model: google.model, stream: google.stream });
  if ("error" in inbound) throw new GatewayError("invalid_request", inbound.error);
  const converted = inboundToNeutral(inbound);
  const neutral: ChatRequest | null = "error" in converted ? null : converted;
  const routed = routedProtocols(ctx, inbound.parsed.model);
  const upstreams = routed.length === 0 ? [input.protocol] : routed;
  if ("error" in converted && !upstreams.includes(input.protocol)) throw new GatewayError("invalid_request", converted.error);
  const stream = inbound.parsed.stream;
  // The prompt is bounded as the most demanding of the route's upstream protocols will count it.
  const shape = shapeProtocolChat(inbound, neutral, upstreams);
  const admitted = await admitRequest(deps, ctx, shape, stream);
  const publicModel = inbound.parsed.model;
  const facts = { stream, publicModel, operation: "chat" as const };
  const plan = (via: Admission): AttemptPlan => {
    const translated = translateRequest(input.protocol, protocolOfProvider(via.account.provider), input.body, {
      ...(google === undefined ? {} : { model: google.model, stream: google.stream }),
      upstreamModel: via.model.upstreamModel,
      maxOutputTokens: outputLimitOf(via, inbound),
      maxTokensWhenAbsent: via.maxOutputTokens,
    });
    if ("error" in translated) return { skip: translated.error };
    const target = chatTargetOf(via.account, via.model.upstreamModel, stream);
    return { url: target.url, headers: target.headers, body: JSON.stringify(translated.body), clientSignal: input.clientSignal };
  };
  const { exchange, admission } = await sendRouted(deps, ctx, admitted, plan, facts);
  const upstream = protocolOfProvider(admission.account.provider);
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs }, upstream);
  const headers = rateLimitHeaders(admission.rateLimits ?? []);
  const render: RenderContext = { requestId: ctx.requestId, model: publicModel, nowMs: deps.now(), includeUsage: inbound.protocol === "openai" && inbound.parsed.includeUsage };
  const end = { ...facts, firstByteMs, countedUsage: () => countedUsageOf(ctx.promptTokens, "") };
  if (stream) {
    const body = relayTranslatedStream(deps, ctx, admission, exchange, { from: upstream, to: input.protocol, ctx: render }, end);
    if (google !== undefined && !google.sse) return { kind: "stream", status: 200, headers: { ...headers, "content-type": "application/json; charset=utf-8" }, body: sseToJsonArray(body) };
    return { kind: "stream", status: 200, headers: { ...headers, ...SSE_HEADERS }, body };
  }
  const json = await readUpstreamJson(deps, ctx, admission, exchange, end);
  const counted = () => countedUsageOf(ctx.promptTokens, extractChatCompletionText(upstream, json));
  const answer = translateResponse(upstream, input.protocol, json, render);
  if (answer === null) {
    await finish(deps, ctx, admission, { ...end, usage: null, countedUsage: counted, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
    throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  }
  await finish(deps, ctx, admission, { ...end, usage: extractChatUsage(upstream, json), countedUsage: counted, outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  return { kind: "json", status: 200, headers, body: JSON.stringify(withPublicModel(input.protocol, upstream, answer, publicModel)) };
}

/** A pass-through answer shows the public model name, as the translated ones do. */
function withPublicModel(client: ChatProtocol, upstream: ChatProtocol, answer: Record<string, unknown>, publicModel: string): Record<string, unknown> {
  if (client !== upstream) return answer;
  return client === "google" ? { ...answer, modelVersion: publicModel } : { ...answer, model: publicModel };
}
