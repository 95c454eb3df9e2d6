/**
 * Token counting routes: Anthropic `POST /v1/messages/count_tokens` and Gemini `:countTokens`.
 * They need a valid key allowed to use the model, but consume no budget or rate limit and record
 * no usage. The count comes from the upstream's own count endpoint when the model's account speaks
 * the same protocol, else from the tokenizer (o200k_base) over the prompt.
 */
import { authenticateKey, findModelAccessDenial } from "@tollgate/policy";
import { countInboundPromptTokens, inboundToNeutral, parseAnthropicCountTokensRequest, parseGoogleCountTokensRequest, pickField, type InboundChatRequest } from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import type { RequestHeaders } from "./key-auth.js";
import { beginRequest } from "./request-context.js";
import { safeJson, upstreamStatusError, type UpstreamPathDeps } from "./upstream-exchange.js";
import { countTargetOf, protocolOfProvider, scrubberOfRequest } from "./upstream-target.js";
import { UpstreamCallError } from "./upstream.client.js";

/** Narrows to a plain JSON object. */
function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One count request as a route hands it over. */
export interface CountTokensInput {
  readonly protocol: "anthropic" | "google";
  readonly route: string;
  readonly headers: RequestHeaders;
  readonly query: unknown;
  readonly body: unknown;
  readonly clientSignal: AbortSignal;
  /** Google only: the path's model. */
  readonly model?: string;
}

/** The validated request, tagged like an inbound chat request (count bodies carry no output limit). */
function parseCountRequest(input: CountTokensInput): InboundChatRequest {
  if (input.protocol === "anthropic") {
    const parsed = parseAnthropicCountTokensRequest(input.body);
    if ("error" in parsed) throw new GatewayError("invalid_request", parsed.error);
    return { protocol: "anthropic", parsed: { ...parsed, maxTokens: 1, stream: false } };
  }
  const parsed = parseGoogleCountTokensRequest(input.model ?? "", input.body);
  if ("error" in parsed) throw new GatewayError("invalid_request", parsed.error);
  return { protocol: "google", parsed };
}

/**
 * The body for the upstream's count endpoint with the upstream model: Anthropic's as sent; Gemini's
 * always as `{generateContentRequest}` (the form that counts system instructions and tools too).
 */
function upstreamCountBody(inbound: InboundChatRequest, upstreamModel: string): Record<string, unknown> {
  const body = inbound.parsed.body;
  if (inbound.protocol === "anthropic") return { ...body, model: upstreamModel };
  return { generateContentRequest: { ...body, model: `models/${upstreamModel}` } };
}

/** Reads the count out of an upstream answer (`input_tokens` or `totalTokens`); null when absent. */
function readCount(protocol: "anthropic" | "google", json: unknown): number | null {
  if (!isJsonObject(json)) return null;
  const v = protocol === "anthropic" ? json["input_tokens"] : pickField(json, "totalTokens");
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null;
}

/** Asks the upstream's count endpoint; throws the mapped `GatewayError` when it fails. */
async function countUpstream(deps: UpstreamPathDeps, input: CountTokensInput, url: string, headers: Readonly<Record<string, string>>, body: Record<string, unknown>): Promise<number> {
  let exchange;
  try {
    exchange = await deps.upstream({ url, headers, body: JSON.stringify(body), clientSignal: input.clientSignal });
  } catch (err) {
    const timeout = err instanceof UpstreamCallError && err.failure === "timeout";
    throw new GatewayError(timeout ? "upstream_timeout" : "upstream_error", timeout ? "the upstream provider timed out" : "the upstream provider could not be reached");
  }
  let text = "";
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of exchange.body) chunks.push(Buffer.from(chunk));
    text = Buffer.concat(chunks).toString("utf8");
  } catch {
    text = "";
  } finally {
    exchange.finish();
  }
  const json = safeJson(text);
  if (exchange.status < 200 || exchange.status >= 300) {
    throw upstreamStatusError(input.protocol, exchange, text, scrubberOfRequest({ url, headers }));
  }
  const count = readCount(input.protocol, json);
  if (count === null) throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  return count;
}

/** Counts a request's input tokens; throws `GatewayError` for a refused key or model, or an upstream failure. */
export async function handleCountTokens(deps: UpstreamPathDeps, input: CountTokensInput): Promise<Record<string, unknown>> {
  const ctx = beginRequest(deps, input.route, input.headers, input.query);
  const inbound = parseCountRequest(input);
  const { index } = ctx.state;
  const auth = authenticateKey(index, ctx.keyHmac, deps.now());
  if (!auth.ok) throw new GatewayError(auth.code, auth.message);
  const publicModel = inbound.parsed.model;
  const model = index.resolveModel(auth.key.organizationId, publicModel);
  const account = model === null ? null : index.account(model.providerAccountId);
  if (model === null || account === null) throw new GatewayError("model_not_found", `model "${publicModel}" does not exist`);
  const denial = findModelAccessDenial(index, auth.chain, model);
  if (denial !== null) throw new GatewayError("model_not_allowed", `model "${publicModel}" is not allowed for ${denial.label}`);
  const target = protocolOfProvider(account.provider) === input.protocol ? countTargetOf(account, model.upstreamModel) : null;
  let count: number;
  if (target !== null) {
    count = await countUpstream(deps, input, target.url, target.headers, upstreamCountBody(inbound, model.upstreamModel));
  } else {
    const converted = inboundToNeutral(inbound);
    count = countInboundPromptTokens(inbound, "error" in converted ? null : converted);
  }
  return input.protocol === "anthropic" ? { input_tokens: count } : { totalTokens: count };
}
