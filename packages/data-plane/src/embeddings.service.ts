/**
 * OpenAI Embeddings through the gateway: the same admission as chat (an embeddings request has no
 * output tokens), routed like chat (fallback across the accounts serving the model), the provider
 * account's own credential upstream, and settlement on the provider's `usage.prompt_tokens` (else
 * the inputs counted with the tokenizer). A Gemini account gets one `batchEmbedContents` call and
 * its vectors come back in OpenAI's shape.
 */
import { performance } from "node:perf_hooks";
import type { ActualUsage, Admission } from "@tollgate/policy";
import {
  assertNever,
  buildGoogleBatchEmbedBodyFromOpenAI,
  buildOpenAIUpstreamEmbeddingsBody,
  countTokens,
  extractOpenAIUsage,
  googleEmbeddingsToOpenAI,
  parseOpenAIEmbeddingsRequest,
  type ParsedEmbeddingsRequest,
} from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import { isParseFailure, shapeEmbeddingsRequest } from "./inbound-request.js";
import type { RequestHeaders } from "./key-auth.js";
import { admitRequest, beginRequest, finish, rateLimitHeaders } from "./request-context.js";
import { isSuccessStatus, readUpstreamJson, rejectUpstreamStatus, type UpstreamPathDeps } from "./upstream-exchange.js";
import { sendRouted, type AttemptPlan } from "./upstream-routing.js";
import { googleBatchEmbedTargetOf, openAIStyleEmbeddingsTargetOf, protocolOfProvider } from "./upstream-target.js";
import { Outcome } from "./usage-record.js";

/** One inbound embeddings request as the route hands it over. */
export interface EmbeddingsInput {
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  /** Aborted when the client goes away. */
  readonly clientSignal: AbortSignal;
}

/** The JSON answer to send (errors are thrown as `GatewayError`). */
export interface EmbeddingsResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const ROUTE = "/v1/embeddings";

/** Handles `POST /v1/embeddings`; throws `GatewayError` for every refusal or failure. */
export async function handleEmbeddings(deps: UpstreamPathDeps, input: EmbeddingsInput): Promise<EmbeddingsResult> {
  const ctx = beginRequest(deps, ROUTE, input.headers, input.query);
  const parsed = parseOpenAIEmbeddingsRequest(input.body);
  if (isParseFailure(parsed)) throw new GatewayError("invalid_request", parsed.error);
  const admitted = await admitRequest(deps, ctx, shapeEmbeddingsRequest(parsed), false);
  const facts = { stream: false, publicModel: parsed.model, operation: "embeddings" as const };
  const plan = (via: Admission): AttemptPlan => {
    const upstreamModel = via.model.upstreamModel;
    const protocol = protocolOfProvider(via.account.provider);
    switch (protocol) {
      case "openai":
        return { ...openAIStyleEmbeddingsTargetOf(via.account, upstreamModel), body: JSON.stringify(buildOpenAIUpstreamEmbeddingsBody(parsed, upstreamModel)), clientSignal: input.clientSignal };
      case "google": {
        const body = buildGoogleBatchEmbedBodyFromOpenAI(parsed, upstreamModel);
        if ("error" in body) return { skip: body.error };
        return { ...googleBatchEmbedTargetOf(via.account, upstreamModel), body: JSON.stringify(body), clientSignal: input.clientSignal };
      }
      case "anthropic":
        return { skip: `model "${parsed.model}" does not offer embeddings` };
      default:
        return assertNever(protocol);
    }
  };
  const { exchange, admission } = await sendRouted(deps, ctx, admitted, plan, facts);
  const protocol = protocolOfProvider(admission.account.provider);
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs }, protocol);
  const end = { ...facts, firstByteMs, countedUsage: () => countEmbeddingUsage(parsed) };
  const json = await readUpstreamJson(deps, ctx, admission, exchange, end);
  const headers = rateLimitHeaders(admission.rateLimits ?? []);
  if (protocol === "google") {
    // Gemini reports no embedding usage: the inputs are counted with the tokenizer.
    const counted = countEmbeddingUsage(parsed);
    const format = parsed.body["encoding_format"] === "base64" ? "base64" : "float";
    const answer = googleEmbeddingsToOpenAI(json, parsed.inputs.length, { model: parsed.model, encodingFormat: format, promptTokens: counted.inputTokens });
    if (answer === null) {
      await finish(deps, ctx, admission, { ...end, usage: null, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
      throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
    }
    await finish(deps, ctx, admission, { ...end, usage: null, outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
    return { status: 200, headers, body: JSON.stringify(answer) };
  }
  await finish(deps, ctx, admission, { ...end, usage: embeddingUsageOf(json), outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  return { status: 200, headers, body: JSON.stringify({ ...json, model: parsed.model }) };
}

/** Provider usage of an embeddings answer (no output tokens, whatever it says). */
function embeddingUsageOf(json: unknown): ActualUsage | null {
  const usage = extractOpenAIUsage(json);
  return usage === null ? null : { ...usage, outputTokens: 0 };
}

/** Usage counted with the tokenizer: every string input's tokens, every token array's length. */
export function countEmbeddingUsage(parsed: ParsedEmbeddingsRequest): ActualUsage {
  let input = 0;
  for (const item of parsed.inputs) input += typeof item === "string" ? countTokens(item) : item.length;
  return { inputTokens: input, cachedInputTokens: 0, outputTokens: 0 };
}
