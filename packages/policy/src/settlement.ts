/**
 * Settling an admitted request: the reservation's holds are dropped and the actual charges
 * recorded, in each budget's unit, against the window of admission.
 */
import type { BudgetLedger } from "./budget-ledger.js";
import { budgetsOfChain } from "./decide.js";
import type { ActualUsage, Admission, BudgetCharge, BudgetTarget } from "./decision.js";
import type { PolicyIndex } from "./policy-index.js";
import { computeCost } from "./pricing.js";
import type { RateLimiter } from "./rate-limiter.js";
import { assertNever, windowStartOf } from "./windows.js";

/** The result of settling a request: its cost and the charges for its usage record. */
export interface Settlement {
  readonly costPicos: bigint;
  readonly charges: BudgetCharge[];
}

/**
 * The charges of a finished request: USD = its cost, TOKENS = input + output tokens, REQUESTS = 1
 * on success only. Zero charges are left out.
 */
export function computeCharges(targets: readonly BudgetTarget[], costPicos: bigint, usage: ActualUsage, outcome: "success" | "failed"): BudgetCharge[] {
  const tokens = BigInt(Math.max(0, Math.floor(usage.inputTokens)) + Math.max(0, Math.floor(usage.outputTokens)));
  const charges: BudgetCharge[] = [];
  for (const t of targets) {
    let amount: bigint;
    switch (t.unit) {
      case "USD":
        amount = costPicos;
        break;
      case "TOKENS":
        amount = tokens;
        break;
      case "REQUESTS":
        amount = outcome === "success" ? 1n : 0n;
        break;
      default:
        return assertNever(t.unit);
    }
    if (amount > 0n) charges.push({ budgetId: t.budgetId, windowStart: t.windowStart, amount });
  }
  return charges;
}

/**
 * Settles an admission: computes the cost at `admission.price`, charges every budget the request
 * counted against (HARD and SOFT), releases the holds, and (when `limiter` is given) replaces the
 * tokens counted against TOKENS rate limits by the actual ones. A charge above its hold is debt.
 * Settling an admission twice charges the ledger once.
 */
export function settleRequest(index: PolicyIndex, ledger: BudgetLedger, admission: Admission, usage: ActualUsage, outcome: "success" | "failed", now: number, limiter?: RateLimiter): Settlement {
  const targets = budgetTargetsOf(index, admission, now);
  const costPicos = computeCost(admission.price, usage);
  const charges = computeCharges(targets, costPicos, usage, outcome);
  ledger.settle(admission.reservation, charges, now);
  limiter?.adjust(admission.rateLimitCharges ?? [], Math.max(0, usage.inputTokens) + Math.max(0, usage.outputTokens));
  return { costPicos, charges };
}

/** The budgets an admission counts against: those recorded at admission, else its key's chain in the windows of `now`. */
export function budgetTargetsOf(index: PolicyIndex, admission: Admission, now: number): readonly BudgetTarget[] {
  return admission.budgetTargets ?? budgetsOfChain(index, index.scopeChainOf(admission.key)).map((b) => ({ budgetId: b.id, unit: b.unit, mode: b.mode, windowStart: windowStartOf(b.window, now) }));
}

/** Releases an admission's holds without charging (the request never reached the provider). */
export function releaseAdmission(ledger: BudgetLedger, admission: Admission): void {
  ledger.release(admission.reservation);
}
