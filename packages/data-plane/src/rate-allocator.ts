/**
 * Rate-limit units from the control plane into the node's limiter (see rate-allocation.ts in
 * @tollgate/policy). A request whose node holds too few units of a window borrows them here,
 * synchronously and with a short deadline: one call in flight at a time, the shortfalls that
 * arrive meanwhile joined into the next call (needed = the largest single need, want = the sum),
 * so a burst costs two round trips, not one each.
 * When the call fails, or the control plane does not serve a window (answered with limit 0: a
 * clock too far off its own, or a limit it does not know), the request is decided on the node's
 * last share (`fallback`).
 */
import { create } from "@bufbuild/protobuf";
import type { RateLimiter, RateShortfall } from "@tollgate/policy";
import { AcquireRateUnitsRequestSchema, RateUnitRequestSchema } from "@tollgate/proto";
import type { Logger } from "pino";
import type { ControlPlaneLink } from "./control-plane-link.js";
import type { PolicyStore } from "./policy-store.js";

/** What the request path needs from a source of rate-limit units. */
export interface RateUnitSource {
  /** True when units can be asked for now (the control plane is reachable). */
  reachable(): boolean;
  /** Asks for units covering `shortfalls` and applies them to the limiter; false when the call failed. */
  acquire(shortfalls: readonly RateShortfall[]): Promise<boolean>;
}

/** What the allocator needs. */
export interface RateAllocatorOptions {
  readonly limiter: RateLimiter;
  readonly link: ControlPlaneLink;
  readonly store: PolicyStore;
  readonly nodeId: string;
  readonly bootId: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** Deadline of one AcquireRateUnits call (short: a request waits for it). */
  readonly timeoutMs: number;
}

const keyOf = (s: RateShortfall): string => `${s.rateLimitId}@${s.windowStart}`;

/** Borrows rate-limit units through the control plane's `PolicyService.AcquireRateUnits`. */
export class RateAllocator implements RateUnitSource {
  #inFlight: Promise<boolean> | null = null;
  #next: { needs: Map<string, RateShortfall>; done: Promise<boolean> } | null = null;

  /** See `RateAllocatorOptions`. */
  constructor(private readonly options: RateAllocatorOptions) {}

  /** The policy stream is the node's liveness signal for the control plane. */
  reachable(): boolean {
    return this.options.store.connected();
  }

  /** Sends the shortfalls now, or joins them to the next call when one is in flight. */
  acquire(shortfalls: readonly RateShortfall[]): Promise<boolean> {
    if (shortfalls.length === 0) return Promise.resolve(true);
    if (this.#inFlight === null) return this.#start(shortfalls);
    if (this.#next === null) {
      const needs = new Map<string, RateShortfall>();
      const after = this.#inFlight;
      const done = after.then(
        () => this.#startNext(),
        () => this.#startNext(),
      );
      this.#next = { needs, done };
    }
    const { needs, done } = this.#next;
    for (const s of shortfalls) {
      const had = needs.get(keyOf(s));
      // A joined claim helps as soon as one request's need is free; it would like all of them.
      needs.set(keyOf(s), had ? { ...had, needed: Math.max(had.needed, s.needed), want: had.want + s.want } : s);
    }
    return done;
  }

  #startNext(): Promise<boolean> {
    const batch = this.#next;
    this.#next = null;
    return batch === null ? Promise.resolve(true) : this.#start([...batch.needs.values()]);
  }

  #start(shortfalls: readonly RateShortfall[]): Promise<boolean> {
    const call = this.#send(shortfalls).finally(() => {
      if (this.#inFlight === call) this.#inFlight = null;
    });
    this.#inFlight = call;
    return call;
  }

  async #send(shortfalls: readonly RateShortfall[]): Promise<boolean> {
    const { link, nodeId, bootId, timeoutMs, logger, limiter, store } = this.options;
    const connectedNodes = store.current()?.connectedNodes ?? 1;
    const requests = shortfalls.map((s) => create(RateUnitRequestSchema, { rateLimitId: s.rateLimitId, windowStartMs: BigInt(s.windowStart), needed: s.needed, want: s.want }));
    try {
      const response = await link.current().acquireRateUnits(create(AcquireRateUnitsRequestSchema, { nodeId, bootId, requests, connectedNodes }), timeoutMs);
      const index = store.current()?.index;
      const now = this.options.now();
      let served = true;
      for (const g of response.grants) {
        const policy = index?.rateLimit(g.rateLimitId) ?? null;
        if (g.limit === 0) served = false;
        else if (policy !== null) limiter.applyAllocation(policy, Number(g.windowStartMs), g.granted, g.allocated, now);
      }
      if (!served) logger.warn("the control plane does not serve a rate-limit window (clock skew, or a limit it does not know): deciding on the node's last share");
      return served;
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "AcquireRateUnits failed: deciding on the node's last share");
      return false;
    }
  }
}
