/**
 * The budgets' settled use as the control plane's ledger knows it, asked for by the Simulator so it
 * reports each budget's limit, use and remainder for the key (what the admin set), not only what
 * this node holds. Off the request path: only `/v1/simulate` waits on it, with a short deadline.
 */
import { create } from "@bufbuild/protobuf";
import { BudgetUsageRequestSchema, BudgetWindowRefSchema } from "@tollgate/proto";
import type { ControlPlaneLink } from "./control-plane-link.js";

/** A budget window to ask about. */
export interface BudgetWindowAsk {
  readonly budgetId: string;
  readonly windowStartMs: number;
}

/** Settled use and every node's outstanding grants of one window. */
export interface BudgetWindowUse {
  readonly used: bigint;
  readonly held: bigint;
}

/** Reads the asked windows; null when the control plane could not answer (unreachable, too slow). */
export type BudgetUsageSource = (asks: readonly BudgetWindowAsk[]) => Promise<ReadonlyMap<string, BudgetWindowUse> | null>;

/** The map key of a window in a `BudgetUsageSource` answer. */
export function budgetWindowKey(budgetId: string, windowStartMs: number): string {
  return `${budgetId}@${windowStartMs}`;
}

/** A source that never knows (no control plane configured, e.g. in-process tests). */
export const unknownBudgetUsage: BudgetUsageSource = async () => null;

/** Asks the control plane over `link`, giving up after `timeoutMs`. */
export function createBudgetUsageSource(link: ControlPlaneLink, timeoutMs: number): BudgetUsageSource {
  return async (asks) => {
    if (asks.length === 0) return new Map();
    const req = create(BudgetUsageRequestSchema, {
      budgets: asks.map((a) => create(BudgetWindowRefSchema, { budgetId: a.budgetId, windowStartMs: BigInt(a.windowStartMs) })),
    });
    try {
      const res = await link.current().getBudgetUsage(req, timeoutMs);
      return new Map(res.usages.map((u) => [budgetWindowKey(u.budgetId, Number(u.windowStartMs)), { used: u.used, held: u.held }]));
    } catch {
      return null;
    }
  };
}
