/** SQL of the budget ledger: `budget_usage` and `budget_grants` (holder = node id + boot id). */
import { toBigInt, type Queryable } from "../db/database.js";

/** A holder's grant row in one budget window (see `LeaseRow` in @tollgate/policy). */
export interface GrantRow {
  readonly granted: bigint;
  readonly consumed: bigint;
  readonly expiresAtMs: number;
  readonly generation: bigint;
}

/** What a budget window looks like to one holder, read in one statement (one consistent snapshot). */
export interface WindowState {
  readonly used: bigint;
  /** Σ max(granted - consumed, 0) over other holders' grants not yet reclaimed (expiry + grace in the future). */
  readonly othersOutstanding: bigint;
  /** This holder's row (expired or not), or null. */
  readonly mine: GrantRow | null;
}

/**
 * Reads used, others' outstanding grants and the holder's own grant of a budget window. A grant's
 * outstanding counts until `expires_at_ms + graceMs` (the reclaim rule of `countedOutstanding`).
 */
export async function readWindowState(q: Queryable, budgetId: string, windowStartMs: number, holder: string, nowMs: number, graceMs = 0): Promise<WindowState> {
  const rows = await q.query<{ used: string | null; others: string | null; granted: string | null; consumed: string | null; expires_at_ms: string | null; generation: string | null }>(
    `SELECT
       (SELECT used FROM budget_usage WHERE budget_id = $1 AND window_start_ms = $2) AS used,
       (SELECT COALESCE(SUM(GREATEST(granted - consumed, 0)), 0) FROM budget_grants
          WHERE budget_id = $1 AND window_start_ms = $2 AND holder <> $3 AND expires_at_ms + $5::bigint > $4) AS others,
       g.granted, g.consumed, g.expires_at_ms, g.generation
     FROM (SELECT 1) AS one
     LEFT JOIN budget_grants g ON g.budget_id = $1 AND g.window_start_ms = $2 AND g.holder = $3`,
    [budgetId, windowStartMs, holder, nowMs, graceMs],
  );
  const r = rows[0];
  return {
    used: toBigInt(r?.used),
    othersOutstanding: toBigInt(r?.others),
    mine: r && r.granted !== null ? { granted: toBigInt(r.granted), consumed: toBigInt(r.consumed), expiresAtMs: Number(r.expires_at_ms), generation: toBigInt(r.generation) } : null,
  };
}

/**
 * Adds `amount` to a holder's grant (re-based on `consumed` when the row was reclaimed, see
 * `applyGrantToRow`), moves its expiry and bumps its generation; resolves to the new row.
 */
export async function addToGrant(q: Queryable, budgetId: string, windowStartMs: number, holder: string, amount: bigint, expiresAtMs: number, nowMs = 0, graceMs = 0): Promise<GrantRow> {
  const rows = await q.query<{ granted: string; consumed: string; expires_at_ms: string; generation: string }>(
    `INSERT INTO budget_grants (budget_id, window_start_ms, holder, granted, consumed, expires_at_ms, generation) VALUES ($1, $2, $3, $4, 0, $5, 1)
     ON CONFLICT (budget_id, window_start_ms, holder) DO UPDATE SET
       granted = (CASE WHEN budget_grants.expires_at_ms + $7::bigint <= $6 THEN budget_grants.consumed ELSE budget_grants.granted END) + EXCLUDED.granted,
       expires_at_ms = EXCLUDED.expires_at_ms, generation = budget_grants.generation + 1
     RETURNING granted, consumed, expires_at_ms, generation`,
    [budgetId, windowStartMs, holder, amount.toString(), expiresAtMs, nowMs, graceMs],
  );
  const r = rows[0];
  return { granted: toBigInt(r?.granted), consumed: toBigInt(r?.consumed), expiresAtMs: Number(r?.expires_at_ms ?? 0), generation: toBigInt(r?.generation) };
}

/**
 * Gives back unspent grant: granted becomes min(granted, max(consumed, keepTotal)) and the
 * generation moves, only if the row is still at `expectedGeneration` (0 = unconditional). The
 * same rule as `applyReleaseToRow`; resolves to whether the row changed.
 */
export async function releaseGrant(q: Queryable, budgetId: string, windowStartMs: number, holder: string, keepTotal: bigint, expectedGeneration = 0n): Promise<boolean> {
  const rows = await q.query<{ generation: string }>(
    `UPDATE budget_grants SET granted = LEAST(granted, GREATEST(consumed, $4::numeric)), generation = generation + 1
     WHERE budget_id = $1 AND window_start_ms = $2 AND holder = $3 AND ($5::bigint = 0 OR generation = $5::bigint)
     RETURNING generation`,
    [budgetId, windowStartMs, holder, keepTotal.toString(), expectedGeneration.toString()],
  );
  return rows.length > 0;
}

/** One holder's grant row, or null (tests and the propagation view). */
export async function findGrant(q: Queryable, budgetId: string, windowStartMs: number, holder: string): Promise<GrantRow | null> {
  const rows = await q.query<{ granted: string; consumed: string; expires_at_ms: string; generation: string }>(
    "SELECT granted, consumed, expires_at_ms, generation FROM budget_grants WHERE budget_id = $1 AND window_start_ms = $2 AND holder = $3",
    [budgetId, windowStartMs, holder],
  );
  const r = rows[0];
  return r ? { granted: toBigInt(r.granted), consumed: toBigInt(r.consumed), expiresAtMs: Number(r.expires_at_ms), generation: toBigInt(r.generation) } : null;
}

/** Adds ingested spend to the holder's `consumed` (no row: nothing to do). */
export async function addGrantConsumed(q: Queryable, budgetId: string, windowStartMs: number, holder: string, amount: bigint): Promise<void> {
  await q.query("UPDATE budget_grants SET consumed = consumed + $4::numeric WHERE budget_id = $1 AND window_start_ms = $2 AND holder = $3", [budgetId, windowStartMs, holder, amount.toString()]);
}

/** Adds ingested spend to a budget window's `used`. */
export async function addBudgetUsed(q: Queryable, budgetId: string, windowStartMs: number, amount: bigint): Promise<void> {
  await q.query(
    `INSERT INTO budget_usage (budget_id, window_start_ms, used) VALUES ($1, $2, $3)
     ON CONFLICT (budget_id, window_start_ms) DO UPDATE SET used = budget_usage.used + EXCLUDED.used`,
    [budgetId, windowStartMs, amount.toString()],
  );
}
