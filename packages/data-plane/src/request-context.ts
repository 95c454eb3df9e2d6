/**
 * The request path's shared steps, used by every inbound route: authenticating the presented
 * secret, deciding (with synchronous grants when local budget falls short), recording refusals,
 * and finishing an admitted request (settle, usage record, spool).
 */
import { performance } from "node:perf_hooks";
import {
  decide,
  releaseAdmission,
  settleRequestAttempts,
  tightestRateLimits,
  windowStartOf,
  withResetTime,
  type ActualUsage,
  type Admission,
  type BudgetLedger,
  type Decision,
  type GrantShortfall,
  type PolicyIndex,
  type RateLimiter,
  type RateLimitStatus,
  type Refusal,
  type RequestShape,
  type UnansweredAttempt,
} from "@tollgate/policy";
import type { UsageRecord } from "@tollgate/proto";
import type { Logger } from "pino";
import { GatewayError } from "./gateway-error.js";
import type { GrantSource } from "./grant-manager.js";
import type { RateUnitSource } from "./rate-allocator.js";
import type { JwtVerifiers } from "./jwt-verifier.js";
import { extractSecret, type RequestHeaders } from "./key-auth.js";
import type { DataPlaneMetrics, OperationLabels } from "./metrics.js";
import type { PolicyState, PolicyStore } from "./policy-store.js";
import { checkPresentedSecret } from "./presented-secret.js";
import { Outcome, UsageSource, type UsageRecordFactory } from "./usage-record.js";
import type { ShutdownGate } from "./shutdown-gate.js";

/** Where usage records go (the spool). */
export interface UsageSink {
  /**
   * Appends durably, or keeps the record in memory to write it again after a failed write (then
   * `isFull` is true until it is written); rejects only when the record cannot be kept at all.
   */
  append(record: UsageRecord): Promise<void>;
  /** True when no further record fits, or a record is still unwritten: billable requests are refused up front. */
  isFull(): boolean;
}

/** Everything the request path depends on. */
export interface RequestPathDeps {
  readonly store: PolicyStore;
  readonly ledger: BudgetLedger;
  readonly limiter: RateLimiter;
  readonly grants: GrantSource;
  /** Where rate-limit units are borrowed; absent = rate limits are enforced on the node's share alone. */
  readonly rates?: RateUnitSource;
  readonly usage: UsageSink;
  readonly records: UsageRecordFactory;
  readonly now: () => number;
  readonly newRequestId: () => string;
  readonly metrics: DataPlaneMetrics;
  readonly logger: Logger;
  /** Verifies JWT-format secrets against the snapshot's signing keys. */
  readonly jwt: JwtVerifiers;
  /** Uniform random numbers in [0, 1) for the weighted choice among route candidates (default Math.random). */
  readonly random?: () => number;
  /** The node's shutdown: streams end at its deadline, and it waits for records being spooled. */
  readonly shutdown?: ShutdownGate;
}

/** One request in flight: who asked, when, and on which route. */
export interface RequestContext {
  readonly requestId: string;
  readonly route: string;
  readonly startedAt: number;
  /** performance.now() at the start. */
  readonly startedMono: number;
  readonly state: PolicyState;
  readonly keyHmac: string;
  /** Upstream attempts made so far (the routed sender counts them; usage records carry the total). */
  attempts: number;
  /**
   * The prompt's tokens as the reservation counted them (the admitted `inputTokensUpperBound`; 0
   * before admission): what a prompt the provider did not report is billed at.
   */
  promptTokens: number;
  /** Attempts whose body went upstream without a usable answer: each bills its prompt once, at settlement. */
  readonly unanswered: UnansweredAttempt[];
}

/** How an admitted request ended. */
export interface RequestEnd {
  /** Provider-reported usage; null = counted by the gateway (`countedUsage`). */
  readonly usage: ActualUsage | null;
  readonly countedUsage: () => ActualUsage;
  readonly outcome: Outcome;
  readonly status: number;
  readonly errorCode: string;
  readonly firstByteMs: number;
  readonly stream: boolean;
  readonly publicModel: string;
  /** The GenAI operation, for metrics. */
  readonly operation: OperationLabels["operation"];
}

/** Starts a request: the policy must be held and a well-formed secret (opaque, or a JWT that verifies) presented (else throws). */
export function beginRequest(deps: RequestPathDeps, route: string, headers: RequestHeaders, query: unknown): RequestContext {
  const state = deps.store.current();
  if (!state) throw new GatewayError("not_ready", "this gateway node has no policy yet; retry shortly", 1000);
  const secret = extractSecret(headers, query);
  if (secret === null) throw new GatewayError("invalid_api_key", "no API key was provided");
  const presented = checkPresentedSecret(deps.jwt, state, secret, deps.now());
  if (presented.kind === "malformed") throw new GatewayError("invalid_api_key", "the API key is not valid");
  if (presented.kind === "refused") throw new GatewayError("invalid_api_key", presented.message);
  return { requestId: deps.newRequestId(), route, startedAt: deps.now(), startedMono: performance.now(), state, keyHmac: presented.keyHmac, attempts: 0, promptTokens: 0, unanswered: [] };
}

/** Refuses billable work up front when usage cannot be recorded. */
export function assertUsageRecordable(deps: RequestPathDeps): void {
  if (deps.usage.isFull()) throw new GatewayError("usage_unavailable", "this gateway node cannot record usage right now", 5000);
}

/**
 * Decides a request. Rate limits first: when the node holds too few units of a window, they are
 * borrowed from the control plane (at most two rounds) and the request decided again; without the
 * control plane the node's last share applies. Then budgets: a first pass without partial
 * admission; on a shortfall, grants are asked for (when the control plane is reachable) and the
 * request decided again with partial admission allowed (CAP_OUTPUT); when the window ended while the
 * grant was asked for, the request is decided again (once) in the new window; without the control
 * plane, hard budgets spend only what is held.
 */
export async function decideWithGrants(deps: RequestPathDeps, ctx: RequestContext, request: RequestShape): Promise<Decision> {
  const { index, connectedNodes } = ctx.state;
  // explain: false — a served request records only a failed check (no detail strings for what passed).
  const base = { keyHmac: ctx.keyHmac, request, dryRun: false, routeRandom: (deps.random ?? Math.random)(), explain: false };
  let rateAllocation: "held" | "fallback" = deps.rates?.reachable() ? "held" : "fallback";
  const decideWithUnits = async (allowPartial: boolean, grantsUnavailable: boolean): Promise<Decision> => {
    const once = () => decide(index, deps.ledger, deps.limiter, { ...base, now: deps.now(), allowPartial, grantsUnavailable, rateAllocation }, connectedNodes);
    let decision = once();
    for (let round = 0; round < 2 && deps.rates && !decision.allow && (decision.rateShortfalls?.length ?? 0) > 0; round++) {
      if (!(await deps.rates.acquire(decision.rateShortfalls ?? []))) rateAllocation = "fallback";
      decision = once();
    }
    return decision;
  };
  for (let round = 1; ; round++) {
    const first = await decideWithUnits(false, false);
    if (first.allow || first.shortfalls.length === 0) return first;
    const granted = deps.grants.reachable() ? await deps.grants.acquire(first.shortfalls) : false;
    const decision = await decideWithUnits(true, !granted);
    // A grant answered after its window ended (decided at 23:59:59.95, granted after midnight) is
    // for a window that is over: the request is decided again, from the start, in the window it is now in.
    if (decision.allow || round >= MAX_DECIDE_ROUNDS || !windowEnded(index, first.shortfalls, deps.now())) return decision;
  }
}

/** Most times one request is decided with grants: once, and once more when a window ended meanwhile. */
const MAX_DECIDE_ROUNDS = 2;

/** True when a shortfall's budget window is no longer the window of `now`. */
function windowEnded(index: PolicyIndex, shortfalls: readonly GrantShortfall[], now: number): boolean {
  return shortfalls.some((s) => {
    const budget = index.budget(s.budgetId);
    return budget !== null && windowStartOf(budget.window, now) !== s.windowStart;
  });
}

/**
 * Admits a parsed request or throws its refusal (recorded in usage): refuses up front when usage
 * cannot be recorded, then decides with grants. Every billable route goes through here.
 */
export async function admitRequest(deps: RequestPathDeps, ctx: RequestContext, request: RequestShape, stream: boolean): Promise<Admission> {
  assertUsageRecordable(deps);
  const decision = await decideWithGrants(deps, ctx, request);
  if (!decision.allow) throw await refuse(deps, ctx, decision, request.model, stream);
  // A cut stream bills its prompt as the reservation counted it: text, images and attachments.
  ctx.promptTokens = decision.inputTokens;
  return decision;
}

/**
 * `x-ratelimit-*` headers (OpenAI style) for the tightest applicable limit of each unit (the hit
 * limit's unit reports the hit limit): `-limit-`, `-remaining-` and `-reset-` (`"12s"`).
 */
export function rateLimitHeaders(limits: readonly RateLimitStatus[], hit?: RateLimitStatus): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of tightestRateLimits(limits, hit)) {
    const suffix = l.unit === "REQUESTS" ? "requests" : "tokens";
    out[`x-ratelimit-limit-${suffix}`] = String(l.limit);
    out[`x-ratelimit-remaining-${suffix}`] = String(l.remaining);
    out[`x-ratelimit-reset-${suffix}`] = `${Math.max(0, Math.ceil(l.resetMs / 1000))}s`;
  }
  return out;
}

/** Records a refusal (when its key was resolved) and returns the error to answer with (its message ends with the reset time, when there is one). */
export async function refuse(deps: RequestPathDeps, ctx: RequestContext, refusal: Refusal, publicModel: string, stream: boolean): Promise<GatewayError> {
  const message = withResetTime(refusal.message, deps.now(), refusal.retryAfterMs);
  const error = new GatewayError(refusal.code, message, refusal.retryAfterMs, rateLimitHeaders(refusal.rateLimits ?? [], refusal.rateLimit));
  if (refusal.key) {
    const record = deps.records.build({
      requestId: ctx.requestId,
      startedAt: ctx.startedAt,
      durationMs: performance.now() - ctx.startedMono,
      firstByteMs: 0,
      key: refusal.key,
      model: refusal.model,
      publicModel,
      route: ctx.route,
      stream,
      usage: null,
      usageSource: UsageSource.NONE,
      costPicos: 0n,
      outcome: Outcome.REFUSED,
      status: error.status,
      errorCode: refusal.code,
      charges: [],
      attempts: ctx.attempts,
    });
    await appendRecord(deps, record);
  }
  return error;
}

/**
 * Ends an admission without a usable answer. When no attempt's body reached a provider that may
 * bill it, the holds are released and $0 recorded; otherwise each such attempt's prompt is charged
 * (`ctx.unanswered`, at the reservation's prompt count) in one settlement.
 */
export async function abandon(deps: RequestPathDeps, ctx: RequestContext, admission: Admission, end: Omit<RequestEnd, "usage" | "countedUsage">): Promise<void> {
  if (ctx.unanswered.length > 0) {
    await settleAndRecord(deps, ctx, admission, end, null, UsageSource.COUNTED);
    return;
  }
  releaseAdmission(deps.ledger, admission);
  const record = deps.records.build({
    requestId: ctx.requestId,
    startedAt: ctx.startedAt,
    durationMs: performance.now() - ctx.startedMono,
    firstByteMs: end.firstByteMs,
    key: admission.key,
    model: admission.model,
    publicModel: end.publicModel,
    route: ctx.route,
    stream: end.stream,
    usage: null,
    usageSource: UsageSource.NONE,
    costPicos: 0n,
    outcome: end.outcome,
    status: end.status,
    errorCode: end.errorCode,
    charges: [],
    attempts: ctx.attempts,
  });
  await appendRecord(deps, record);
}

/**
 * The usage billed when the provider reported none: `counted` (the prompt as the reservation
 * counted it, the text received counted), except that an answer that did not complete (cut,
 * aborted, malformed) is billed the output the admission held — hidden reasoning tokens are not in
 * the text, and the upstream could not write more than the limit sent to it.
 */
export function unreportedUsageOf(counted: ActualUsage, admission: Admission, outcome: Outcome): ActualUsage {
  if (outcome === Outcome.SUCCESS) return counted;
  return { ...counted, outputTokens: Math.max(counted.outputTokens, admission.maxOutputTokens) };
}

/** Settles an admitted request with its usage (and its unanswered attempts), observes metrics and spools its record. */
export async function finish(deps: RequestPathDeps, ctx: RequestContext, admission: Admission, end: RequestEnd): Promise<void> {
  const usage = end.usage ?? unreportedUsageOf(end.countedUsage(), admission, end.outcome);
  await settleAndRecord(deps, ctx, admission, end, usage, end.usage ? UsageSource.PROVIDER : UsageSource.COUNTED);
}

async function settleAndRecord(
  deps: RequestPathDeps,
  ctx: RequestContext,
  admission: Admission,
  end: Omit<RequestEnd, "usage" | "countedUsage">,
  answered: ActualUsage | null,
  usageSource: UsageSource,
): Promise<void> {
  const success = end.outcome === Outcome.SUCCESS;
  const settled = settleRequestAttempts(ctx.state.index, deps.ledger, admission, answered, ctx.unanswered, success ? "success" : "failed", deps.now(), deps.limiter);
  const { costPicos, charges, usage } = settled;
  const durationMs = performance.now() - ctx.startedMono;
  const labels = { operation: end.operation, provider: admission.account.provider.toLowerCase(), model: admission.model.name };
  deps.metrics.observeOperation(labels, usage.inputTokens, usage.outputTokens, durationMs / 1000);
  const record = deps.records.build({
    requestId: ctx.requestId,
    startedAt: ctx.startedAt,
    durationMs,
    firstByteMs: end.firstByteMs,
    key: admission.key,
    model: admission.model,
    publicModel: end.publicModel,
    route: ctx.route,
    stream: end.stream,
    usage,
    usageSource,
    costPicos,
    outcome: end.outcome,
    status: end.status,
    errorCode: end.errorCode,
    charges,
    attempts: ctx.attempts,
  });
  await appendRecord(deps, record);
}

async function appendRecord(deps: RequestPathDeps, record: UsageRecord): Promise<void> {
  try {
    const appended = deps.usage.append(record);
    deps.shutdown?.track(appended);
    await appended;
  } catch (err) {
    deps.logger.error({ err: { message: (err as Error).message }, requestId: record.requestId }, "usage record could not be spooled");
  }
}
