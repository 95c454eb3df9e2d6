/**
 * Per-node rate limiting with fixed windows aligned to the epoch (a window of `windowSeconds`
 * starts at a multiple of it), against units the control plane allocated to this node for the
 * window (see rate-allocation.ts for the rules and their bound). Three modes:
 *   - `held`: the node reaches the control plane; it admits what it was allocated, and a request
 *     the allocation cannot cover yields shortfalls to borrow (unless the node already knows the
 *     window's pool is spent);
 *   - `fallback`: the control plane is unreachable; the node admits up to its last share (the
 *     demand-based share the control plane sent, else ceil(limit / connected nodes)) or what it
 *     was granted in the window, whichever is more;
 *   - `estimate` (Simulator): passes while the node's best knowledge of the cluster's remaining
 *     units covers the request.
 * States report the key's limit (what the admin set) and the node's best knowledge of what remains
 * cluster-wide: limit - (units allocated to other nodes, as of this node's last answer) - used here.
 */
import type { RateLimitCharge, RateLimitStatus } from "./decision.js";
import type { RateLimitPolicy } from "./model.js";
import { outageAllowance, rateWindowMsOf, rateWindowStartOf, sizeRateClaim } from "./rate-allocation.js";

/** What one request counts: 1 request, and its tokens (input upper bound + output cap). */
export interface RateLimitAmounts {
  readonly requests: number;
  readonly tokens: number;
}

/** How the limiter decides: see the module comment. */
export type RateAllocationMode = "held" | "fallback" | "estimate";

/** Units of one rate-limit window to borrow from the control plane. */
export interface RateShortfall {
  readonly rateLimitId: string;
  readonly windowStart: number;
  /** Units the request needs beyond what the node holds. */
  readonly needed: number;
  /** Units to ask for (>= needed), sized by `sizeRateClaim`. */
  readonly want: number;
}

/** A rate limit that would be exceeded. */
export interface RateLimitHit extends RateLimitStatus {
  readonly ok: false;
  readonly policy: RateLimitPolicy;
  /** ms until the window resets and the request may be retried. */
  readonly retryAfterMs: number;
  /** Non-empty when borrowing from the control plane may cover the request (mode `held`). */
  readonly shortfalls: readonly RateShortfall[];
}

/** The answer of `RateLimiter.check`. */
export type RateLimitCheck = { readonly ok: true } | RateLimitHit;

interface Counter {
  windowStart: number;
  /** Units counted here (admitted requests; tokens adjusted at settlement). */
  used: number;
  /** Units the control plane allocated to this node in the window. */
  granted: number;
  /** The window's allocation over all nodes, as of the last answer (includes `granted`). */
  allocatedKnown: number;
}

/** The node's share of a limit: ceil(limit / max(1, connectedNodes)). */
export function nodeShareOf(limit: number, connectedNodes: number): number {
  return Math.ceil(Math.max(0, limit) / Math.max(1, Math.floor(connectedNodes)));
}

function amountFor(policy: RateLimitPolicy, amounts: RateLimitAmounts): number {
  return policy.unit === "REQUESTS" ? amounts.requests : amounts.tokens;
}

/** Fixed-window counters and allocations per rate-limit id. */
export class RateLimiter {
  readonly #counters = new Map<string, Counter>();
  #shares: ReadonlyMap<string, number> = new Map();

  /** Replaces the demand-based shares by rate-limit id (limits not named fall back to the even split). */
  setShares(shares: ReadonlyMap<string, number>): void {
    this.#shares = new Map(shares);
  }

  /** This node's last share of `policy` (used while the control plane is unreachable). */
  shareOf(policy: RateLimitPolicy, connectedNodes: number): number {
    const share = this.#shares.get(policy.id);
    return share !== undefined ? Math.min(Math.max(0, policy.limit), share) : nodeShareOf(policy.limit, connectedNodes);
  }

  /** The counter of the current window of `policy` at `now` (zeroes for a new window). */
  #counterOf(policy: RateLimitPolicy, now: number): Counter {
    const windowStart = rateWindowStartOf(policy.windowSeconds, now);
    const counter = this.#counters.get(policy.id);
    if (counter !== undefined && counter.windowStart === windowStart) return counter;
    return { windowStart, used: 0, granted: 0, allocatedKnown: 0 };
  }

  /**
   * The node's view of one limit at `now`: the key's limit and the best-known cluster remainder
   * (in mode `fallback`, no more than the node may still admit on its own).
   */
  status(policy: RateLimitPolicy, now: number, mode: RateAllocationMode = "held", connectedNodes = 1): RateLimitStatus {
    const c = this.#counterOf(policy, now);
    const elsewhere = Math.max(0, c.allocatedKnown - c.granted);
    const cluster = policy.limit - elsewhere - c.used;
    const own = mode === "fallback" ? outageAllowance(c.granted, this.shareOf(policy, connectedNodes)) - c.used : cluster;
    return {
      rateLimitId: policy.id,
      unit: policy.unit,
      limit: policy.limit,
      remaining: Math.max(0, Math.min(cluster, own)),
      resetMs: c.windowStart + rateWindowMsOf(policy.windowSeconds) - now,
    };
  }

  /** Units this node may still admit in the current window under `mode`. */
  available(policy: RateLimitPolicy, now: number, mode: RateAllocationMode, connectedNodes = 1): number {
    const c = this.#counterOf(policy, now);
    if (mode === "held") return c.granted - c.used;
    if (mode === "fallback") return outageAllowance(c.granted, this.shareOf(policy, connectedNodes)) - c.used;
    return this.status(policy, now).remaining;
  }

  /**
   * The first limit that `amounts` would push past what this node may admit, or ok. Changes
   * nothing. In mode `held` the hit carries a shortfall for every limit that borrowing may cover.
   */
  check(limits: readonly RateLimitPolicy[], amounts: RateLimitAmounts, now: number, connectedNodes = 1, mode: RateAllocationMode = "fallback"): RateLimitCheck {
    let first: Omit<RateLimitHit, "shortfalls"> | null = null;
    const shortfalls: RateShortfall[] = [];
    let hopeless = false;
    for (const policy of limits) {
      const amount = amountFor(policy, amounts);
      if (amount <= 0) continue;
      const available = this.available(policy, now, mode, connectedNodes);
      if (amount <= available) continue;
      const status = this.status(policy, now, mode, connectedNodes);
      first ??= { ok: false, policy, retryAfterMs: status.resetMs, ...status };
      if (mode !== "held") break;
      const c = this.#counterOf(policy, now);
      const needed = amount - Math.max(0, available);
      // Allocations only grow within a window: a pool known to be too small stays too small.
      if (policy.limit - c.allocatedKnown < needed) {
        hopeless = true;
        continue;
      }
      shortfalls.push({ rateLimitId: policy.id, windowStart: c.windowStart, needed, want: sizeRateClaim(policy.limit, c.allocatedKnown, needed, connectedNodes) });
    }
    if (first === null) return { ok: true };
    return { ...first, shortfalls: hopeless ? [] : shortfalls };
  }

  /** Adds units the control plane granted for a window (`allocated` = the window's total after the grant). */
  applyAllocation(policy: RateLimitPolicy, windowStart: number, granted: number, allocated: number, now: number): void {
    const c = this.#counterOf(policy, now);
    if (c.windowStart !== windowStart) return;
    c.granted += Math.max(0, Math.floor(granted));
    c.allocatedKnown = Math.max(c.allocatedKnown, Math.floor(allocated), c.granted);
    this.#counters.set(policy.id, c);
  }

  /** Counts `amounts` against every limit; returns what was counted, for `adjust`. */
  consume(limits: readonly RateLimitPolicy[], amounts: RateLimitAmounts, now: number): RateLimitCharge[] {
    const charges: RateLimitCharge[] = [];
    for (const policy of limits) {
      const amount = amountFor(policy, amounts);
      const c = this.#counterOf(policy, now);
      c.used += amount;
      this.#counters.set(policy.id, c);
      charges.push({ rateLimitId: policy.id, unit: policy.unit, windowStart: c.windowStart, amount });
    }
    return charges;
  }

  /**
   * Replaces the tokens counted at admission by the actual tokens, for TOKENS charges whose window
   * is still current (a past window is left as counted).
   */
  adjust(charges: readonly RateLimitCharge[], actualTokens: number): void {
    for (const charge of charges) {
      if (charge.unit !== "TOKENS") continue;
      const counter = this.#counters.get(charge.rateLimitId);
      if (counter === undefined || counter.windowStart !== charge.windowStart) continue;
      counter.used = Math.max(0, counter.used + Math.max(0, actualTokens) - charge.amount);
    }
  }

  /** Drops counters whose window started before `cutoffMs` (housekeeping). */
  forgetBefore(cutoffMs: number): void {
    for (const [id, counter] of this.#counters) if (counter.windowStart < cutoffMs) this.#counters.delete(id);
  }
}

/**
 * The state to report per unit (`x-ratelimit-*` headers): the hit limit for its unit when there is
 * one, otherwise the tightest — fewest remaining, then the smallest limit, then the latest reset.
 * At most one state per unit, REQUESTS first.
 */
export function tightestRateLimits(states: readonly RateLimitStatus[], hit?: RateLimitStatus): RateLimitStatus[] {
  const out: RateLimitStatus[] = [];
  for (const unit of ["REQUESTS", "TOKENS"] as const) {
    if (hit !== undefined && hit.unit === unit) {
      out.push(hit);
      continue;
    }
    let best: RateLimitStatus | null = null;
    for (const s of states) {
      if (s.unit !== unit) continue;
      const tighter = best === null || s.remaining < best.remaining || (s.remaining === best.remaining && (s.limit < best.limit || (s.limit === best.limit && s.resetMs > best.resetMs)));
      if (tighter) best = s;
    }
    if (best !== null) out.push(best);
  }
  return out;
}
