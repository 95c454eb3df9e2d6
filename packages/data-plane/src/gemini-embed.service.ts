/**
 * Gemini `:embedContent` and `:batchEmbedContents` through the gateway, on the same admission and
 * settlement path as every route. A Gemini account gets the request as is (the upstream model
 * named); an OpenAI-style account gets one `/embeddings` call whose inputs are the requests' texts,
 * and its vectors come back in Gemini's shape. Gemini reports no embedding usage, so those inputs
 * are counted with the tokenizer; OpenAI's `usage.prompt_tokens` is used when present.
 */
import { performance } from "node:perf_hooks";
import type { ActualUsage, Admission } from "@tollgate/policy";
import { countTokens, estimateGoogleEmbedInputUpperBound, extractOpenAIUsage, parseGoogleBatchEmbedRequest, parseGoogleEmbedRequest } from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import type { RequestHeaders } from "./key-auth.js";
import { admitRequest, beginRequest, finish, rateLimitHeaders } from "./request-context.js";
import { isSuccessStatus, readUpstreamJson, rejectUpstreamStatus, type UpstreamPathDeps } from "./upstream-exchange.js";
import { sendRouted, type AttemptPlan } from "./upstream-routing.js";
import { googleBatchEmbedTargetOf, openAIStyleEmbeddingsTargetOf, protocolOfProvider, type UpstreamTarget } from "./upstream-target.js";
import { Outcome } from "./usage-record.js";

/** One embed request as the route hands it over. */
export interface GeminiEmbedInput {
  readonly route: string;
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  readonly clientSignal: AbortSignal;
  /** The path's model. */
  readonly model: string;
  /** True for `:batchEmbedContents`. */
  readonly batch: boolean;
}

/** The JSON answer to send. */
export interface GeminiEmbedResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Narrows to a plain JSON object. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The text parts of one (validated) embedContent request. */
function textsOf(request: unknown): string[] {
  const content = isObject(request) ? request["content"] : null;
  const parts = isObject(content) && Array.isArray(content["parts"]) ? content["parts"] : [];
  return parts.flatMap((p: unknown) => (isObject(p) && typeof p["text"] === "string" ? [p["text"]] : []));
}

/** The upstream call of an embed request: Gemini as is (model renamed), OpenAI-style as one `/embeddings` call. */
function upstreamCallOf(
  provider: "google" | "openai",
  target: UpstreamTarget,
  requests: readonly unknown[],
  upstreamModel: string,
): { url: string; headers: Readonly<Record<string, string>>; body: string } {
  if (provider === "google") {
    const renamed = requests.map((r) => (isObject(r) ? { ...r, model: `models/${upstreamModel}` } : r));
    return { ...target, body: JSON.stringify({ requests: renamed }) };
  }
  return { ...target, body: JSON.stringify({ model: upstreamModel, input: requests.map((r) => textsOf(r).join("\n")) }) };
}

/** Gemini vectors (`[{values}]`) of an upstream answer in `provider`'s shape; null when malformed. */
function vectorsOf(provider: "google" | "openai", json: Record<string, unknown>, expected: number): unknown[] | null {
  if (provider === "google") {
    const list = json["embeddings"];
    return Array.isArray(list) && list.length === expected ? list : null;
  }
  const data = json["data"];
  if (!Array.isArray(data) || data.length !== expected) return null;
  const sorted = [...data].sort((a: unknown, b: unknown) => Number(isObject(a) ? a["index"] : 0) - Number(isObject(b) ? b["index"] : 0));
  return sorted.map((d: unknown) => ({ values: isObject(d) ? d["embedding"] : [] }));
}

/** Handles `:embedContent` / `:batchEmbedContents`; throws `GatewayError` for every refusal or failure. */
export async function handleGeminiEmbed(deps: UpstreamPathDeps, input: GeminiEmbedInput): Promise<GeminiEmbedResult> {
  const ctx = beginRequest(deps, input.route, input.headers, input.query);
  const parsed = input.batch ? parseGoogleBatchEmbedRequest(input.model, input.body) : parseGoogleEmbedRequest(input.model, input.body);
  if ("error" in parsed) throw new GatewayError("invalid_request", parsed.error);
  const requests: unknown[] = input.batch && isObject(input.body) && Array.isArray(input.body["requests"]) ? input.body["requests"] : [input.body];
  const shape = {
    model: input.model,
    inputTokensUpperBound: estimateGoogleEmbedInputUpperBound(parsed),
    requestedMaxOutputTokens: null,
    operation: "embeddings" as const,
    promptText: parsed.texts.join("\n"),
  };
  const admitted = await admitRequest(deps, ctx, shape, false);
  const facts = { stream: false, publicModel: input.model, operation: "embeddings" as const };
  const plan = (via: Admission): AttemptPlan => {
    const protocol = protocolOfProvider(via.account.provider);
    if (protocol === "anthropic") return { skip: `model "${input.model}" does not offer embeddings` };
    const upstreamModel = via.model.upstreamModel;
    const target = protocol === "google" ? googleBatchEmbedTargetOf(via.account, upstreamModel) : openAIStyleEmbeddingsTargetOf(via.account, upstreamModel);
    return { ...upstreamCallOf(protocol, target, requests, upstreamModel), clientSignal: input.clientSignal };
  };
  const { exchange, admission } = await sendRouted(deps, ctx, admitted, plan, facts);
  const protocol = protocolOfProvider(admission.account.provider) === "google" ? "google" : "openai";
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs }, protocol);
  const counted = (): ActualUsage => ({ inputTokens: parsed.texts.reduce((n, t) => n + countTokens(t), 0), cachedInputTokens: 0, outputTokens: 0 });
  const end = { ...facts, firstByteMs, countedUsage: counted };
  const json = await readUpstreamJson(deps, ctx, admission, exchange, end);
  const vectors = vectorsOf(protocol, json, requests.length);
  if (vectors === null) {
    await finish(deps, ctx, admission, { ...end, usage: null, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
    throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  }
  const reported = protocol === "openai" ? extractOpenAIUsage(json) : null;
  await finish(deps, ctx, admission, { ...end, usage: reported === null ? null : { ...reported, outputTokens: 0 }, outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  const body = input.batch ? { embeddings: vectors } : { embedding: vectors[0] };
  return { status: 200, headers: rateLimitHeaders(admission.rateLimits ?? []), body: JSON.stringify(body) };
}
