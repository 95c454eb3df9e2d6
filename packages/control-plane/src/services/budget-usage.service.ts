/**
 * What budgets have used in a window, as the control plane's ledger knows it: settled use and what
 * every node holds in outstanding grants. Serves the nodes' `GetBudgetUsage` (the Simulator) and
 * the `simulate` query.
 */
import type { Queryable } from "../db/database.js";
import { readWindowState } from "../repositories/grant.repository.js";

/** One budget window to read. */
export interface BudgetWindowAsk {
  readonly budgetId: string;
  readonly windowStartMs: number;
}

/** Settled use and outstanding grants of one budget window. */
export interface BudgetWindowUse extends BudgetWindowAsk {
  readonly used: bigint;
  readonly held: bigint;
}

/** A holder name no node has (real ones are `node/boot`): every node's grants count as outstanding. */
const NO_HOLDER = "(usage view)";

/** At most this many windows per call (a key's chain has a handful). */
export const MAX_BUDGET_WINDOWS = 64;

/** Reads each asked window (the first `MAX_BUDGET_WINDOWS`), in order; grants count until expiry + `graceMs`. */
export async function readBudgetUsage(q: Queryable, asks: readonly BudgetWindowAsk[], nowMs: number, graceMs: number): Promise<BudgetWindowUse[]> {
  const out: BudgetWindowUse[] = [];
  for (const ask of asks.slice(0, MAX_BUDGET_WINDOWS)) {
    const state = await readWindowState(q, ask.budgetId, ask.windowStartMs, NO_HOLDER, nowMs, graceMs);
    out.push({ ...ask, used: state.used, held: state.othersOutstanding });
  }
  return out;
}
