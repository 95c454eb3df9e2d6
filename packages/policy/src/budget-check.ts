/**
 * Budget evaluation of one request against every budget of its scope chain (pure; reads the
 * ledger, reserves nothing). HARD budgets need holds; SOFT budgets are only charged afterwards.
 *
 * Enforcement when the local grant cannot pay the full upper bound (second pass, allowPartial):
 * - CAP_OUTPUT: the output limit is lowered to what the budget can still pay after the input; the
 *   request is admitted if that is at least min(16, the starting cap). Never exceeds the budget.
 * - STRICT: admitted only if the full upper bound (at the final output cap) fits.
 * - ESTIMATE: admitted if the budget can pay the input plus 25% of the output cap; the hold is
 *   what is available (at most the upper bound). Documented bound: a window may be exceeded by at
 *   most the sum over in-flight ESTIMATE requests of (upper bound - hold), i.e. < 75% of each
 *   one's output-cap cost; the excess is recorded as debt.
 */
import type { BudgetHold, DecisionCheck, GrantShortfall, RefusalCode } from "./decision.js";
import type { BudgetLedger } from "./budget-ledger.js";
import type { BudgetPolicy, BudgetUnit, ModelPrice } from "./model.js";
import { formatUsdPicos } from "./money.js";
import { affordableOutputTokens, upperBoundCost } from "./pricing.js";
import { assertNever, windowEndOf, windowLabel, windowStartOf } from "./windows.js";

/** The smallest output limit CAP_OUTPUT lowers a request to before refusing it. */
export const MIN_CAPPED_OUTPUT_TOKENS = 16;

/** What `evaluateBudgets` needs to know of the request. */
export interface BudgetRequest {
  readonly budgets: readonly BudgetPolicy[];
  readonly price: ModelPrice;
  readonly inputTokens: number;
  /** The output limit before any capping (0 for embeddings). */
  readonly startCap: number;
  readonly now: number;
  readonly allowPartial: boolean;
  readonly grantsUnavailable: boolean;
  /** Record the checks that passed (default true); false records only a failed one. */
  readonly explain?: boolean;
}

/** The outcome of `evaluateBudgets`. */
export type BudgetEvaluation =
  | { readonly ok: true; readonly outputCap: number; readonly holds: readonly BudgetHold[]; readonly checks: readonly DecisionCheck[] }
  | {
      readonly ok: false;
      readonly code: Extract<RefusalCode, "budget_exceeded" | "budget_unverifiable">;
      readonly message: string;
      readonly retryAfterMs: number | null;
      readonly shortfalls: readonly GrantShortfall[];
      readonly checks: readonly DecisionCheck[];
    };

/** `monthly USD budget of team "search"`. */
export function describeBudget(budget: BudgetPolicy): string {
  return `${windowLabel(budget.window)} ${unitLabel(budget.unit)} budget of ${budget.scopeLabel}`;
}

function unitLabel(unit: BudgetUnit): string {
  switch (unit) {
    case "USD":
      return "USD";
    case "TOKENS":
      return "token";
    case "REQUESTS":
      return "request";
    default:
      return assertNever(unit);
  }
}

function formatAmount(unit: BudgetUnit, amount: bigint): string {
  return unit === "USD" ? `$${formatUsdPicos(amount)}` : `${amount.toString()} ${unit.toLowerCase()}`;
}

/** A request's hold on a budget: USD upper-bound cost, TOKENS input + output cap, REQUESTS 1. */
export function holdAmountOf(unit: BudgetUnit, price: ModelPrice, inputTokens: number, outputCap: number): bigint {
  switch (unit) {
    case "USD":
      return upperBoundCost(price, inputTokens, outputCap);
    case "TOKENS":
      return BigInt(Math.max(0, inputTokens) + Math.max(0, outputCap));
    case "REQUESTS":
      return 1n;
    default:
      return assertNever(unit);
  }
}

/** ESTIMATE's admission threshold: the input plus 25% (rounded up) of the output cap. */
export function estimateAmountOf(unit: BudgetUnit, price: ModelPrice, inputTokens: number, outputCap: number): bigint {
  return holdAmountOf(unit, price, inputTokens, Math.ceil(Math.max(0, outputCap) / 4));
}

/** The most output a budget with `available` can pay after the input; -1 if not even the input. */
function affordableOutput(budget: BudgetPolicy, price: ModelPrice, inputTokens: number, available: bigint, startCap: number): number {
  switch (budget.unit) {
    case "USD":
      return affordableOutputTokens(price, inputTokens, available);
    case "TOKENS": {
      const room = available - BigInt(Math.max(0, inputTokens));
      return room < 0n ? -1 : room > BigInt(startCap) ? startCap : Number(room);
    }
    case "REQUESTS":
      return available >= 1n ? startCap : -1;
    default:
      return assertNever(budget.unit);
  }
}

interface HardState {
  readonly budget: BudgetPolicy;
  readonly windowStart: number;
  readonly available: bigint;
  readonly fullHold: bigint;
}

/** Evaluates every budget; on success returns the holds for HARD budgets and the final output cap. */
export function evaluateBudgets(ledger: BudgetLedger, req: BudgetRequest): BudgetEvaluation {
  const checks: DecisionCheck[] = [];
  const hard: HardState[] = [];
  for (const budget of req.budgets) {
    if (budget.mode === "SOFT") {
      if (req.explain !== false) checks.push({ name: "budget", level: budget.scope, passed: true, detail: `${describeBudget(budget)} is soft (alerts only)` });
      continue;
    }
    const windowStart = windowStartOf(budget.window, req.now);
    const available = ledger.available(budget.id, windowStart, req.now);
    hard.push({ budget, windowStart, available, fullHold: holdAmountOf(budget.unit, req.price, req.inputTokens, req.startCap) });
  }

  const refuse = (state: HardState, shortfalls: readonly GrantShortfall[], why: string): BudgetEvaluation => {
    const unverifiable = req.grantsUnavailable && !ledger.isExhausted(state.budget.id, state.windowStart);
    const name = describeBudget(state.budget);
    checks.push({ name: "budget", level: state.budget.scope, passed: false, detail: `${name}: ${why}` });
    const end = windowEndOf(state.budget.window, state.windowStart);
    return {
      ok: false,
      code: unverifiable ? "budget_unverifiable" : "budget_exceeded",
      message: unverifiable ? `${name} cannot be verified right now` : `${name} is exhausted`,
      retryAfterMs: unverifiable || end === null ? null : Math.max(0, end - req.now),
      shortfalls,
      checks,
    };
  };

  const short = hard.filter((s) => s.available < s.fullHold);
  let outputCap = req.startCap;
  if (short.length > 0 && !req.allowPartial) {
    const shortfalls = short.map((s) => ({
      budgetId: s.budget.id,
      windowStart: s.windowStart,
      needed: s.fullHold - s.available,
      upperBound: s.fullHold,
    }));
    const first = short[0] as HardState;
    return refuse(first, shortfalls, `${formatAmount(first.budget.unit, first.available)} available locally, request needs up to ${formatAmount(first.budget.unit, first.fullHold)}`);
  }

  let limiting: HardState | null = null;
  for (const s of short) {
    if (s.budget.enforcement !== "CAP_OUTPUT") continue;
    const affordable = affordableOutput(s.budget, req.price, req.inputTokens, s.available, req.startCap);
    if (affordable < 0) return refuse(s, [], `${formatAmount(s.budget.unit, s.available)} left cannot pay the request's input`);
    if (affordable < outputCap) {
      outputCap = affordable;
      limiting = s;
    }
  }
  if (limiting !== null && outputCap < Math.min(MIN_CAPPED_OUTPUT_TOKENS, req.startCap)) {
    return refuse(limiting, [], `${formatAmount(limiting.budget.unit, limiting.available)} left pays only ${outputCap} output tokens`);
  }

  const holds: BudgetHold[] = [];
  for (const s of hard) {
    const { budget } = s;
    const hold = holdAmountOf(budget.unit, req.price, req.inputTokens, outputCap);
    let amount = hold;
    if (hold > s.available) {
      switch (budget.enforcement) {
        case "CAP_OUTPUT":
        case "STRICT":
          return refuse(s, [], `${formatAmount(budget.unit, s.available)} left, request needs up to ${formatAmount(budget.unit, hold)}`);
        case "ESTIMATE": {
          const estimate = estimateAmountOf(budget.unit, req.price, req.inputTokens, outputCap);
          if (estimate > s.available) {
            return refuse(s, [], `${formatAmount(budget.unit, s.available)} left, request is estimated at ${formatAmount(budget.unit, estimate)}`);
          }
          amount = s.available;
          break;
        }
        default:
          return assertNever(budget.enforcement);
      }
    }
    holds.push({ budgetId: budget.id, unit: budget.unit, windowStart: s.windowStart, amount });
    if (req.explain === false) continue;
    checks.push({
      name: "budget",
      level: budget.scope,
      passed: true,
      detail: `${describeBudget(budget)} (${budget.enforcement}): holds ${formatAmount(budget.unit, amount)} of ${formatAmount(budget.unit, s.available)} available`,
    });
  }
  return { ok: true, outputCap, holds, checks };
}
