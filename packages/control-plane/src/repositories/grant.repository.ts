/** SQL of the budget ledger: `budget_usage` and `budget_grants` (holder = node id + boot id). */
import { toBigInt, type Queryable } from "../db/database.js";

/** A holder's grant row in one budget window. */
export interface GrantRow {
  readonly granted: bigint;
  readonly consumed: bigint;
  readonly expiresAtMs: number;
}

/** What a budget window looks like to one holder, read in one statement (one consistent snapshot). */
export interface WindowState {
  readonly used: bigint;
  /** Σ max(granted - consumed, 0) over other holders' unexpired grants. */
  readonly othersOutstanding: bigint;
  /** This holder's row (expired or not), or null. */
  readonly mine: GrantRow | null;
}

/** Reads used, others' outstanding grants and the holder's own grant of a budget window. */
export async function readWindowState(q: Queryable, budgetId: string, windowStartMs: number, holder: string, nowMs: number): Promise<WindowState> {
  const rows = await q.query<{ used: string | null; others: string | null; granted: string | null; consumed: string | null; expires_at_ms: string | null }>(
    `SELECT
       (SELECT used FROM budget_usage WHERE budget_id = $1 AND window_start_ms = $2) AS used,
       (SELECT COALESCE(SUM(GREATEST(granted - consumed, 0)), 0)::bigint FROM budget_grants
          WHERE budget_id = $1 AND window_start_ms = $2 AND holder <> $3 AND expires_at_ms > $4) AS others,
       g.granted, g.consumed, g.expires_at_ms
     FROM (SELECT 1) AS one
     LEFT JOIN budget_grants g ON g.budget_id = $1 AND g.window_start_ms = $2 AND g.holder = $3`,
    [budgetId, windowStartMs, holder, nowMs],
  );
  const r = rows[0];
  return {
    used: toBigInt(r?.used),
    othersOutstanding: toBigInt(r?.others),
    mine: r && r.granted !== null ? { granted: toBigInt(r.granted), consumed: toBigInt(r.consumed), expiresAtMs: Number(r.expires_at_ms) } : null,
  };
}

/** Adds `amount` to a holder's grant and sets its expiry; resolves to the new granted total. */
export async function addToGrant(q: Queryable, budgetId: string, windowStartMs: number, holder: string, amount: bigint, expiresAtMs: number): Promise<bigint> {
  const rows = await q.query<{ granted: string }>(
    `INSERT INTO budget_grants (budget_id, window_start_ms, holder, granted, consumed, expires_at_ms) VALUES ($1, $2, $3, $4, 0, $5)
     ON CONFLICT (budget_id, window_start_ms, holder) DO UPDATE SET granted = budget_grants.granted + EXCLUDED.granted, expires_at_ms = EXCLUDED.expires_at_ms
     RETURNING granted`,
    [budgetId, windowStartMs, holder, amount.toString(), expiresAtMs],
  );
  return toBigInt(rows[0]?.granted);
}

/** Shrinks a holder's grant to max(consumed, spentTotal): the rest goes back to the budget. */
export async function releaseGrant(q: Queryable, budgetId: string, windowStartMs: number, holder: string, spentTotal: bigint): Promise<void> {
  await q.query(
    "UPDATE budget_grants SET granted = GREATEST(consumed, $4::bigint) WHERE budget_id = $1 AND window_start_ms = $2 AND holder = $3",
    [budgetId, windowStartMs, holder, spentTotal.toString()],
  );
}

/** Adds ingested spend to the holder's `consumed` (no row: nothing to do). */
export async function addGrantConsumed(q: Queryable, budgetId: string, windowStartMs: number, holder: string, amount: bigint): Promise<void> {
  await q.query(
    "UPDATE budget_grants SET consumed = consumed + $4::bigint WHERE budget_id = $1 AND window_start_ms = $2 AND holder = $3",
    [budgetId, windowStartMs, holder, amount.toString()],
  );
}

/** Adds ingested spend to a budget window's `used`. */
export async function addBudgetUsed(q: Queryable, budgetId: string, windowStartMs: number, amount: bigint): Promise<void> {
  await q.query(
    `INSERT INTO budget_usage (budget_id, window_start_ms, used) VALUES ($1, $2, $3)
     ON CONFLICT (budget_id, window_start_ms) DO UPDATE SET used = budget_usage.used + EXCLUDED.used`,
    [budgetId, windowStartMs, amount.toString()],
  );
}
