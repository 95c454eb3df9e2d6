/**
 * Budget grants (leases) from the control plane into the node's ledger:
 * - synchronous requests for refused decisions' shortfalls: one call in flight at a time; the
 *   shortfalls that arrive meanwhile are summed into the next call, so a burst of requests is
 *   granted what it needs in two round trips instead of one request's worth. In the tail, when
 *   the control plane has less free than needed but other nodes hold budget that may come back
 *   (`held_elsewhere`), the call asks again every 100 ms for up to `tailWaitMs` (1 s) before the
 *   request is refused;
 * - in the tail, unspent grant goes back after 150 ms without reservations (checked every 100 ms),
 *   so budget returned by settlement moves to the nodes that still have demand;
 * - a background round every second: renewals planned by the ledger (before expiry: at half the
 *   grant's lifetime, at most 60 s before), and releases of unspent grant that is idle (15 s;
 *   500 ms in the tail) or expired, so other nodes can use it;
 * - a budget whose limit, unit, window or mode changed in the policy: its grants are dropped at
 *   once (the node stops spending them) and released, then re-acquired under the new limit;
 * - graceful close: stop renewing, wait for calls in flight, release everything unspent.
 * Answers apply in the grant row's generation order; a release is conditional on the generation
 * the node last applied (see `lease.ts` in @tollgate/policy). The node treats a grant as expired
 * a safety margin before the control plane's expiry (clock skew between the planes).
 */
import { create } from "@bufbuild/protobuf";
import {
  DEFAULT_IDLE_RELEASE,
  RENEW_BEFORE_EXPIRY_MS,
  windowEndOf,
  type BudgetLedger,
  type BudgetPolicy,
  type GrantReleasePlan,
  type GrantRequestPlan,
  type GrantShortfall,
  type IdleReleasePolicy,
} from "@tollgate/policy";
import { AcquireGrantsRequestSchema, AcquireGrantsResponseSchema, GrantReleaseSchema, GrantRequestSchema, ReleaseGrantsRequestSchema, type AcquireGrantsResponse, type Grant } from "@tollgate/proto";
import type { Logger } from "pino";
import type { ControlPlaneLink } from "./control-plane-link.js";
import type { PolicyState, PolicyStore } from "./policy-store.js";

/** What the request path needs from a grant source. */
export interface GrantSource {
  /** True when grants can be asked for now (the control plane is reachable). */
  reachable(): boolean;
  /** Asks for grants covering `shortfalls` and applies them to the ledger; false when the call failed. */
  acquire(shortfalls: readonly GrantShortfall[]): Promise<boolean>;
}

/** What the grant manager needs. */
export interface GrantManagerOptions {
  readonly ledger: BudgetLedger;
  readonly link: ControlPlaneLink;
  readonly store: PolicyStore;
  readonly nodeId: string;
  readonly bootId: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** Deadline of a synchronous AcquireGrants (about 2 s). */
  readonly timeoutMs: number;
  readonly renewIntervalMs?: number;
  /** When idle grants are given back (default 15 s, 500 ms in the tail). */
  readonly idleRelease?: IdleReleasePolicy;
  /** The node stops using a grant this long before the control plane's expiry (default 1 s, at most a fifth of its life). */
  readonly expiryMarginMs?: number;
  /** How long a tail request waits for budget other nodes may give back (default 1000 ms; 0 = refuse at once). */
  readonly tailWaitMs?: number;
}

/** Default idle release of the data plane: 15 s, 150 ms in the tail. */
export const NODE_IDLE_RELEASE: IdleReleasePolicy = { idleMs: DEFAULT_IDLE_RELEASE.idleMs, tailIdleMs: 150 };
const TAIL_RETRY_MS = 100;
const TAIL_TICK_MS = 100;

/** What a grant means for the node, for comparing policy versions. */
const budgetRules = (b: BudgetPolicy): string => `${b.limit}|${b.unit}|${b.window}|${b.mode}`;

interface PendingBatch {
  readonly needs: Map<string, GrantShortfall>;
  readonly done: Promise<boolean>;
  start(): void;
}

const keyOf = (budgetId: string, windowStart: number): string => `${budgetId}@${windowStart}`;

/** Grants through the control plane's `PolicyService`. */
export class GrantManager implements GrantSource {
  private timer: NodeJS.Timeout | null = null;
  private tailTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private syncCall: Promise<boolean> | null = null;
  private next: PendingBatch | null = null;
  private readonly calls = new Set<Promise<unknown>>();
  private budgetRules = new Map<string, string>();
  /** Bumped for a budget each time its rules change: a grant asked for under older rules is not spent. */
  private readonly ruleEpochs = new Map<string, number>();
  /**
   * Budgets whose grants were dropped for a rules change and whose hand-back is not confirmed yet:
   * until it is, the control plane's row still shows the old grant, so answers may only shrink.
   */
  private readonly rebasing = new Set<string>();
  private ttlEstimateMs = 2 * RENEW_BEFORE_EXPIRY_MS;
  private closed = false;

  /** See `GrantManagerOptions`. */
  constructor(private readonly options: GrantManagerOptions) {
    const state = options.store.current();
    if (state) this.budgetRules = this.rulesOf(state);
    options.store.onApplied((s) => this.onPolicy(s));
  }

  /** The policy stream is the node's liveness signal for the control plane. */
  reachable(): boolean {
    return this.options.store.connected();
  }

  /**
   * Asks for the shortfalls' grants. With no synchronous call in flight they go at once;
   * otherwise they join the next call (needs summed per budget window), sent when this one ends.
   */
  acquire(shortfalls: readonly GrantShortfall[]): Promise<boolean> {
    if (this.closed || shortfalls.length === 0) return Promise.resolve(!this.closed);
    if (this.syncCall === null) return this.startSync(shortfalls);
    const batch = this.next ?? this.newBatch();
    for (const s of shortfalls) {
      const key = keyOf(s.budgetId, s.windowStart);
      const had = batch.needs.get(key);
      batch.needs.set(key, had ? { ...had, needed: had.needed + s.needed, upperBound: had.upperBound > s.upperBound ? had.upperBound : s.upperBound } : s);
    }
    return batch.done;
  }

  private newBatch(): PendingBatch {
    let start: () => void = () => undefined;
    const needs = new Map<string, GrantShortfall>();
    const done = new Promise<boolean>((resolve) => {
      start = () => resolve(this.startSync([...needs.values()]));
    });
    const batch: PendingBatch = { needs, done, start };
    this.next = batch;
    return batch;
  }

  private startSync(shortfalls: readonly GrantShortfall[]): Promise<boolean> {
    const call = this.acquireUntilCovered(shortfalls);
    this.syncCall = call;
    void call.finally(() => {
      this.syncCall = null;
      const batch = this.next;
      this.next = null;
      batch?.start();
    });
    return call;
  }

  /**
   * Asks for the shortfalls; in the tail, while the control plane says other holders hold budget
   * that may come back, asks again for what is still missing (bounded by `tailWaitMs`).
   */
  private async acquireUntilCovered(shortfalls: readonly GrantShortfall[]): Promise<boolean> {
    const { ledger } = this.options;
    const attempts = Math.max(1, Math.floor((this.options.tailWaitMs ?? 1_000) / TAIL_RETRY_MS) + 1);
    let missing = shortfalls;
    for (let attempt = 1; ; attempt++) {
      const response = await this.send(ledger.planShortfalls(missing, this.options.now()));
      if (response === null) return false;
      const now = this.options.now();
      const waitable = new Set(response.grants.filter((g) => g.exhausted && g.heldElsewhere > 0n).map((g) => keyOf(g.budgetId, Number(g.windowStartMs))));
      missing = shortfalls
        .filter((s) => waitable.has(keyOf(s.budgetId, s.windowStart)))
        .map((s) => ({ ...s, needed: s.needed - ledger.available(s.budgetId, s.windowStart, now) }))
        .filter((s) => s.needed > 0n);
      if (missing.length === 0 || attempt >= attempts || this.closed) return true;
      await new Promise((r) => setTimeout(r, TAIL_RETRY_MS).unref());
    }
  }

  /** Starts background renewals and releases (every second by default; tail releases every 100 ms). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renewOnce(), this.options.renewIntervalMs ?? 1_000);
    this.timer.unref();
    this.tailTimer = setInterval(() => void this.releaseTailOnce(), TAIL_TICK_MS);
    this.tailTimer.unref();
  }

  /** Gives back the unspent part of tail grants idle for the tail idle time (and of expired grants). */
  releaseTailOnce(): Promise<void> {
    if (!this.reachable() || this.closed) return Promise.resolve();
    const tailIdleMs = (this.options.idleRelease ?? NODE_IDLE_RELEASE).tailIdleMs;
    return this.release(this.options.ledger.takeIdleReleases(this.options.now(), { idleMs: Number.MAX_SAFE_INTEGER, tailIdleMs }));
  }

  /** Runs one background round now: forget ended windows, renew, release idle or expired grants. */
  renewOnce(): Promise<void> {
    if (this.renewing) return this.renewing;
    this.renewing = (async () => {
      const { ledger } = this.options;
      const now = this.options.now();
      ledger.forgetWindowsBefore(now);
      if (!this.reachable()) return;
      const renewBefore = Math.min(RENEW_BEFORE_EXPIRY_MS, Math.floor(this.ttlEstimateMs / 2));
      const plans = ledger.planRenewals(now, renewBefore);
      const releases = ledger.takeIdleReleases(now, this.options.idleRelease ?? NODE_IDLE_RELEASE);
      await Promise.all([plans.length > 0 ? this.send(plans) : Promise.resolve(null), this.release(releases)]);
    })().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  /** Stops renewals, waits for calls in flight, and hands back every grant (keeping what was spent or is held). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.tailTimer) clearInterval(this.tailTimer);
    this.timer = null;
    this.tailTimer = null;
    this.closed = true;
    await Promise.allSettled([...this.calls]);
    const entries = this.options.ledger.entries().filter((e) => e.grantedTotal > 0n);
    if (entries.length === 0) return;
    const { nodeId, bootId } = this.options;
    const releases = entries.map((e) => create(GrantReleaseSchema, { budgetId: e.budgetId, windowStartMs: BigInt(e.windowStart), spentTotal: e.spent + e.reserved, expectedGeneration: 0n }));
    try {
      await this.options.link.current().releaseGrants(create(ReleaseGrantsRequestSchema, { nodeId, bootId, releases }), this.options.timeoutMs);
    } catch (err) {
      this.options.logger.warn({ err: { message: (err as Error).message } }, "could not release grants");
    }
  }

  private rulesOf(state: PolicyState): Map<string, string> {
    return new Map(state.snapshot.budgets.map((b) => [b.id, budgetRules(b)]));
  }

  /** A budget whose rules changed (or that went away): stop spending its grants and give them back. */
  private onPolicy(state: PolicyState): void {
    const rules = this.rulesOf(state);
    const changed = [...this.budgetRules].filter(([id, r]) => rules.get(id) !== r).map(([id]) => id);
    this.budgetRules = rules;
    for (const id of changed) this.ruleEpochs.set(id, (this.ruleEpochs.get(id) ?? 0) + 1);
    if (changed.length > 0) this.options.logger.info({ budgets: changed }, "budget rules changed: grants dropped, re-acquiring under the new rules");
    this.dropForRulesChange(changed);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.calls.add(p);
    void p.finally(() => this.calls.delete(p)).catch(() => undefined);
    return p;
  }

  /**
   * Stops spending the grants of budgets whose rules changed and hands them back unconditionally
   * (keeping what was spent or is reserved); answers stay shrink-only until the control plane
   * confirms, retried every second while it is unreachable.
   */
  private dropForRulesChange(budgetIds: readonly string[]): void {
    const plans = budgetIds.flatMap((id) => this.options.ledger.takeBudgetReleases(id)).map((p) => ({ ...p, expectedGeneration: 0n }));
    if (plans.length === 0) return;
    const ids = [...new Set(plans.map((p) => p.budgetId))];
    for (const id of ids) this.rebasing.add(id);
    void this.rebase(plans, ids);
  }

  private async rebase(plans: readonly GrantReleasePlan[], ids: readonly string[]): Promise<void> {
    const { nodeId, bootId, link, logger, timeoutMs } = this.options;
    const releases = plans.map((p) => create(GrantReleaseSchema, { budgetId: p.budgetId, windowStartMs: BigInt(p.windowStart), spentTotal: p.keepTotal, expectedGeneration: 0n }));
    while (!this.closed) {
      try {
        const response = await this.track(link.current().releaseGrants(create(ReleaseGrantsRequestSchema, { nodeId, bootId, releases }), timeoutMs));
        this.applyGrants(response.grants, true);
        for (const id of ids) this.rebasing.delete(id);
        return;
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "could not hand back grants after a rules change; retrying");
        await new Promise((r) => setTimeout(r, 1_000).unref());
      }
    }
  }

  private async release(plans: readonly GrantReleasePlan[]): Promise<void> {
    if (plans.length === 0) return;
    const { nodeId, bootId, link, logger, timeoutMs } = this.options;
    const releases = plans.map((p) => create(GrantReleaseSchema, { budgetId: p.budgetId, windowStartMs: BigInt(p.windowStart), spentTotal: p.keepTotal, expectedGeneration: p.expectedGeneration }));
    try {
      const response = await this.track(link.current().releaseGrants(create(ReleaseGrantsRequestSchema, { nodeId, bootId, releases }), timeoutMs));
      this.applyGrants(response.grants, true);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "ReleaseGrants failed; the grant stays held until it is reclaimed");
    }
  }

  private async send(plans: readonly GrantRequestPlan[]): Promise<AcquireGrantsResponse | null> {
    if (plans.length === 0) return create(AcquireGrantsResponseSchema, {});
    const { nodeId, bootId, link, logger, timeoutMs } = this.options;
    const requests = plans.map((p) => create(GrantRequestSchema, { budgetId: p.budgetId, windowStartMs: BigInt(p.windowStart), needed: p.needed, want: p.want }));
    const epochs = new Map(plans.map((p) => [p.budgetId, this.ruleEpochs.get(p.budgetId) ?? 0]));
    let response: AcquireGrantsResponse;
    try {
      response = await this.track(link.current().acquireGrants(create(AcquireGrantsRequestSchema, { nodeId, bootId, requests }), timeoutMs));
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "AcquireGrants failed");
      return null;
    }
    this.applyGrants(response.grants, false);
    // A grant sized under rules that changed while the call was out (a lowered limit) is not spent:
    // drop it at once, in the same tick, and hand it back, as when the change arrived.
    this.dropForRulesChange([...epochs].filter(([id, epoch]) => (this.ruleEpochs.get(id) ?? 0) !== epoch).map(([id]) => id));
    return response;
  }

  /** Applies grant rows (an AcquireGrants answer, or the rows after a release: those keep the tail flag). */
  private applyGrants(grants: readonly Grant[], afterRelease: boolean): void {
    const index = this.options.store.current()?.index;
    const now = this.options.now();
    const views = new Map(this.options.ledger.entries().map((e) => [`${e.budgetId}@${e.windowStart}`, e.grantedTotal]));
    for (const g of grants) {
      if (afterRelease && g.generation <= 0n) continue;
      // A release answer may only shrink what the node holds (if the release lost a race with a
      // grant, the row still shows the old amount: the grant's own answer is the one to apply), and
      // so may any answer while a rules-change hand-back is unconfirmed.
      const shrinkOnly = afterRelease || this.rebasing.has(g.budgetId);
      if (shrinkOnly && g.grantedTotal > (views.get(`${g.budgetId}@${g.windowStartMs}`) ?? 0n)) continue;
      const windowStart = Number(g.windowStartMs);
      const budget = index?.budget(g.budgetId) ?? null;
      const windowEnd = budget ? windowEndOf(budget.window, windowStart) : null;
      const expiresAt = Number(g.expiresAtMs);
      const life = Math.max(0, expiresAt - now);
      if (life > 0) this.ttlEstimateMs = life;
      const margin = Math.min(this.options.expiryMarginMs ?? 1_000, Math.floor(life / 5));
      const generation = g.generation > 0n ? g.generation : undefined;
      const exhausted = afterRelease ? this.options.ledger.isExhausted(g.budgetId, windowStart) : g.exhausted;
      this.options.ledger.applyGrant(g.budgetId, windowStart, g.grantedTotal, expiresAt - margin, exhausted, windowEnd, generation, afterRelease ? undefined : now);
    }
  }
}
