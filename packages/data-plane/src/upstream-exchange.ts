/**
 * The upstream leg shared by every route, after `sendRouted` (upstream-routing.ts) got a response:
 * read it, and turn each way it can fail into the usage record it owes and the `GatewayError` to
 * answer with. A request that never got a usable answer is released (nothing charged); one whose
 * answer was cut is settled on what was counted. Every upstream error status becomes its answer in
 * `upstreamStatusError`, the one place an upstream's error text is read (and scrubbed of the
 * request's credentials) before it reaches a client.
 */
import type { Admission } from "@tollgate/policy";
import type { ChatProtocol, CredentialScrubber } from "@tollgate/providers";
import { GatewayError, GATEWAY_ERROR_RETRY } from "./gateway-error.js";
import { abandon, finish, type RequestContext, type RequestEnd, type RequestPathDeps } from "./request-context.js";
import { mapUpstreamError } from "./upstream-target.js";
import type { UpstreamExchange, UpstreamSend } from "./upstream.client.js";
import type { UpstreamRouting } from "./upstream-routing.js";
import { Outcome } from "./usage-record.js";

/** An exchange that is relayed, with the scrubber of every credential its request carried. */
export interface ScrubbedExchange extends UpstreamExchange {
  readonly scrubber: CredentialScrubber;
}

/** The request path plus the upstream sender and the node's routing state (breakers, retry budget). */
export interface UpstreamPathDeps extends RequestPathDeps {
  readonly upstream: UpstreamSend;
  readonly routing: UpstreamRouting;
}

/** What an exchange's failure records: the request as the caller made it. */
export type ExchangeFacts = Pick<RequestEnd, "stream" | "publicModel" | "operation">;

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** True for a 2xx exchange. */
export function isSuccessStatus(exchange: UpstreamExchange): boolean {
  return exchange.status >= 200 && exchange.status < 300;
}

/** Seconds or milliseconds an upstream asked to wait (`retry-after-ms`, `retry-after` seconds); null when absent or unreadable. */
function upstreamRetryAfterMs(headers: UpstreamExchange["headers"]): number | null {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const ms = Number(first(headers["retry-after-ms"]) ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const seconds = Number(first(headers["retry-after"]) ?? Number.NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

/**
 * The error to answer for an upstream error status — the one place every upstream error body goes
 * through before it reaches a client: only its `error.message` is read, scrubbed of every
 * credential the request carried (`mapUpstreamError`). An upstream's 429/5xx is transient (its own
 * `Retry-After` is passed on when within a minute); its 4xx about the request are not.
 */
export function upstreamStatusError(protocol: ChatProtocol, exchange: Pick<UpstreamExchange, "status" | "headers">, text: string, scrubber: CredentialScrubber): GatewayError {
  const { mapped, message } = mapUpstreamError(protocol, exchange.status, safeJson(text), scrubber);
  const transient = exchange.status === 429 || exchange.status >= 500;
  const retryClass = transient ? "transient" : GATEWAY_ERROR_RETRY[mapped.code];
  return new GatewayError(mapped.code, message, transient ? upstreamRetryAfterMs(exchange.headers) : null, {}, retryClass);
}

/**
 * Answers an upstream error status: abandons the admission and throws the mapped error
 * (`upstreamStatusError`), reading the error body in the upstream's protocol (default OpenAI).
 */
export async function rejectUpstreamStatus(
  deps: UpstreamPathDeps,
  ctx: RequestContext,
  admission: Admission,
  exchange: ScrubbedExchange,
  facts: ExchangeFacts & { readonly firstByteMs: number },
  upstreamProtocol: ChatProtocol = "openai",
): Promise<never> {
  const text = await readText(exchange, MAX_ERROR_BODY_BYTES).catch(() => "");
  exchange.finish();
  const error = upstreamStatusError(upstreamProtocol, exchange, text, exchange.scrubber);
  await abandon(deps, ctx, admission, { ...facts, outcome: Outcome.UPSTREAM_ERROR, status: error.status, errorCode: error.code });
  throw error;
}

/**
 * Reads a successful exchange's whole JSON object. A cut or timed-out body, or one that is not a
 * JSON object, is settled on the counted usage of `end` and thrown as 502/504.
 */
export async function readUpstreamJson(
  deps: UpstreamPathDeps,
  ctx: RequestContext,
  admission: Admission,
  exchange: UpstreamExchange,
  end: Omit<RequestEnd, "usage" | "outcome" | "status" | "errorCode">,
): Promise<Record<string, unknown>> {
  return (await readUpstreamJsonText(deps, ctx, admission, exchange, end)).json;
}

/** `readUpstreamJson` that also gives the body's text (to relay it unchanged when nothing in it changes). */
export async function readUpstreamJsonText(
  deps: UpstreamPathDeps,
  ctx: RequestContext,
  admission: Admission,
  exchange: UpstreamExchange,
  end: Omit<RequestEnd, "usage" | "outcome" | "status" | "errorCode">,
): Promise<{ readonly json: Record<string, unknown>; readonly text: string }> {
  let text: string;
  try {
    text = await readText(exchange, Number.POSITIVE_INFINITY);
  } catch (err) {
    const failure = exchange.classify(err);
    const errorCode = failure === "timeout" ? "upstream_timeout" : "upstream_error";
    const outcome = failure === "client_aborted" ? Outcome.CLIENT_ABORTED : Outcome.UPSTREAM_ERROR;
    await finish(deps, ctx, admission, { ...end, usage: null, outcome, status: failure === "timeout" ? 504 : 502, errorCode });
    throw new GatewayError(errorCode, failure === "timeout" ? "the upstream provider timed out" : "the upstream response was cut");
  } finally {
    exchange.finish();
  }
  const json = safeJson(text);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    await finish(deps, ctx, admission, { ...end, usage: null, outcome: Outcome.UPSTREAM_ERROR, status: 502, errorCode: "upstream_error" });
    throw new GatewayError("upstream_error", "the upstream provider sent a malformed response");
  }
  return { json: json as Record<string, unknown>, text };
}

/** The body as UTF-8, stopping after `limit` bytes. */
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

/** The JSON value of `text`; null when it is not JSON. */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
