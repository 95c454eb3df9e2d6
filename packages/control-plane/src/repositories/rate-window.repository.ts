/**
 * SQL of `rate_limit_windows`: the units of each rate-limit window allocated to nodes. A claim is
 * one atomic UPDATE ... RETURNING whose grant follows `grantRateUnits` of @tollgate/policy and
 * never lets `allocated` pass the limit in force (read in the same statement), so concurrent
 * claims through any number of control-plane replicas never allocate more than the limit.
 */
import { toBigInt, type Queryable } from "../db/database.js";

/** One claim on a rate-limit window. */
export interface RateClaimRow {
  readonly rateLimitId: string;
  readonly windowStartMs: number;
  readonly needed: number;
  readonly want: number;
}

/**
 * The answer to a claim: units granted now, the window's allocation after it, the limit checked
 * (0 = the window is not served: unknown limit, misaligned start, or not current within the skew).
 */
export interface RateClaimResult {
  readonly granted: number;
  readonly allocated: number;
  readonly limit: number;
}

// Free units, and the grant rule of `grantRateUnits` (0 < $3 <= free; slice = ceil(free / $5), $5 = 2 * nodes).
const FREE = "(r.limit_amount - w.allocated)";
const GRANT = `LEAST(${FREE}, GREATEST($3::bigint, LEAST($4::bigint, (${FREE} + $5::bigint - 1) / $5::bigint)))`;

/**
 * Claims units of a window (created on first claim when `windowStartMs` is aligned to the limit's
 * window and the window is current within `skewMs` of `nowMs`). Nothing is granted for an unknown
 * limit or a window out of range (answered with limit 0), or when fewer than `needed` units are free.
 */
export async function claimRateUnits(q: Queryable, claim: RateClaimRow, nodes: number, nowMs: number, skewMs: number): Promise<RateClaimResult> {
  const { rateLimitId, windowStartMs, needed, want } = claim;
  await q.query(
    `INSERT INTO rate_limit_windows (rate_limit_id, window_start_ms, window_end_ms)
     SELECT id, $2::bigint, $2::bigint + window_seconds::bigint * 1000 FROM rate_limits
     WHERE id = $1 AND $2::bigint % (window_seconds::bigint * 1000) = 0
       AND $2::bigint <= $3::bigint + $4::bigint AND $2::bigint + window_seconds::bigint * 1000 + $4::bigint > $3::bigint
     ON CONFLICT (rate_limit_id, window_start_ms) DO NOTHING`,
    [rateLimitId, windowStartMs, nowMs, skewMs],
  );
  const rows = await q.query<{ allocated: string; last_granted: string; limit_amount: string }>(
    `UPDATE rate_limit_windows AS w SET allocated = w.allocated + ${GRANT}, last_granted = ${GRANT}
     FROM rate_limits AS r
     WHERE w.rate_limit_id = $1 AND w.window_start_ms = $2 AND r.id = w.rate_limit_id
       AND w.window_end_ms - w.window_start_ms = r.window_seconds::bigint * 1000
       AND w.window_start_ms <= $6::bigint + $7::bigint AND w.window_end_ms + $7::bigint > $6::bigint
       AND ${FREE} >= $3::bigint
     RETURNING w.allocated, w.last_granted, r.limit_amount`,
    [rateLimitId, windowStartMs, needed, want, 2 * nodes, nowMs, skewMs],
  );
  const row = rows[0];
  if (row) return { granted: Number(toBigInt(row.last_granted)), allocated: Number(toBigInt(row.allocated)), limit: Number(toBigInt(row.limit_amount)) };
  const state = await q.query<{ allocated: string | null; limit_amount: string; served: boolean }>(
    `SELECT w.allocated, r.limit_amount,
            ($2::bigint % (r.window_seconds::bigint * 1000) = 0 AND $2::bigint <= $3::bigint + $4::bigint
             AND $2::bigint + r.window_seconds::bigint * 1000 + $4::bigint > $3::bigint) AS served
     FROM rate_limits AS r LEFT JOIN rate_limit_windows AS w ON w.rate_limit_id = r.id AND w.window_start_ms = $2
     WHERE r.id = $1`,
    [rateLimitId, windowStartMs, nowMs, skewMs],
  );
  const info = state[0];
  if (info === undefined || !info.served) return { granted: 0, allocated: 0, limit: 0 };
  return { granted: 0, allocated: Number(toBigInt(info.allocated)), limit: Number(toBigInt(info.limit_amount)) };
}

/** Deletes the rows of windows that ended before `cutoffMs`; resolves to how many. */
export async function deleteRateWindowsBefore(q: Queryable, cutoffMs: number): Promise<number> {
  const rows = await q.query<{ n: string }>(`WITH gone AS (DELETE FROM rate_limit_windows WHERE window_end_ms < $1 RETURNING 1) SELECT count(*)::bigint AS n FROM gone`, [cutoffMs]);
  return Number(toBigInt(rows[0]?.n));
}
