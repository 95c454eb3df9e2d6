/**
 * Budget grants (leases) from the control plane into the node's ledger: synchronous requests for
 * a refused decision's shortfalls (deduplicated while in flight), background renewals every
 * second from `ledger.planRenewals`, and the release of what is unspent on graceful close.
 */
import { create } from "@bufbuild/protobuf";
import { windowEndOf, type BudgetLedger, type GrantRequestPlan, type GrantShortfall } from "@tollgate/policy";
import {
  AcquireGrantsRequestSchema,
  GrantReleaseSchema,
  GrantRequestSchema,
  ReleaseGrantsRequestSchema,
  type AcquireGrantsResponse,
} from "@tollgate/proto";
import type { Logger } from "pino";
import type { ControlPlaneLink } from "./control-plane-link.js";
import type { PolicyStore } from "./policy-store.js";

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
}

const keyOf = (budgetId: string, windowStart: number): string => `${budgetId}@${windowStart}`;

/** Grants through the control plane's `PolicyService`. */
export class GrantManager implements GrantSource {
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;

  /** See `GrantManagerOptions`. */
  constructor(private readonly options: GrantManagerOptions) {}

  /** The policy stream is the node's liveness signal for the control plane. */
  reachable(): boolean {
    return this.options.store.connected();
  }

  /** Asks for the shortfalls' grants (joining requests already in flight for the same windows). */
  async acquire(shortfalls: readonly GrantShortfall[]): Promise<boolean> {
    const waits: Promise<boolean>[] = [];
    const fresh: GrantShortfall[] = [];
    for (const s of shortfalls) {
      const pending = this.inFlight.get(keyOf(s.budgetId, s.windowStart));
      if (pending) waits.push(pending);
      else fresh.push(s);
    }
    if (fresh.length > 0) {
      const call = this.send(this.options.ledger.planShortfalls(fresh, this.options.now()));
      for (const s of fresh) this.inFlight.set(keyOf(s.budgetId, s.windowStart), call);
      void call.finally(() => {
        for (const s of fresh) if (this.inFlight.get(keyOf(s.budgetId, s.windowStart)) === call) this.inFlight.delete(keyOf(s.budgetId, s.windowStart));
      });
      waits.push(call);
    }
    const results = await Promise.all(waits);
    return results.every(Boolean);
  }

  /** Starts background renewals (every second by default). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renewOnce(), this.options.renewIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Runs one renewal round now: top-ups planned by the ledger, and forgets windows that ended. */
  async renewOnce(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      const now = this.options.now();
      this.options.ledger.forgetWindowsBefore(now);
      const plans = this.options.ledger.planRenewals(now);
      if (plans.length > 0 && this.reachable()) await this.send(plans);
    } finally {
      this.renewing = false;
    }
  }

  /** Stops renewals and hands back every grant with what was spent; errors are logged, not thrown. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const entries = this.options.ledger.entries().filter((e) => e.grantedTotal > 0n);
    if (entries.length === 0) return;
    const { nodeId, bootId } = this.options;
    const releases = entries.map((e) => create(GrantReleaseSchema, { budgetId: e.budgetId, windowStartMs: BigInt(e.windowStart), spentTotal: e.spent }));
    try {
      await this.options.link.current().releaseGrants(create(ReleaseGrantsRequestSchema, { nodeId, bootId, releases }), this.options.timeoutMs);
    } catch (err) {
      this.options.logger.warn({ err: { message: (err as Error).message } }, "could not release grants");
    }
  }

  private async send(plans: readonly GrantRequestPlan[]): Promise<boolean> {
    if (plans.length === 0) return true;
    const { nodeId, bootId, link, logger, timeoutMs } = this.options;
    const requests = plans.map((p) => create(GrantRequestSchema, { budgetId: p.budgetId, windowStartMs: BigInt(p.windowStart), needed: p.needed, want: p.want }));
    let response: AcquireGrantsResponse;
    try {
      response = await link.current().acquireGrants(create(AcquireGrantsRequestSchema, { nodeId, bootId, requests }), timeoutMs);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "AcquireGrants failed");
      return false;
    }
    this.applyResponse(response);
    return true;
  }

  private applyResponse(response: AcquireGrantsResponse): void {
    const index = this.options.store.current()?.index;
    for (const g of response.grants) {
      const windowStart = Number(g.windowStartMs);
      const budget = index?.budget(g.budgetId) ?? null;
      const windowEnd = budget ? windowEndOf(budget.window, windowStart) : null;
      this.options.ledger.applyGrant(g.budgetId, windowStart, g.grantedTotal, Number(g.expiresAtMs), g.exhausted, windowEnd);
    }
  }
}
