/**
 * The budget ledger at the control plane: grants (leases) to nodes and usage ingest.
 * Invariant per hard budget and window: used + Σ counted outstanding grants <= limit, kept with
 * `SELECT ... FOR UPDATE` on the budget row around every grant. A grant's outstanding counts until
 * its expiry plus the reclaim grace (the rules of `lease.ts` in @tollgate/policy; the bound is
 * written in docs/reliability.md).
 */
import { countedOutstanding, picosOfMicros, sizeGrant, windowStartOf } from "@tollgate/policy";
import { boundUsageText } from "@tollgate/proto";
import type { Database, Queryable } from "../db/database.js";
import { createIdSource, type IdSource } from "../ids.js";
import { findBudget } from "../repositories/budget.repository.js";
import { addBudgetUsed, addGrantConsumed, addToGrant, findGrant, readWindowState, releaseGrant } from "../repositories/grant.repository.js";
import { insertDeadLetter } from "../repositories/usage-dead-letter.repository.js";
import { addToHourlyRollup, insertUsageRecord, type UsageRecordRow } from "../repositories/usage.repository.js";
import type { UsageHook } from "./budget-alert.service.js";

/** How long a grant lasts without renewal (default; `TOLLGATE_GRANT_TTL_MS`). */
export const GRANT_TTL_MS = 5 * 60_000;

/**
 * How long after its expiry a grant's unreported outstanding stays reserved before it is
 * reclaimed (default; `TOLLGATE_GRANT_RECLAIM_GRACE_MS`): longer than the upstream total timeout
 * (10 min) plus a report delay, so a request reserved just before expiry settles and reports in time.
 */
export const GRANT_RECLAIM_GRACE_MS = 15 * 60_000;

/** Lease timing of a ledger. */
export interface LeaseTiming {
  readonly grantTtlMs: number;
  readonly reclaimGraceMs: number;
}

export { sizeGrant };

/** A node process holding grants. */
export interface Holder {
  readonly nodeId: string;
  readonly bootId: string;
}

/** One grant request (amounts in the budget's unit). */
export interface GrantAsk {
  readonly budgetId: string;
  readonly windowStartMs: number;
  readonly needed: bigint;
  readonly want: bigint;
}

/**
 * One grant answer; `generation` orders answers of one holder's row (0 = no row); `heldElsewhere`
 * is what other holders hold outstanding (budget that may come back; 0 = none).
 */
export interface GrantAnswer {
  readonly budgetId: string;
  readonly windowStartMs: number;
  readonly grantedTotal: bigint;
  readonly expiresAtMs: number;
  readonly exhausted: boolean;
  readonly generation: bigint;
  readonly heldElsewhere: bigint;
}

/**
 * One release: the holder keeps `spentTotal` (spent + held by requests in flight); the rest goes
 * back, if the row is still at `expectedGeneration` (0 or absent = unconditional, e.g. shutdown).
 */
export interface GrantGiveBack {
  readonly budgetId: string;
  readonly windowStartMs: number;
  readonly spentTotal: bigint;
  readonly expectedGeneration?: bigint;
}

/** A charge of a usage record. */
export interface ChargeIn {
  readonly budgetId: string;
  readonly windowStartMs: number;
  readonly amount: bigint;
}

/**
 * A usage record to ingest; `received` gives its bytes as received, what a dead letter keeps if the
 * database refuses it. `usdChargesInMicros`: the record is from a node before pico-dollars (its cost
 * is already converted; its USD charges are micro-dollars, scaled at ingest by their budget's unit).
 */
export interface UsageIn extends Omit<UsageRecordRow, "charges"> {
  readonly charges: readonly ChargeIn[];
  readonly received?: () => Uint8Array;
  readonly usdChargesInMicros?: boolean;
}

/** Every reason a usage record can be dead-lettered for (a fixed list: the `reason` label of the metric). */
export const DEAD_LETTER_REASONS = ["missing_field", "invalid_text", "too_long", "out_of_range", "store_failed"] as const;

/** Why a usage record was dead-lettered. */
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** A usage record set aside: the reason, a bounded detail, storable ids, and the record's bytes as received. */
export interface DeadLetterIn {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly nodeId: string;
  readonly requestId: string;
  readonly organizationId: string;
  readonly received: Uint8Array;
}

/** What one ingest did: records stored now, replays, and the reasons of records dead-lettered now. */
export interface IngestResult {
  readonly accepted: number;
  readonly duplicates: number;
  readonly deadLettered: readonly DeadLetterReason[];
}

/** SQLSTATE classes a single record can cause: data exception, integrity violation, program limit (e.g. an index row too large). */
const RECORD_FAULT_CLASSES = new Set(["22", "23", "54"]);

function sqlStateOf(e: unknown): string | null {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/**
 * True when `e` comes from the record being stored rather than from the database being unwell:
 * a data or limit error, or an error of the code itself (deterministic for that record).
 * Connection loss, lock and resource errors fail the batch so the node sends it again.
 */
function isRecordFault(e: unknown): boolean {
  const state = sqlStateOf(e);
  if (state !== null) return RECORD_FAULT_CLASSES.has(state.slice(0, 2));
  return e instanceof TypeError || e instanceof RangeError;
}

/** The holder key stored in `budget_grants`. */
export function holderKey(h: Holder): string {
  return `${h.nodeId}/${h.bootId}`;
}

/** Grants, releases and usage ingest. */
export class LedgerService {
  private readonly timing: LeaseTiming;
  private readonly newId: IdSource;

  /** `onBudgetUsed` runs in the ingest transaction after `used` grew (budget threshold alerts). */
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    timing: Partial<LeaseTiming> = {},
    private readonly onBudgetUsed: UsageHook | null = null,
  ) {
    this.newId = createIdSource(now);
    this.timing = { grantTtlMs: timing.grantTtlMs ?? GRANT_TTL_MS, reclaimGraceMs: timing.reclaimGraceMs ?? GRANT_RECLAIM_GRACE_MS };
  }

  /** Grants budget to a holder, one transaction, budgets locked in id order. */
  acquireGrants(holder: Holder, asks: readonly GrantAsk[]): Promise<GrantAnswer[]> {
    const key = holderKey(holder);
    const ordered = [...asks].sort((a, b) => (a.budgetId < b.budgetId ? -1 : a.budgetId > b.budgetId ? 1 : a.windowStartMs - b.windowStartMs));
    return this.db.transaction(async (tx) => {
      const nowMs = this.now();
      const { grantTtlMs, reclaimGraceMs } = this.timing;
      const expiresAtMs = nowMs + grantTtlMs;
      const answers = new Map<GrantAsk, GrantAnswer>();
      for (const ask of ordered) {
        const budget = await findBudget(tx, ask.budgetId, true);
        const base = { budgetId: ask.budgetId, windowStartMs: ask.windowStartMs };
        if (!budget) {
          answers.set(ask, { ...base, expiresAtMs, grantedTotal: 0n, exhausted: true, generation: 0n, heldElsewhere: 0n });
          continue;
        }
        const state = await readWindowState(tx, budget.id, ask.windowStartMs, key, nowMs, reclaimGraceMs);
        if (windowStartOf(budget.window, nowMs) !== ask.windowStartMs) {
          const mine = state.mine;
          answers.set(ask, { ...base, expiresAtMs: mine?.expiresAtMs ?? nowMs, grantedTotal: mine?.granted ?? 0n, exhausted: true, generation: mine?.generation ?? 0n, heldElsewhere: 0n });
          continue;
        }
        let amount: bigint;
        let exhausted: boolean;
        if (budget.mode === "SOFT") {
          amount = ask.want > ask.needed ? ask.want : ask.needed;
          exhausted = false;
        } else {
          const mineOutstanding = state.mine ? countedOutstanding(state.mine, nowMs, reclaimGraceMs) : 0n;
          const free = budget.limit - state.used - state.othersOutstanding - mineOutstanding;
          ({ amount, exhausted } = sizeGrant(free, ask.needed, ask.want));
        }
        const row = await addToGrant(tx, budget.id, ask.windowStartMs, key, amount < 0n ? 0n : amount, expiresAtMs, nowMs, reclaimGraceMs);
        answers.set(ask, { ...base, expiresAtMs: row.expiresAtMs, grantedTotal: row.granted, exhausted, generation: row.generation, heldElsewhere: state.othersOutstanding });
      }
      return asks.map((a) => answers.get(a) as GrantAnswer);
    });
  }

  /**
   * Gives back what a holder will not spend: granted becomes max(consumed, spentTotal) (never more
   * than it was), when the row is still at the expected generation. Resolves to how many changed
   * and the rows afterwards, in request order (generation 0 = no row).
   */
  async releaseGrants(holder: Holder, releases: readonly GrantGiveBack[]): Promise<{ changed: number; rows: GrantAnswer[] }> {
    const key = holderKey(holder);
    const ordered = [...releases].sort((a, b) => (a.budgetId < b.budgetId ? -1 : a.budgetId > b.budgetId ? 1 : a.windowStartMs - b.windowStartMs));
    return this.db.transaction(async (tx) => {
      let changed = 0;
      const after = new Map<GrantGiveBack, GrantAnswer>();
      for (const r of ordered) {
        if (await releaseGrant(tx, r.budgetId, r.windowStartMs, key, r.spentTotal > 0n ? r.spentTotal : 0n, r.expectedGeneration ?? 0n)) changed++;
        const row = await findGrant(tx, r.budgetId, r.windowStartMs, key);
        after.set(r, {
          budgetId: r.budgetId,
          windowStartMs: r.windowStartMs,
          grantedTotal: row?.granted ?? 0n,
          expiresAtMs: row?.expiresAtMs ?? 0,
          exhausted: false,
          generation: row?.generation ?? 0n,
          heldElsewhere: 0n,
        });
      }
      return { changed, rows: releases.map((r) => after.get(r) as GrantAnswer) };
    });
  }

  /**
   * Stores a batch exactly once per request_id and updates ledger and rollup for new records only;
   * `rejected` records (and any record the database refuses) go to the dead-letter table in the
   * same transaction, once per distinct record. A batch first runs straight through; when one of its
   * records makes the database fail it runs again with each record inside a savepoint, so the
   * others are stored exactly once. Only a failure of the database itself fails the batch.
   */
  async ingestUsage(records: readonly UsageIn[], rejected: readonly DeadLetterIn[] = []): Promise<IngestResult> {
    try {
      return await this.db.transaction((tx) => this.ingestIn(tx, records, rejected, false));
    } catch (e) {
      if (!isRecordFault(e)) throw e;
      return this.db.transaction((tx) => this.ingestIn(tx, records, rejected, true));
    }
  }

  private async ingestIn(tx: Queryable, received: readonly UsageIn[], rejected: readonly DeadLetterIn[], isolate: boolean): Promise<IngestResult> {
    const nowMs = this.now();
    const records = await withPicoCharges(tx, received);
    const letters: DeadLetterIn[] = [...rejected];
    const fresh = isolate ? await this.storeIsolated(tx, records, nowMs, letters) : await this.storeStraight(tx, records, nowMs);
    const used = new Map<string, { budgetId: string; windowStartMs: number; amount: bigint }>();
    const consumed = new Map<string, { budgetId: string; windowStartMs: number; holder: string; amount: bigint }>();
    for (const r of fresh) {
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
    if (this.onBudgetUsed !== null && used.size > 0)
      await this.onBudgetUsed(
        tx,
        [...used.keys()]
          .sort()
          .map((k) => used.get(k))
          .filter((u) => u !== undefined),
        nowMs,
      );
    for (const k of [...consumed.keys()].sort()) {
      const g = consumed.get(k);
      if (g) await addGrantConsumed(tx, g.budgetId, g.windowStartMs, g.holder, g.amount);
    }
    const deadLettered: DeadLetterReason[] = [];
    for (const d of letters) {
      if (await insertDeadLetter(tx, { ...d, id: this.newId("dlq") }, nowMs)) deadLettered.push(d.reason);
    }
    return { accepted: fresh.length, duplicates: records.length - fresh.length - (letters.length - rejected.length), deadLettered };
  }

  /** Inserts the records (in batch order), then adds the new ones to their rollup rows (in one order for every batch); resolves to the new ones. */
  private async storeStraight(tx: Queryable, records: readonly UsageIn[], nowMs: number): Promise<UsageIn[]> {
    const fresh: UsageIn[] = [];
    for (const r of records) if (await insertUsageRecord(tx, rowOf(r), nowMs)) fresh.push(r);
    for (const r of byRollupRow(fresh)) await addToHourlyRollup(tx, rowOf(r), hourOf(r), r.outcome === "REFUSED");
    return fresh;
  }

  /** Stores each record with its rollup inside a savepoint; one the database refuses is added to `letters`. Resolves to the new ones. */
  private async storeIsolated(tx: Queryable, records: readonly UsageIn[], nowMs: number, letters: DeadLetterIn[]): Promise<UsageIn[]> {
    const fresh: UsageIn[] = [];
    for (const r of byRollupRow(records)) {
      await tx.query("SAVEPOINT usage_record");
      try {
        if (await insertUsageRecord(tx, rowOf(r), nowMs)) {
          await addToHourlyRollup(tx, rowOf(r), hourOf(r), r.outcome === "REFUSED");
          fresh.push(r);
        }
        await tx.query("RELEASE SAVEPOINT usage_record");
      } catch (e) {
        if (!isRecordFault(e)) throw e;
        await tx.query("ROLLBACK TO SAVEPOINT usage_record");
        letters.push({
          reason: "store_failed",
          detail: boundUsageText(`${sqlStateOf(e) ?? "error"}: ${e instanceof Error ? e.message : String(e)}`, 512),
          nodeId: r.nodeId,
          requestId: r.requestId,
          organizationId: r.organizationId,
          received: r.received?.() ?? new Uint8Array(),
        });
      }
    }
    return fresh;
  }
}

/**
 * The records with every USD charge in pico-dollars: a record from a node before pico-dollars has
 * its USD charges (told apart from TOKENS and REQUESTS ones by their budget's unit) scaled by 10^6.
 * A charge of a budget that no longer exists is left as it is (no ledger row counts it).
 */
async function withPicoCharges(q: Queryable, records: readonly UsageIn[]): Promise<readonly UsageIn[]> {
  if (!records.some((r) => r.usdChargesInMicros === true)) return records;
  const usd = new Map<string, boolean>();
  const out: UsageIn[] = [];
  for (const r of records) {
    if (r.usdChargesInMicros !== true) {
      out.push(r);
      continue;
    }
    const charges: ChargeIn[] = [];
    for (const c of r.charges) {
      if (!usd.has(c.budgetId)) usd.set(c.budgetId, (await findBudget(q, c.budgetId))?.unit === "USD");
      charges.push(usd.get(c.budgetId) === true ? { ...c, amount: picosOfMicros(c.amount) } : c);
    }
    out.push({ ...r, charges, usdChargesInMicros: false });
  }
  return out;
}

function hourOf(r: UsageIn): number {
  return Math.floor(Number(r.startedAtMs) / 3_600_000) * 3_600_000;
}

function rowOf(r: UsageIn): UsageRecordRow {
  return { ...r, charges: r.charges.map((c) => ({ budgetId: c.budgetId, windowStartMs: String(c.windowStartMs), amount: c.amount.toString() })) };
}

/** The records sorted by rollup row, then request id: every batch locks rollup rows in one order (no deadlock between batches). */
function byRollupRow(records: readonly UsageIn[]): UsageIn[] {
  const key = (r: UsageIn): string => [r.organizationId, hourOf(r), r.virtualKeyId, r.userId, r.teamId, r.model, r.providerAccountId, r.requestId].join("\u0000");
  return records
    .map((r) => [key(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, r]) => r);
}
