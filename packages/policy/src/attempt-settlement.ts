/**
 * Settling a request some of whose attempts reached the provider without an answer the gateway
 * could use: the body went upstream, then the first byte timed out (and the request was retried on
 * another account) or the client went away while the provider worked. A provider bills a prompt it
 * received whatever happened to the answer, so each such attempt is charged its prompt at the price
 * of the account it went to — in the request's one settlement (one ledger settle, one usage record),
 * never separately, so each attempt is billed exactly once.
 *
 * Invariant: the charges are those of `settleRequest` for the answer's usage plus, in USD, the
 * cost of every earlier prompt and, in TOKENS, its tokens. The reservation bounded one attempt;
 * what earlier attempts add beyond it is carried as debt, like any charge above its hold.
 */
import type { BudgetLedger } from "./budget-ledger.js";
import type { ActualUsage, Admission } from "./decision.js";
import type { ModelPrice } from "./model.js";
import type { PolicyIndex } from "./policy-index.js";
import { computeCost } from "./pricing.js";
import type { RateLimiter } from "./rate-limiter.js";
import { budgetTargetsOf, computeCharges, type Settlement } from "./settlement.js";

/** An attempt whose body went upstream and that got no usable answer: its prompt, at its account's price. */
export interface UnansweredAttempt {
  readonly price: ModelPrice;
  readonly inputTokens: number;
}

/** A settlement with the usage it charged (the answer's, plus every unanswered attempt's prompt). */
export interface AttemptsSettlement extends Settlement {
  readonly usage: ActualUsage;
}

/**
 * Settles an admission for its answer's `usage` (null: no answer was used) and its `unanswered`
 * attempts (see the module contract), releasing the holds. With no unanswered attempt and a usage
 * it equals `settleRequest`. Settling an admission twice charges the ledger once.
 */
export function settleRequestAttempts(
  index: PolicyIndex,
  ledger: BudgetLedger,
  admission: Admission,
  usage: ActualUsage | null,
  unanswered: readonly UnansweredAttempt[],
  outcome: "success" | "failed",
  now: number,
  limiter?: RateLimiter,
): AttemptsSettlement {
  let costPicos = usage === null ? 0n : computeCost(admission.price, usage);
  let inputTokens = usage?.inputTokens ?? 0;
  for (const a of unanswered) {
    costPicos += computeCost(a.price, { inputTokens: a.inputTokens, cachedInputTokens: 0, outputTokens: 0 });
    inputTokens += a.inputTokens;
  }
  // The answer's usage with every token kind it carries (cache writes, audio), plus the unanswered prompts as plain input.
  const total: ActualUsage = { ...(usage ?? { cachedInputTokens: 0, outputTokens: 0 }), inputTokens };
  const charges = computeCharges(budgetTargetsOf(index, admission, now), costPicos, total, outcome);
  ledger.settle(admission.reservation, charges, now);
  limiter?.adjust(admission.rateLimitCharges ?? [], Math.max(0, total.inputTokens) + Math.max(0, total.outputTokens));
  return { costPicos, charges, usage: total };
}
