/**
 * The Simulator's view of a key's budgets: for every budget on the key's chain, what the admin set
 * (limit, unit, window, mode), what has been used and what remains in the current window (from
 * the control plane's ledger), and — on a data-plane node — what this node holds of it in grants.
 * Shared by the node's `POST /v1/simulate` and the control plane's `simulate` query.
 */
import { budgetsOfChain, describeBudget, formatUsdPicos, windowEndOf, windowStartOf, type BudgetPolicy, type BudgetUnit, type PolicyIndex, type VirtualKeyPolicy } from "@tollgate/policy";

/** One budget of the simulated key's chain. Amounts are dollars for USD, whole counts otherwise. */
export interface SimulatedBudget {
  readonly id: string;
  /** `monthly USD budget of team "search"`. */
  readonly name: string;
  readonly scope: BudgetPolicy["scope"];
  readonly unit: BudgetUnit;
  readonly window: BudgetPolicy["window"];
  readonly mode: BudgetPolicy["mode"];
  readonly limit: string;
  /** Settled use in the current window; null when it could not be learned (control plane unreachable). */
  readonly used: string | null;
  /** limit - used (never below 0); null when `used` is unknown. */
  readonly remaining: string | null;
  /** ISO time of the next reset; null for TOTAL budgets. */
  readonly resetsAt: string | null;
  /** What this node may still spend of it from its grants (data plane only; null on the control plane). */
  readonly heldByThisNode: string | null;
}

/** A budget window to look up: the budget and the start of its current window. */
export interface BudgetWindowRef {
  readonly budget: BudgetPolicy;
  readonly windowStart: number;
}

/** The current windows of every budget on `key`'s chain, in chain order. */
export function budgetWindowsOfKey(index: PolicyIndex, key: VirtualKeyPolicy, nowMs: number): BudgetWindowRef[] {
  return budgetsOfChain(index, index.scopeChainOf(key)).map((budget) => ({ budget, windowStart: windowStartOf(budget.window, nowMs) }));
}

/** Formats an amount of `unit`: dollars for USD (pico-dollars in), the count otherwise. */
export function formatBudgetAmount(unit: BudgetUnit, amount: bigint): string {
  return unit === "USD" ? formatUsdPicos(amount) : amount.toString();
}

/** The report entry of one budget window; `used` / `held` null when unknown / not applicable. */
export function simulatedBudgetOf(ref: BudgetWindowRef, used: bigint | null, held: bigint | null): SimulatedBudget {
  const { budget, windowStart } = ref;
  const end = windowEndOf(budget.window, windowStart);
  const remaining = used === null ? null : budget.limit > used ? budget.limit - used : 0n;
  return {
    id: budget.id,
    name: describeBudget(budget),
    scope: budget.scope,
    unit: budget.unit,
    window: budget.window,
    mode: budget.mode,
    limit: formatBudgetAmount(budget.unit, budget.limit),
    used: used === null ? null : formatBudgetAmount(budget.unit, used),
    remaining: remaining === null ? null : formatBudgetAmount(budget.unit, remaining),
    resetsAt: end === null ? null : new Date(end).toISOString(),
    heldByThisNode: held === null ? null : formatBudgetAmount(budget.unit, held),
  };
}
