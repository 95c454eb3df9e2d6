/**
 * The decision core: one pure function that every route, the Simulator and the control plane's
 * `simulate` query call. Checks run in a fixed order and stop at the first refusal; each is
 * recorded as a `DecisionCheck`. Only a non-dry-run admission mutates anything: it reserves the
 * budget holds (all or none) and counts the rate limits.
 */
import { evaluateBudgets } from "./budget-check.js";
import type { BudgetLedger } from "./budget-ledger.js";
import type { Admission, BudgetTarget, DecideInput, DecisionCheck, Decision, PricedRouteCandidate, Refusal, RefusalCode, RateLimitStatus, RequestShape } from "./decision.js";
import type { BudgetPolicy, ModelPolicy, RateLimitPolicy, VirtualKeyPolicy } from "./model.js";
import { evaluateGuardrails } from "./guardrails.js";
import { boundInputTokens, hasHardSpendLimit } from "./input-attachments.js";
import { authenticateKey } from "./key-authentication.js";
import { findModelAccessDenial } from "./model-access-chain.js";
import { formatUsdPicos } from "./money.js";
import type { PolicyIndex, ScopeChain } from "./policy-index.js";
import { hasAudioPrices, textOnlyPrice, upperBoundCost } from "./pricing.js";
import { boundingPrice, resolveRoute } from "./routing.js";
import { formatScopeLabel } from "./scope-label.js";
import type { RateLimiter } from "./rate-limiter.js";
import { windowStartOf } from "./windows.js";

/** `virtual key "ci"`, `team "search"`: how a scope is named in messages (defined in `scope-label.ts`). */
export { formatScopeLabel };

/** The output limit before budgets: min(requested ?? model max, model max); 0 for embeddings. */
export function startingOutputCap(model: ModelPolicy, requested: number | null, operation: "chat" | "embeddings"): number {
  if (operation === "embeddings") return 0;
  const max = Math.max(0, Math.floor(model.maxOutputTokens));
  return requested === null ? max : Math.max(0, Math.min(Math.floor(requested), max));
}

/** Every budget on the key's chain, in chain order (organization, teams, user, key), once each. */
export function budgetsOfChain(index: PolicyIndex, chain: ScopeChain): BudgetPolicy[] {
  const byId = new Map<string, BudgetPolicy>();
  for (const ref of chain.scopes) for (const b of index.budgetsFor(ref.scope, ref.scopeId)) if (!byId.has(b.id)) byId.set(b.id, b);
  return [...byId.values()];
}

/** Every rate limit on the key's chain, in chain order, once each. */
export function rateLimitsOfChain(index: PolicyIndex, chain: ScopeChain): RateLimitPolicy[] {
  const byId = new Map<string, RateLimitPolicy>();
  for (const ref of chain.scopes) for (const r of index.rateLimitsFor(ref.scope, ref.scopeId)) if (!byId.has(r.id)) byId.set(r.id, r);
  return [...byId.values()];
}

/** Decides one request. Never throws for a policy reason: refusals are values. */
export function decide(index: PolicyIndex, ledger: BudgetLedger, limiter: RateLimiter, input: DecideInput, connectedNodes: number): Decision {
  const { now, request } = input;
  const explain = input.explain ?? true;
  const checks: DecisionCheck[] = [];
  let key: VirtualKeyPolicy | null = null;
  let model: ModelPolicy | null = null;
  const pass = (name: string, level: DecisionCheck["level"], detail: string): void => {
    checks.push({ name, level, passed: true, detail });
  };
  const refuse = (
    code: RefusalCode,
    name: string,
    level: DecisionCheck["level"],
    message: string,
    extra: Partial<Pick<Refusal, "retryAfterMs" | "shortfalls" | "rateLimit" | "rateLimits" | "rateShortfalls">> = {},
  ): Refusal => {
    checks.push({ name, level, passed: false, detail: message });
    return { allow: false, code, message, retryAfterMs: null, shortfalls: [], key, model, checks, ...extra };
  };

  // Key: presented, known, secret still valid, not revoked, not expired, owner active, not paused.
  const auth = authenticateKey(index, input.keyHmac, now, explain);
  checks.push(...auth.checks);
  if (!auth.ok) return { allow: false, code: auth.code, message: auth.message, retryAfterMs: null, shortfalls: [], key: auth.key, model, checks };
  key = auth.key;
  const { chain } = auth;
  const keyLabel = formatScopeLabel("VIRTUAL_KEY", key.name);

  // Model: the route (every account serving the name, in order), allow/deny at every level, price.
  const route = resolveRoute(index, key.organizationId, request.model, input.routeRandom ?? 0);
  const [firstRouted] = route;
  if (firstRouted === undefined) return refuse("model_not_found", "model", "MODEL", `model "${request.model}" does not exist`);
  model = firstRouted.model;
  if (explain) pass("model", "MODEL", `model "${request.model}" routes to ${route.map((c) => `${c.account.name}/${c.model.upstreamModel}`).join(", then ")}`);
  const allowed = route.filter((c) => findModelAccessDenial(index, chain, c.model) === null);
  const [firstAllowed] = allowed;
  if (firstAllowed === undefined) {
    const denial = findModelAccessDenial(index, chain, firstRouted.model) ?? { scope: "VIRTUAL_KEY" as const, label: keyLabel };
    return refuse("model_not_allowed", "model_access", denial.scope, `model "${request.model}" is not allowed for ${denial.label}`);
  }
  model = firstAllowed.model;
  if (explain) pass("model_access", "VIRTUAL_KEY", `model "${request.model}" is allowed at every level`);

  // Input bound: the text bound plus images and unsizable parts as each allowed model bounds them.
  const budgets = budgetsOfChain(index, chain);
  const bound = boundInputTokens(request.inputTokensUpperBound, request.attachments, allowed, hasHardSpendLimit(key, budgets));
  if (!bound.ok) return refuse("invalid_request", "input_bound", "MODEL", bound.message);
  const { images = 0, unbounded = [] } = request.attachments ?? {};
  if (explain && images + unbounded.length > 0) pass("input_bound", "MODEL", `the prompt, its ${images} image(s) and ${unbounded.length} unsized part(s) count at most ${bound.tokens} tokens`);
  const bounded: RequestShape = { ...request, inputTokensUpperBound: bound.tokens };

  // Guardrails: the organization's rules, then the key's.
  const guarded = evaluateGuardrails([...index.guardrailsFor("ORGANIZATION", key.organizationId), ...index.guardrailsFor("VIRTUAL_KEY", key.id)], bounded, explain);
  checks.push(...guarded.checks);
  if (!guarded.ok) return { allow: false, code: "guardrail_blocked", message: guarded.message, retryAfterMs: null, shortfalls: [], key, model, checks };

  const fallbackPrice = chain.organization?.fallbackPrice ?? null;
  const candidates: PricedRouteCandidate[] = [];
  for (const c of allowed) {
    const candidatePrice = c.model.price ?? fallbackPrice;
    // Audio is served only by a model priced for it (never billed at the text price); a request
    // without audio is reserved and billed without the audio prices.
    if (candidatePrice === null) continue;
    if (request.audio !== true) candidates.push({ ...c, price: textOnlyPrice(candidatePrice) });
    else if (hasAudioPrices(candidatePrice)) candidates.push({ ...c, price: candidatePrice });
  }
  const [primary] = candidates;
  if (primary === undefined) {
    const what = request.audio === true && allowed.some((c) => (c.model.price ?? fallbackPrice) !== null) ? "no audio price (the request sends or asks for audio)" : "no price";
    return refuse("model_not_priced", "price", "MODEL", `model "${request.model}" has ${what}`);
  }
  model = primary.model;
  const { account, price } = primary;
  if (explain) pass("price", "MODEL", model.price === null ? "charged at the organization's fallback price" : "model price");
  // Reserved as the most expensive candidate could cost (a fallback may be dearer); settled at the one used.
  const boundPrice = boundingPrice(candidates.map((c) => c.price));
  const boundModel = { ...model, maxOutputTokens: Math.max(...candidates.map((c) => c.model.maxOutputTokens)) };

  // Per-request cap on the upper-bound cost.
  const inputTokens = bound.tokens;
  const startCap = startingOutputCap(boundModel, request.requestedMaxOutputTokens, request.operation);
  const fullCost = upperBoundCost(boundPrice, inputTokens, startCap);
  if (key.maxCostPerRequest !== null && fullCost > key.maxCostPerRequest) {
    return refuse(
      "request_cost_limit",
      "request_cost_limit",
      "VIRTUAL_KEY",
      `request may cost up to $${formatUsdPicos(fullCost)}, over the per-request limit of $${formatUsdPicos(key.maxCostPerRequest)} of ${keyLabel}`,
    );
  }
  if (explain && key.maxCostPerRequest !== null) pass("request_cost_limit", "VIRTUAL_KEY", `up to $${formatUsdPicos(fullCost)} per request`);

  // Rate limits at every level (checked with the starting cap, counted with the final one).
  const rateLimits = rateLimitsOfChain(index, chain);
  // A dry run borrows nothing: it estimates from what the node knows, or uses the last share when the control plane is out of reach.
  const rateMode = input.dryRun ? (input.rateAllocation === "fallback" ? "fallback" : "estimate") : (input.rateAllocation ?? "fallback");
  const rate = limiter.check(rateLimits, { requests: 1, tokens: inputTokens + startCap }, now, connectedNodes, rateMode);
  if (!rate.ok) {
    const { policy } = rate;
    const unit = policy.unit === "REQUESTS" ? "request" : "token";
    return refuse("rate_limit_exceeded", "rate_limit", policy.scope, `${unit} rate limit of ${policy.scopeLabel} exceeded (${policy.limit} per ${policy.windowSeconds}s)`, {
      retryAfterMs: rate.retryAfterMs,
      rateLimit: { rateLimitId: rate.rateLimitId, unit: rate.unit, limit: rate.limit, remaining: rate.remaining, resetMs: rate.resetMs },
      rateLimits: rateLimits.map((r) => limiter.status(r, now, rateMode, connectedNodes)),
      rateShortfalls: rate.shortfalls,
    });
  }
  if (explain) for (const r of rateLimits) pass("rate_limit", r.scope, `${r.limit} ${r.unit.toLowerCase()} per ${r.windowSeconds}s of ${r.scopeLabel}`);

  // Budgets at every level: HARD ones held all-or-none, SOFT ones only charged at settlement.
  const evaluation = evaluateBudgets(ledger, {
    budgets,
    price: boundPrice,
    inputTokens,
    startCap,
    now,
    allowPartial: input.allowPartial,
    grantsUnavailable: input.grantsUnavailable,
    explain,
  });
  checks.push(...evaluation.checks);
  if (!evaluation.ok) {
    const rateLimitStates = rateLimits.map((r) => limiter.status(r, now, rateMode, connectedNodes));
    return {
      allow: false,
      code: evaluation.code,
      message: evaluation.message,
      retryAfterMs: evaluation.retryAfterMs,
      shortfalls: evaluation.shortfalls,
      key,
      model,
      checks,
      rateLimits: rateLimitStates,
    };
  }
  const budgetTargets: BudgetTarget[] = budgets.map((b) => ({ budgetId: b.id, unit: b.unit, mode: b.mode, windowStart: windowStartOf(b.window, now) }));
  const outputCap = evaluation.outputCap;
  const amounts = { requests: 1, tokens: inputTokens + outputCap };

  let reservation = { id: 0, holds: [] as Admission["reservation"]["holds"] };
  let rateLimitCharges: Admission["rateLimitCharges"] = [];
  if (!input.dryRun) {
    const reserved = ledger.reserve(evaluation.holds, now);
    if (reserved === null) {
      return refuse("budget_exceeded", "budget", "REQUEST", "a budget changed while the request was being admitted");
    }
    reservation = { id: reserved.id, holds: reserved.holds };
    rateLimitCharges = limiter.consume(rateLimits, amounts, now);
  }
  const rateStatuses: RateLimitStatus[] = rateLimits.map((r) => limiter.status(r, now, rateMode, connectedNodes));
  return {
    allow: true,
    key,
    model,
    account,
    price,
    candidates,
    maxOutputTokens: outputCap,
    inputTokens,
    outputCapped: outputCap < startCap,
    reservation,
    estimatedCost: upperBoundCost(boundPrice, inputTokens, outputCap),
    checks,
    budgetTargets,
    rateLimitCharges,
    rateLimits: rateStatuses,
  };
}
