/**
 * OpenAI Embeddings through the gateway: the same admission as chat (an embeddings request has no
 * output tokens), the provider account's own credential upstream, and settlement on the
 * provider's `usage.prompt_tokens` (else the inputs counted with the tokenizer).
 */
import { performance } from "node:perf_hooks";
import type { ActualUsage } from "@tollgate/policy";
import {
  buildOpenAIUpstreamEmbeddingsBody,
  countTokens,
  extractOpenAIUsage,
  parseOpenAIEmbeddingsRequest,
  type ParsedEmbeddingsRequest,
} from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import { isParseFailure, shapeEmbeddingsRequest } from "./inbound-request.js";
import type { RequestHeaders } from "./key-auth.js";
import { abandon, admitRequest, beginRequest, finish, rateLimitHeaders } from "./request-context.js";
import { isSuccessStatus, readUpstreamJson, rejectUpstreamStatus, sendAdmitted, type UpstreamPathDeps } from "./upstream-exchange.js";
import { openAIStyleEmbeddingsTargetOf } from "./upstream-target.js";
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

/** Upstream protocols whose accounts serve OpenAI's `/embeddings`. */
const EMBEDDING_PROVIDERS: ReadonlySet<string> = new Set(["OPENAI", "OPENAI_COMPATIBLE", "AZURE_OPENAI"]);

/** Handles `POST /v1/embeddings`; throws `GatewayError` for every refusal or failure. */
export async function handleEmbeddings(deps: UpstreamPathDeps, input: EmbeddingsInput): Promise<EmbeddingsResult> {
  const ctx = beginRequest(deps, ROUTE, input.headers, input.query);
  const parsed = parseOpenAIEmbeddingsRequest(input.body);
  if (isParseFailure(parsed)) throw new GatewayError("invalid_request", parsed.error);
  const admission = await admitRequest(deps, ctx, shapeEmbeddingsRequest(parsed), false);
  const facts = { stream: false, publicModel: parsed.model, operation: "embeddings" as const };
  if (!EMBEDDING_PROVIDERS.has(admission.account.provider)) {
    await abandon(deps, ctx, admission, { ...facts, firstByteMs: 0, outcome: Outcome.REFUSED, status: 400, errorCode: "invalid_request" });
    throw new GatewayError("invalid_request", `model "${parsed.model}" does not offer embeddings`);
  }
  const request = {
    ...openAIStyleEmbeddingsTargetOf(admission.account, admission.model.upstreamModel),
    body: JSON.stringify(buildOpenAIUpstreamEmbeddingsBody(parsed, admission.model.upstreamModel)),
    clientSignal: input.clientSignal,
  };
  const exchange = await sendAdmitted(deps, ctx, admission, request, facts);
  const firstByteMs = performance.now() - ctx.startedMono;
  if (!isSuccessStatus(exchange)) return rejectUpstreamStatus(deps, ctx, admission, exchange, { ...facts, firstByteMs });
  const end = { ...facts, firstByteMs, countedUsage: () => countEmbeddingUsage(parsed) };
  const json = await readUpstreamJson(deps, ctx, admission, exchange, end);
  await finish(deps, ctx, admission, { ...end, usage: embeddingUsageOf(json), outcome: Outcome.SUCCESS, status: 200, errorCode: "" });
  return { status: 200, headers: rateLimitHeaders(admission.rateLimits ?? []), body: JSON.stringify({ ...json, model: parsed.model }) };
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
