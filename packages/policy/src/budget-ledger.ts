/**
 * The node's local budget ledger: per (budget, window) what the control plane granted this node,
 * what it spent and what in-flight requests hold. Invariant (with sound holds): for every entry,
 * spent + reserved <= grantedTotal, because a hold is only taken out of `available`
 * (= granted - spent - reserved, and 0 once the grant expired) and settlement replaces a hold by a
 * charge no larger than it. A charge larger than its hold is debt: `spent` keeps it, and the
 * entry's `available` stays 0 until the control plane grants more. Not thread-shared state: one
 * ledger per node, mutated synchronously.
 */
import type { BudgetCharge, BudgetHold, GrantShortfall, Reservation } from "./decision.js";
import { DemandWindow } from "./demand-window.js";

/** How long demand samples count as "recent". */
export const DEMAND_HORIZON_MS = 30_000;
/** A grant expiring within this is renewed in the background. */
export const RENEW_BEFORE_EXPIRY_MS = 60_000;

/** A read-only view of one ledger entry, for metrics and for releasing grants on shutdown. */
export interface LedgerEntry {
  readonly budgetId: string;
  readonly windowStart: number;
  readonly grantedTotal: bigint;
  readonly expiresAt: number;
  readonly spent: bigint;
  readonly reserved: bigint;
  readonly exhausted: boolean;
  /** Epoch ms at which the window ends, when known (from `applyGrant`); null = unknown or TOTAL. */
  readonly windowEnd: number | null;
  /** The control plane's generation of this grant as last applied (0 = unknown). */
  readonly generation: bigint;
  /** Epoch ms of the last reservation or applied grant (idle detection). */
  readonly lastActiveAt: number;
}

/**
 * Unspent grant the node gives back (maps to proto `GrantRelease`): the control plane sets the
 * grant to max(consumed, keepTotal) if its row is still at `expectedGeneration` (0 = always).
 */
export interface GrantReleasePlan {
  readonly budgetId: string;
  readonly windowStart: number;
  /** What the node keeps: spent + reserved (the node already shrank its own view to this). */
  readonly keepTotal: bigint;
  readonly expectedGeneration: bigint;
}

/** When idle grants are given back (see `takeIdleReleases`). */
export interface IdleReleasePolicy {
  /** Give back a live grant's unspent part after this long without reservations. */
  readonly idleMs: number;
  /** The same in the tail (the control plane said the budget is nearly spent). */
  readonly tailIdleMs: number;
}

/** Default idle release: 15 s, and 500 ms in the tail. */
export const DEFAULT_IDLE_RELEASE: IdleReleasePolicy = { idleMs: 15_000, tailIdleMs: 500 };

/** A grant the node should ask the control plane for (maps to proto `GrantRequest`). */
export interface GrantRequestPlan {
  readonly budgetId: string;
  readonly windowStart: number;
  /** What is needed now beyond what is held (0 = background top-up). */
  readonly needed: bigint;
  /** What the node would like in addition, sized to recent demand; always >= needed. */
  readonly want: bigint;
}

interface MutableEntry {
  budgetId: string;
  windowStart: number;
  grantedTotal: bigint;
  expiresAt: number;
  spent: bigint;
  reserved: bigint;
  exhausted: boolean;
  windowEnd: number | null;
  /** Held amounts of recent reservations (the last `DEMAND_HORIZON_MS`). */
  demand: DemandWindow;
  /** The largest single hold of the latest reservation attempt. */
  lastUpperBound: bigint;
  generation: bigint;
  lastActiveAt: number;
}

const entryKey = (budgetId: string, windowStart: number): string => `${budgetId}@${windowStart}`;
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** The per-node ledger of granted, spent and reserved budget. */
export class BudgetLedger {
  readonly #entries = new Map<string, MutableEntry>();
  readonly #active = new Map<number, Reservation>();
  #nextReservationId = 1;

  /**
   * Records a grant answer; true when it was applied. Without `generation`, `grantedTotal` is
   * cumulative and never decreases: a smaller total (a stale answer) is ignored. With the control
   * plane's row `generation`, answers apply in generation order (an older one is ignored) and the
   * answer is the truth, even when smaller (a release or a reclaim shrank the row); `now` marks
   * the entry active. `windowEnd` (optional) lets `forgetWindowsBefore` drop the entry once its
   * window is over.
   */
  applyGrant(budgetId: string, windowStart: number, grantedTotal: bigint, expiresAt: number, exhausted: boolean, windowEnd: number | null = null, generation?: bigint, now?: number): boolean {
    const key = entryKey(budgetId, windowStart);
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, {
        budgetId,
        windowStart,
        grantedTotal: max(grantedTotal, 0n),
        expiresAt,
        spent: 0n,
        reserved: 0n,
        exhausted,
        windowEnd,
        demand: new DemandWindow(DEMAND_HORIZON_MS),
        lastUpperBound: 0n,
        generation: generation ?? 0n,
        lastActiveAt: now ?? 0,
      });
      return true;
    }
    if (windowEnd !== null) entry.windowEnd = windowEnd;
    if (generation !== undefined) {
      if (generation <= entry.generation) return false;
      entry.generation = generation;
      entry.grantedTotal = max(grantedTotal, 0n);
      entry.expiresAt = expiresAt;
      entry.exhausted = exhausted;
      if (now !== undefined) entry.lastActiveAt = Math.max(entry.lastActiveAt, now);
      return true;
    }
    if (grantedTotal < entry.grantedTotal) return false;
    entry.grantedTotal = grantedTotal;
    entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
    entry.exhausted = exhausted;
    if (now !== undefined) entry.lastActiveAt = Math.max(entry.lastActiveAt, now);
    return true;
  }

  /** What can still be reserved: granted - spent - reserved (never negative); 0 without a live grant. */
  available(budgetId: string, windowStart: number, now: number): bigint {
    const entry = this.#entries.get(entryKey(budgetId, windowStart));
    return entry === undefined ? 0n : availableOf(entry, now);
  }

  /** Whether the control plane said this budget window had less free than asked (the tail). */
  isExhausted(budgetId: string, windowStart: number): boolean {
    return this.#entries.get(entryKey(budgetId, windowStart))?.exhausted ?? false;
  }

  /** Reserves every hold or none (null when any entry lacks room). Holds of 0 always fit. */
  reserve(holds: readonly BudgetHold[], now: number): Reservation | null {
    const wanted = new Map<string, bigint>();
    for (const hold of holds) {
      if (hold.amount < 0n) return null;
      const key = entryKey(hold.budgetId, hold.windowStart);
      wanted.set(key, (wanted.get(key) ?? 0n) + hold.amount);
    }
    for (const [key, amount] of wanted) {
      const entry = this.#entries.get(key);
      if (entry !== undefined) entry.lastUpperBound = amount;
      if (amount > 0n && (entry === undefined || availableOf(entry, now) < amount)) return null;
    }
    for (const [key, amount] of wanted) {
      const entry = this.#entries.get(key);
      if (entry === undefined) continue;
      entry.reserved += amount;
      entry.lastActiveAt = Math.max(entry.lastActiveAt, now);
      entry.demand.add(now, amount);
    }
    const reservation: Reservation = { id: this.#nextReservationId++, holds: [...holds] };
    this.#active.set(reservation.id, reservation);
    return reservation;
  }

  /**
   * Drops the reservation's holds and adds the actual charges to `spent` (only for entries this
   * ledger holds). Spent may exceed granted (debt). Only an active reservation settles: settling
   * twice, after a release, or a dry run's reservation (id 0) charges nothing.
   */
  settle(reservation: Reservation, charges: readonly BudgetCharge[], now: number): void {
    if (!this.#active.has(reservation.id)) return;
    this.release(reservation);
    for (const charge of charges) {
      const entry = this.#entries.get(entryKey(charge.budgetId, charge.windowStart));
      if (entry === undefined || charge.amount <= 0n) continue;
      entry.spent += charge.amount;
      entry.demand.prune(now);
    }
  }

  /** Drops the reservation's holds without charging anything. Idempotent. */
  release(reservation: Reservation): void {
    const active = this.#active.get(reservation.id);
    if (active === undefined) return;
    this.#active.delete(reservation.id);
    for (const hold of active.holds) {
      const entry = this.#entries.get(entryKey(hold.budgetId, hold.windowStart));
      if (entry === undefined) continue;
      entry.reserved -= hold.amount;
      if (entry.reserved < 0n) entry.reserved = 0n;
    }
  }

  /** Every entry, for metrics and for releasing grants at shutdown. */
  entries(): LedgerEntry[] {
    return [...this.#entries.values()].map((e) => ({
      budgetId: e.budgetId,
      windowStart: e.windowStart,
      grantedTotal: e.grantedTotal,
      expiresAt: e.expiresAt,
      spent: e.spent,
      reserved: e.reserved,
      exhausted: e.exhausted,
      windowEnd: e.windowEnd,
      generation: e.generation,
      lastActiveAt: e.lastActiveAt,
    }));
  }

  /** Recent demand (sum of holds in the last 30 s) of one entry. */
  recentDemand(budgetId: string, windowStart: number, now: number): bigint {
    const entry = this.#entries.get(entryKey(budgetId, windowStart));
    return entry === undefined ? 0n : demandOf(entry, now);
  }

  /**
   * Background top-ups: for each granted entry with demand in the last 30 s, whose available is
   * below half of `want` or whose grant expires within `renewBeforeMs` (default 60 s), a request
   * with needed 0 and want = max(30 s demand * 2, last upper bound * 4). Pure: changes nothing.
   */
  planRenewals(now: number, renewBeforeMs: number = RENEW_BEFORE_EXPIRY_MS): GrantRequestPlan[] {
    const plans: GrantRequestPlan[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.grantedTotal <= 0n || (entry.windowEnd !== null && entry.windowEnd <= now)) continue;
      const demand = demandOf(entry, now);
      if (demand <= 0n) continue;
      const want = max(demand * 2n, entry.lastUpperBound * 4n);
      if (availableOf(entry, now) * 2n < want || entry.expiresAt - now <= renewBeforeMs) {
        plans.push({ budgetId: entry.budgetId, windowStart: entry.windowStart, needed: 0n, want });
      }
    }
    return plans;
  }

  /**
   * Synchronous requests for a refused decision's shortfalls: needed as given plus the entry's
   * debt (spent + reserved beyond the grant: a request that cost more than its hold), since a
   * grant that does not cover the debt leaves nothing available; want = max(needed, 30 s demand
   * * 2, upper bound * 4). Pure: changes nothing.
   */
  planShortfalls(shortfalls: readonly GrantShortfall[], now: number): GrantRequestPlan[] {
    return shortfalls.map((s) => {
      const entry = this.#entries.get(entryKey(s.budgetId, s.windowStart));
      const demand = entry === undefined ? 0n : demandOf(entry, now);
      const debt = entry === undefined ? 0n : max(entry.spent + entry.reserved - entry.grantedTotal, 0n);
      const needed = s.needed + debt;
      return { budgetId: s.budgetId, windowStart: s.windowStart, needed, want: max(needed, max(demand * 2n, s.upperBound * 4n)) };
    });
  }

  /**
   * Gives back unspent grant (mutates): each entry holding more than spent + reserved, with a
   * known generation, whose grant expired with nothing reserved, or which saw no reservation for
   * `idleMs` (`tailIdleMs` when exhausted), shrinks to spent + reserved; returns the releases to
   * send. The node stops counting on the amount before the control plane hears of it.
   */
  takeIdleReleases(now: number, policy: IdleReleasePolicy = DEFAULT_IDLE_RELEASE): GrantReleasePlan[] {
    const plans: GrantReleasePlan[] = [];
    for (const entry of this.#entries.values()) {
      const expired = now >= entry.expiresAt;
      const idleFor = now - entry.lastActiveAt;
      const idle = idleFor >= (entry.exhausted ? policy.tailIdleMs : policy.idleMs);
      if ((expired && entry.reserved === 0n) || (!expired && idle)) {
        const plan = shrinkEntry(entry);
        if (plan !== null) plans.push(plan);
      }
    }
    return plans;
  }

  /**
   * Gives back every grant of one budget (mutates): its limit, unit, window or mode changed, so
   * grants sized under the old rules must not be spent; the node re-acquires under the new ones.
   */
  takeBudgetReleases(budgetId: string): GrantReleasePlan[] {
    const plans: GrantReleasePlan[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.budgetId !== budgetId) continue;
      const plan = shrinkEntry(entry);
      if (plan !== null) plans.push(plan);
      entry.exhausted = false;
    }
    return plans;
  }

  /**
   * Drops entries with nothing reserved whose window is over: its `windowEnd` (when known) is at
   * or before `now`, or its grant expired and a later window of the same budget exists.
   */
  forgetWindowsBefore(now: number): void {
    const latest = new Map<string, number>();
    for (const e of this.#entries.values()) latest.set(e.budgetId, Math.max(latest.get(e.budgetId) ?? e.windowStart, e.windowStart));
    for (const [key, e] of this.#entries) {
      if (e.reserved > 0n) continue;
      const ended = e.windowEnd !== null && e.windowEnd <= now;
      const superseded = e.expiresAt <= now && (latest.get(e.budgetId) ?? e.windowStart) > e.windowStart;
      if (ended || superseded) this.#entries.delete(key);
    }
  }
}

/** Shrinks an entry to spent + reserved; the release to send, or null when nothing is unspent. */
function shrinkEntry(entry: MutableEntry): GrantReleasePlan | null {
  const keep = entry.spent + entry.reserved;
  if (entry.generation <= 0n || entry.grantedTotal <= keep) return null;
  entry.grantedTotal = keep;
  return { budgetId: entry.budgetId, windowStart: entry.windowStart, keepTotal: keep, expectedGeneration: entry.generation };
}

function availableOf(entry: MutableEntry, now: number): bigint {
  if (now >= entry.expiresAt) return 0n;
  const free = entry.grantedTotal - entry.spent - entry.reserved;
  return free > 0n ? free : 0n;
}

function demandOf(entry: MutableEntry, now: number): bigint {
  return entry.demand.total(now);
}
