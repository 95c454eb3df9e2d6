/**
 * The budget ledger at the control plane: grants (leases) to nodes and usage ingest.
 * Invariant per hard budget and window: used + Σ outstanding grants <= limit, kept with
 * `SELECT ... FOR UPDATE` on the budget row around every grant.
 */
import { windowStartOf } from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { findBudget } from "../repositories/budget.repository.js";
import { addBudgetUsed, addGrantConsumed, addToGrant, readWindowState, releaseGrant } from "../repositories/grant.repository.js";
import { addToHourlyRollup, insertUsageRecord, type UsageRecordRow } from "../repositories/usage.repository.js";

/** How long a grant lasts without renewal. */
export const GRANT_TTL_MS = 5 * 60_000;

/** A node process holding grants. */
export interface Holder { readonly nodeId: string; readonly bootId: string }

/** One grant request (amounts in the budget's unit). */
export interface GrantAsk { readonly budgetId: string; readonly windowStartMs: number; readonly needed: bigint; readonly want: bigint }

/** One grant answer. */
export interface GrantAnswer { readonly budgetId: string; readonly windowStartMs: number; readonly grantedTotal: bigint; readonly expiresAtMs: number; readonly exhausted: boolean }

/** One release (what the holder spent in total against the grant). */
export interface GrantGiveBack { readonly budgetId: string; readonly windowStartMs: number; readonly spentTotal: bigint }

/** A charge of a usage record. */
export interface ChargeIn { readonly budgetId: string; readonly windowStartMs: number; readonly amount: bigint }

/** A usage record to ingest. */
export interface UsageIn extends Omit<UsageRecordRow, "charges"> { readonly charges: readonly ChargeIn[] }

/** The holder key stored in `budget_grants`. */
export function holderKey(h: Holder): string {
  return `${h.nodeId}/${h.bootId}`;
}

/**
 * Sizes a grant: `needed` if free allows (else all that is free, exhausted), plus
 * min(want - needed, floor((free - needed) / 2)) so no node takes everything.
 */
export function sizeGrant(free: bigint, needed: bigint, want: bigint): { amount: bigint; exhausted: boolean } {
  const f = free > 0n ? free : 0n;
  const n = needed > 0n ? needed : 0n;
  const w = want > n ? want : n;
  if (f < n) return { amount: f, exhausted: true };
  const half = (f - n) / 2n;
  const extra = w - n < half ? w - n : half;
  return { amount: n + extra, exhausted: f < w };
}

/** Grants, releases and usage ingest. */
export class LedgerService {
  constructor(private readonly db: Database, private readonly now: () => number) {}

  /** Grants budget to a holder, one transaction, budgets locked in id order. */
  acquireGrants(holder: Holder, asks: readonly GrantAsk[]): Promise<GrantAnswer[]> {
    const key = holderKey(holder);
    const ordered = [...asks].sort((a, b) => (a.budgetId < b.budgetId ? -1 : a.budgetId > b.budgetId ? 1 : a.windowStartMs - b.windowStartMs));
    return this.db.transaction(async (tx) => {
      const nowMs = this.now();
      const expiresAtMs = nowMs + GRANT_TTL_MS;
      const answers = new Map<GrantAsk, GrantAnswer>();
      for (const ask of ordered) {
        const budget = await findBudget(tx, ask.budgetId, true);
        const base = { budgetId: ask.budgetId, windowStartMs: ask.windowStartMs, expiresAtMs };
        if (!budget) {
          answers.set(ask, { ...base, grantedTotal: 0n, exhausted: true });
          continue;
        }
        const state = await readWindowState(tx, budget.id, ask.windowStartMs, key, nowMs);
        if (windowStartOf(budget.window, nowMs) !== ask.windowStartMs) {
          answers.set(ask, { ...base, grantedTotal: state.mine?.granted ?? 0n, exhausted: true });
          continue;
        }
        let amount: bigint;
        let exhausted: boolean;
        if (budget.mode === "SOFT") {
          amount = ask.want > ask.needed ? ask.want : ask.needed;
          exhausted = false;
        } else {
          const mineOutstanding = state.mine && state.mine.granted > state.mine.consumed ? state.mine.granted - state.mine.consumed : 0n;
          const free = budget.limit - state.used - state.othersOutstanding - mineOutstanding;
          ({ amount, exhausted } = sizeGrant(free, ask.needed, ask.want));
        }
        const grantedTotal = await addToGrant(tx, budget.id, ask.windowStartMs, key, amount < 0n ? 0n : amount, expiresAtMs);
        answers.set(ask, { ...base, grantedTotal, exhausted });
      }
      return asks.map((a) => answers.get(a) as GrantAnswer);
    });
  }

  /** Gives back what a holder will not spend: granted becomes max(consumed, spentTotal). */
  async releaseGrants(holder: Holder, releases: readonly GrantGiveBack[]): Promise<void> {
    const key = holderKey(holder);
    await this.db.transaction(async (tx) => {
      for (const r of releases) await releaseGrant(tx, r.budgetId, r.windowStartMs, key, r.spentTotal > 0n ? r.spentTotal : 0n);
    });
  }

  /** Stores a batch exactly once per request_id and updates ledger and rollup for new records only. */
  ingestUsage(records: readonly UsageIn[]): Promise<{ accepted: number; duplicates: number }> {
    return this.db.transaction(async (tx) => {
      const nowMs = this.now();
      const used = new Map<string, { budgetId: string; windowStartMs: number; amount: bigint }>();
      const consumed = new Map<string, { budgetId: string; windowStartMs: number; holder: string; amount: bigint }>();
      const fresh: UsageIn[] = [];
      for (const r of records) {
        const row: UsageRecordRow = { ...r, charges: r.charges.map((c) => ({ budgetId: c.budgetId, windowStartMs: String(c.windowStartMs), amount: c.amount.toString() })) };
        if (!(await insertUsageRecord(tx, row, nowMs))) continue;
        fresh.push(r);
        const holder = holderKey(r);
        for (const c of r.charges) {
          if (c.amount === 0n) continue;
          const uk = `${c.budgetId}\u0000${c.windowStartMs}`;
          const u = used.get(uk) ?? { budgetId: c.budgetId, windowStartMs: c.windowStartMs, amount: 0n };
          used.set(uk, { ...u, amount: u.amount + c.amount });
          const ck = `${uk}\u0000${holder}`;
          const g = consumed.get(ck) ?? { budgetId: c.budgetId, windowStartMs: c.windowStartMs, holder, amount: 0n };
          consumed.set(ck, { ...g, amount: g.amount + c.amount });
        }
      }
      for (const k of [...used.keys()].sort()) {
        const u = used.get(k);
        if (u) await addBudgetUsed(tx, u.budgetId, u.windowStartMs, u.amount);
      }
      for (const k of [...consumed.keys()].sort()) {
        const g = consumed.get(k);
        if (g) await addGrantConsumed(tx, g.budgetId, g.windowStartMs, g.holder, g.amount);
      }
      const hourOf = (r: UsageIn): number => Math.floor(Number(r.startedAtMs) / 3_600_000) * 3_600_000;
      const rollupKey = (r: UsageIn): string => [r.organizationId, hourOf(r), r.virtualKeyId, r.userId, r.teamId, r.model, r.providerAccountId].join("\u0000");
      for (const r of [...fresh].sort((a, b) => (rollupKey(a) < rollupKey(b) ? -1 : rollupKey(a) > rollupKey(b) ? 1 : 0))) {
        await addToHourlyRollup(tx, { ...r, charges: [] }, hourOf(r), r.outcome === "REFUSED");
      }
      return { accepted: fresh.length, duplicates: records.length - fresh.length };
    });
  }
}
