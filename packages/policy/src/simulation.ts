/**
 * The Simulator's decision: everything a real request would meet, reserving and consuming
 * nothing. A real request whose local grants fall short asks the control plane for more and is
 * decided again; the Simulator cannot ask (asking would take budget), so it assumes the honest
 * outcome of that call: when the control plane is reachable and has not said the budget window is
 * exhausted, the missing amount is granted (check `budget_grant`, passed: "needs a grant of N from
 * the control plane"), but never beyond the budget's limit minus what this node already holds;
 * otherwise nothing more arrives. The request is then decided as the real second pass would
 * decide it (capped, refused, or `budget_unverifiable` when unreachable).
 */
import { BudgetLedger } from "./budget-ledger.js";
import { describeBudget } from "./budget-check.js";
import { budgetsOfChain, decide, startingOutputCap } from "./decide.js";
import type { Decision, DecisionCheck, RequestShape } from "./decision.js";
import { boundInputTokens } from "./input-attachments.js";
import type { BudgetUnit } from "./model.js";
import { formatUsdPicos } from "./money.js";
import type { PolicyIndex } from "./policy-index.js";
import { upperBoundCost } from "./pricing.js";
import type { RateLimiter } from "./rate-limiter.js";
import { windowStartOf } from "./windows.js";

/** What the Simulator evaluates. */
export interface SimulationInput {
  /** HMAC (hex) of the presented secret; null = no key. */
  readonly keyHmac: string | null;
  readonly request: RequestShape;
  /** Epoch ms. */
  readonly now: number;
  /** Whether the node could ask the control plane for grants right now. */
  readonly grantsReachable: boolean;
}

/** A grant the real request would need from the control plane for one budget window. */
export interface SimulatedGrantNeed {
  readonly budgetId: string;
  readonly windowStart: number;
  /** What the request needs beyond what the node holds, in the budget's unit. */
  readonly needed: bigint;
  /** What the Simulator assumed the control plane grants (0 when unreachable or exhausted). */
  readonly assumedGrant: bigint;
}

/** The Simulator's answer: the decision (never reserved) and the grants it assumed or could not. */
export interface Simulation {
  readonly decision: Decision;
  readonly grantNeeds: readonly SimulatedGrantNeed[];
}

function formatAmount(unit: BudgetUnit, amount: bigint): string {
  return unit === "USD" ? `$${formatUsdPicos(amount)}` : `${amount.toString()} ${unit.toLowerCase()}`;
}

const windowKey = (budgetId: string, windowStart: number): string => `${budgetId}@${windowStart}`;

/**
 * Simulates one request with `decide` in dry-run mode. Neither `ledger` nor `limiter` is changed:
 * the assumed grants live in a scratch ledger holding each HARD budget's local availability plus
 * the assumed grant.
 */
export function simulateDecision(index: PolicyIndex, ledger: BudgetLedger, limiter: RateLimiter, input: SimulationInput, connectedNodes: number): Simulation {
  // Rate limits: the node's best knowledge of the cluster's remainder, or its last share without the control plane.
  const rateAllocation = input.grantsReachable ? "held" : "fallback";
  const base = { keyHmac: input.keyHmac, request: input.request, now: input.now, dryRun: true, rateAllocation } as const;
  const first = decide(index, ledger, limiter, { ...base, allowPartial: false, grantsUnavailable: false }, connectedNodes);
  if (first.allow || first.shortfalls.length === 0 || first.key === null) return { decision: first, grantNeeds: [] };

  const granted = new Map<string, bigint>();
  for (const e of ledger.entries()) granted.set(windowKey(e.budgetId, e.windowStart), e.grantedTotal);
  const assumed = new Map<string, bigint>();
  const grantNeeds: SimulatedGrantNeed[] = first.shortfalls.map((s) => {
    const key = windowKey(s.budgetId, s.windowStart);
    const headroom = (index.budget(s.budgetId)?.limit ?? 0n) - (granted.get(key) ?? 0n);
    const grantable = input.grantsReachable && !ledger.isExhausted(s.budgetId, s.windowStart);
    const assumedGrant = !grantable || headroom <= 0n ? 0n : headroom < s.needed ? headroom : s.needed;
    assumed.set(key, assumedGrant);
    return { budgetId: s.budgetId, windowStart: s.windowStart, needed: s.needed, assumedGrant };
  });

  const scratch = new BudgetLedger();
  for (const budget of budgetsOfChain(index, index.scopeChainOf(first.key))) {
    if (budget.mode !== "HARD") continue;
    const windowStart = windowStartOf(budget.window, input.now);
    const extra = assumed.get(windowKey(budget.id, windowStart)) ?? 0n;
    const local = ledger.available(budget.id, windowStart, input.now);
    scratch.applyGrant(budget.id, windowStart, local + extra, Number.MAX_SAFE_INTEGER, ledger.isExhausted(budget.id, windowStart));
  }
  const second = decide(index, scratch, limiter, { ...base, allowPartial: true, grantsUnavailable: !input.grantsReachable }, connectedNodes);

  const grantChecks: DecisionCheck[] = grantNeeds.map((need) => {
    const budget = index.budget(need.budgetId);
    const name = budget === null ? need.budgetId : describeBudget(budget);
    const amount = (v: bigint): string => (budget === null ? v.toString() : formatAmount(budget.unit, v));
    const level = budget?.scope ?? "REQUEST";
    const passed = need.assumedGrant >= need.needed;
    const asked = `${name} needs a grant of ${amount(need.needed)} from the control plane`;
    if (passed) return { name: "budget_grant", level, passed, detail: asked };
    const why = !input.grantsReachable
      ? "which is unreachable"
      : ledger.isExhausted(need.budgetId, need.windowStart)
        ? "which reported this window exhausted"
        : `which can grant at most ${amount(need.assumedGrant)} under the limit`;
    return { name: "budget_grant", level, passed, detail: `${asked}, ${why}` };
  });
  return { decision: { ...second, checks: [...second.checks, ...grantChecks] }, grantNeeds };
}

/**
 * The upper-bound cost (pico-dollars) a request is evaluated at before budgets: its model's price
 * (or the organization's fallback) for the input bound (images and unsizable parts at the model's
 * settings, the latter 0 when unset) and the starting output cap. 0 when the decision never
 * resolved a priced model.
 */
export function estimateDecisionCost(index: PolicyIndex, decision: Decision, request: RequestShape): bigint {
  if (decision.allow) return decision.estimatedCost;
  if (decision.model === null || decision.key === null) return 0n;
  const price = decision.model.price ?? index.organization(decision.key.organizationId)?.fallbackPrice ?? null;
  if (price === null) return 0n;
  const account = index.account(decision.model.providerAccountId);
  const bound = boundInputTokens(request.inputTokensUpperBound, request.attachments, account === null ? [] : [{ model: decision.model, account }], false);
  const inputTokens = bound.ok ? bound.tokens : Math.max(0, Math.ceil(request.inputTokensUpperBound));
  return upperBoundCost(price, inputTokens, startingOutputCap(decision.model, request.requestedMaxOutputTokens, request.operation));
}
