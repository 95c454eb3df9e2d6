/**
 * Sending an admitted request along its route: the candidates (provider accounts serving the
 * public model) in the order the decision core chose, skipping accounts whose circuit is open.
 * A connection error, a timeout before the response, a 429 or a 5xx moves on to the next
 * candidate, all before a byte reaches the client: at most min(candidates, 3) attempts per request,
 * and retries within the node's budget (20% of requests over a sliding minute). Once a usable
 * response arrives the route is fixed: a stream cut later is never retried. Every attempt is
 * logged and counted; the usage record carries the attempts and the account that answered. An
 * attempt whose body reached the provider without an answer (a first-byte timeout, the client
 * gone) is noted in `ctx.unanswered`: its prompt is billed when the request settles.
 */
import { performance } from "node:perf_hooks";
import { admissionVia, type Admission } from "@tollgate/policy";
import { CircuitBreakers, type CircuitBreakerOptions } from "./circuit-breaker.js";
import { GatewayError, type GatewayErrorCode } from "./gateway-error.js";
import { abandon, type RequestContext } from "./request-context.js";
import { RetryBudget, type RetryBudgetOptions } from "./retry-budget.js";
import { upstreamStatusError, type ExchangeFacts, type ScrubbedExchange, type UpstreamPathDeps } from "./upstream-exchange.js";
import { protocolOfProvider, ScrubberCache } from "./upstream-target.js";
import { UpstreamCallError, type UpstreamExchange, type UpstreamFailure, type UpstreamRequest } from "./upstream.client.js";
import { Outcome } from "./usage-record.js";

/** Most attempts one request makes, whatever the number of candidates. */
export const MAX_ATTEMPTS_PER_REQUEST = 3;

/** A node's routing state: a circuit breaker per provider account and the retry budget. */
export interface UpstreamRouting {
  readonly breakers: CircuitBreakers;
  readonly retries: RetryBudget;
  /** Credential scrubbers shared per account (their search forms are built once). */
  readonly scrubbers: ScrubberCache;
}

/** Settings of `createUpstreamRouting`. */
export interface UpstreamRoutingOptions {
  readonly breaker?: CircuitBreakerOptions;
  readonly retryBudget?: RetryBudgetOptions;
}

/** Creates a node's routing state on the epoch-ms clock `now`. */
export function createUpstreamRouting(now: () => number, opts: UpstreamRoutingOptions = {}): UpstreamRouting {
  return { breakers: new CircuitBreakers(now, opts.breaker), retries: new RetryBudget(now, opts.retryBudget), scrubbers: new ScrubberCache() };
}

/** A candidate's request, or why that candidate cannot serve this request (it is passed over). */
export type AttemptPlan = UpstreamRequest | { readonly skip: string };

/** The response that will be relayed, and the admission as seen through the account that sent it. */
export interface RoutedExchange {
  /** With the scrubber of the credentials its request carried: nothing upstream sent is relayed without it. */
  readonly exchange: ScrubbedExchange;
  /** Settle and record with this (its model, account and price are the answering candidate's). */
  readonly admission: Admission;
}

type LastFailure =
  | { readonly kind: "call"; readonly failure: Exclude<UpstreamFailure, "client_aborted">; readonly via: Admission }
  | { readonly kind: "status"; readonly exchange: Pick<UpstreamExchange, "status" | "headers">; readonly text: string; readonly request: UpstreamRequest; readonly via: Admission }
  | { readonly kind: "skip"; readonly message: string; readonly via: Admission }
  | { readonly kind: "open"; readonly via: Admission };

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** True for an upstream status worth another account: 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** An error body's text (bounded), then the exchange is finished. */
async function drainErrorText(exchange: UpstreamExchange): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of exchange.body) {
      size += chunk.length;
      if (size > MAX_ERROR_BODY_BYTES) break;
      chunks.push(Buffer.from(chunk));
    }
  } catch {
    // A cut error body says no more than its status.
  } finally {
    exchange.finish();
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Sends the request to the first candidate that answers usably (2xx, or a 4xx other than 429 that
 * describes the caller's request: the caller maps it). When every attempt fails, the admission is
 * released, the failure recorded, and the last failure thrown as a `GatewayError`.
 */
export async function sendRouted(deps: UpstreamPathDeps, ctx: RequestContext, admission: Admission, plan: (via: Admission) => AttemptPlan, facts: ExchangeFacts): Promise<RoutedExchange> {
  const { breakers, retries } = deps.routing;
  retries.recordRequest();
  const maxAttempts = Math.min(admission.candidates.length, MAX_ATTEMPTS_PER_REQUEST);
  let last: LastFailure | null = null;
  const note = (provider: string, result: string): void => deps.metrics.countUpstreamAttempt?.(provider, result);
  for (const candidate of admission.candidates) {
    if (ctx.attempts >= maxAttempts) break;
    const via = admissionVia(admission, candidate);
    const { account } = candidate;
    const provider = account.provider.toLowerCase();
    const request = plan(via);
    if ("skip" in request) {
      if (last === null || last.kind === "open") last = { kind: "skip", message: request.skip, via };
      continue;
    }
    if (!breakers.tryAcquire(account.id)) {
      note(provider, "circuit_open");
      deps.logger.info({ requestId: ctx.requestId, account: account.name }, "provider account skipped: circuit open");
      if (last === null) last = { kind: "open", via };
      continue;
    }
    if (ctx.attempts > 0 && !retries.tryRetry()) {
      breakers.recordNeutral(account.id);
      note(provider, "retry_budget_spent");
      deps.logger.warn({ requestId: ctx.requestId, account: account.name }, "no retry: the node's retry budget is spent");
      break;
    }
    ctx.attempts += 1;
    const attempt = ctx.attempts;
    const started = performance.now();
    let exchange: UpstreamExchange;
    try {
      exchange = await deps.upstream(request);
    } catch (err) {
      const failure = err instanceof UpstreamCallError ? err.failure : "connection";
      const ms = Math.round(performance.now() - started);
      // The provider got the body and may bill its prompt: billed once, when the request settles.
      if (err instanceof UpstreamCallError && err.bodySent) ctx.unanswered.push({ price: via.price, inputTokens: ctx.promptTokens });
      if (failure === "client_aborted") {
        breakers.recordNeutral(account.id);
        await abandon(deps, ctx, via, { ...facts, firstByteMs: 0, outcome: Outcome.CLIENT_ABORTED, status: 502, errorCode: "upstream_error" });
        throw new GatewayError("upstream_error", "the client went away before the upstream provider answered");
      }
      breakers.recordFailure(account.id);
      note(provider, failure);
      deps.logger.warn({ requestId: ctx.requestId, attempt, account: account.name, failure, ms, err: { message: (err as Error).message } }, "upstream attempt failed");
      last = { kind: "call", failure, via };
      continue;
    }
    if (isRetryableStatus(exchange.status)) {
      breakers.recordFailure(account.id);
      note(provider, exchange.status === 429 ? "status_429" : "status_5xx");
      const text = await drainErrorText(exchange);
      deps.logger.warn({ requestId: ctx.requestId, attempt, account: account.name, status: exchange.status, ms: Math.round(performance.now() - started) }, "upstream attempt failed");
      last = { kind: "status", exchange: { status: exchange.status, headers: exchange.headers }, text, request, via };
      continue;
    }
    breakers.recordSuccess(account.id);
    note(provider, "ok");
    if (attempt > 1) deps.logger.info({ requestId: ctx.requestId, attempt, account: account.name, status: exchange.status }, "upstream attempt succeeded after a fallback");
    return { exchange: { ...exchange, scrubber: deps.routing.scrubbers.of(request) }, admission: via };
  }
  throw await failRoute(deps, ctx, admission, last, facts);
}

/** Ends the admission (`abandon`: released, or its unanswered prompts billed), records the failure and returns the error to answer with. */
async function failRoute(deps: UpstreamPathDeps, ctx: RequestContext, admission: Admission, last: LastFailure | null, facts: ExchangeFacts): Promise<GatewayError> {
  const via = last?.via ?? admission;
  const firstByteMs = performance.now() - ctx.startedMono;
  const fail = async (status: number, code: GatewayErrorCode, outcome: Outcome, message: string): Promise<GatewayError> => {
    await abandon(deps, ctx, via, { ...facts, firstByteMs, outcome, status, errorCode: code });
    return new GatewayError(code, message);
  };
  if (last === null || last.kind === "open") {
    return fail(502, "upstream_error", Outcome.UPSTREAM_ERROR, `every provider account serving model "${facts.publicModel}" is failing; retry shortly`);
  }
  switch (last.kind) {
    case "skip":
      return fail(400, "invalid_request", Outcome.REFUSED, last.message);
    case "call": {
      const timeout = last.failure === "timeout";
      return fail(
        timeout ? 504 : 502,
        timeout ? "upstream_timeout" : "upstream_error",
        Outcome.UPSTREAM_ERROR,
        timeout ? "the upstream provider timed out" : "the upstream provider could not be reached",
      );
    }
    case "status": {
      const error = upstreamStatusError(protocolOfProvider(via.account.provider), last.exchange, last.text, deps.routing.scrubbers.of(last.request));
      await abandon(deps, ctx, via, { ...facts, firstByteMs, outcome: Outcome.UPSTREAM_ERROR, status: error.status, errorCode: error.code });
      return error;
    }
    default: {
      const never: never = last;
      throw new Error(`unexpected failure ${JSON.stringify(never)}`);
    }
  }
}
