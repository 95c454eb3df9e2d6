/**
 * The control plane's lease rules as pure functions, shared by its SQL ledger and by the seeded
 * simulation of the whole lease protocol. A lease (grant) row belongs to one holder (node id +
 * boot id) in one budget window: `granted` (cumulative), `consumed` (usage ingested from that
 * holder), `expiresAtMs`, and `generation` (bumped by every change, so a node applies answers in
 * order and a conditional release can tell whether the row moved since the node last saw it).
 *
 * The rule (see docs/reliability.md):
 * - A node must not reserve against a grant at or after its expiry. Records of requests reserved
 *   before the expiry may arrive later and are still counted (they add to `used` and `consumed`).
 * - The control plane keeps a holder's outstanding (granted - consumed) reserved while the grant
 *   is live AND for `reclaimGraceMs` after its expiry; only then is it reclaimed (presumed dead).
 *   A node that goes idle or whose grant expired releases what it did not spend (granted becomes
 *   max(consumed, spent + reserved)), which frees the rest at once and leaves exactly the
 *   not-yet-reported spend outstanding.
 * - Invariant for every hard budget window, whenever a grant is handed out:
 *   used + Σ counted outstanding <= limit.
 */

/** One holder's grant row in one budget window. */
export interface LeaseRow {
  readonly granted: bigint;
  readonly consumed: bigint;
  readonly expiresAtMs: number;
  readonly generation: bigint;
}

/** What a grant answer gives: the amount added and whether the node is in the tail. */
export interface GrantSize {
  readonly amount: bigint;
  /** true when the budget had less free than was wanted (tail mode: grants shrink to the need). */
  readonly exhausted: boolean;
}

/** True once a row's outstanding is no longer held for its holder (expiry + grace passed). */
export function isReclaimed(row: Pick<LeaseRow, "expiresAtMs">, nowMs: number, reclaimGraceMs: number): boolean {
  return nowMs >= row.expiresAtMs + reclaimGraceMs;
}

/** What a row keeps reserved at `nowMs`: max(granted - consumed, 0) until expiry + grace, then 0. */
export function countedOutstanding(row: LeaseRow, nowMs: number, reclaimGraceMs: number): bigint {
  if (isReclaimed(row, nowMs, reclaimGraceMs)) return 0n;
  const out = row.granted - row.consumed;
  return out > 0n ? out : 0n;
}

/**
 * Sizes a grant from what is free: `needed` when free allows (else all that is free, exhausted).
 * Above the need the node gets its whole `want` only while the budget could give it that and keep
 * at least as much again for the others (free - needed >= 2 * (want - needed)). Otherwise the
 * budget is nearly spent (tail mode): the node gets exactly `needed`, small synchronous grants,
 * and is told it is exhausted, so no node strands the last of a budget.
 */
export function sizeGrant(free: bigint, needed: bigint, want: bigint): GrantSize {
  const f = free > 0n ? free : 0n;
  const n = needed > 0n ? needed : 0n;
  const w = want > n ? want : n;
  if (f < n) return { amount: f, exhausted: true };
  const extraWanted = w - n;
  if (extraWanted === 0n) return { amount: n, exhausted: false };
  if (f - n < 2n * extraWanted) return { amount: n, exhausted: true };
  return { amount: n + extraWanted, exhausted: false };
}

/**
 * A grant on a row (null = no row yet): a reclaimed row is re-based on what was consumed, so an
 * outstanding amount handed back to the budget is never revived; the expiry moves to `expiresAtMs`.
 */
export function applyGrantToRow(row: LeaseRow | null, amount: bigint, expiresAtMs: number, nowMs: number, reclaimGraceMs: number): LeaseRow {
  if (row === null) return { granted: amount, consumed: 0n, expiresAtMs, generation: 1n };
  const base = isReclaimed(row, nowMs, reclaimGraceMs) ? row.consumed : row.granted;
  return { granted: base + amount, consumed: row.consumed, expiresAtMs, generation: row.generation + 1n };
}

/**
 * A release on a row: granted becomes max(consumed, keepTotal), only if the row is still at
 * `expectedGeneration` (0 = unconditional: the holder will never reserve again, e.g. shutdown).
 * Returns the row unchanged when the condition fails.
 */
export function applyReleaseToRow(row: LeaseRow, keepTotal: bigint, expectedGeneration: bigint): LeaseRow {
  if (expectedGeneration !== 0n && row.generation !== expectedGeneration) return row;
  const granted = keepTotal > row.consumed ? keepTotal : row.consumed;
  return { ...row, granted: granted < row.granted ? granted : row.granted, generation: row.generation + 1n };
}
