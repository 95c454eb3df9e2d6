/**
 * Per-node rate limiting with fixed windows aligned to the epoch (a window of `windowSeconds`
 * starts at a multiple of it). Each node enforces its share of the limit: the share the control
 * plane computed from the nodes' recent demand (`setShares`, see rate-share.ts) when it sent one
 * for that limit, else ceil(limit / connected nodes). So the cluster admits at most about `limit`
 * per window (plus a boundary burst of up to 2x across two adjacent windows, and a little more
 * while shares or the node count change): approximate by design, since rate limits protect
 * capacity, not money.
 */
import type { RateLimitCharge, RateLimitStatus } from "./decision.js";
import type { RateLimitPolicy } from "./model.js";

/** What one request counts: 1 request, and its tokens (input upper bound + output cap). */
export interface RateLimitAmounts {
  readonly requests: number;
  readonly tokens: number;
}

/** A rate limit that would be exceeded. */
export interface RateLimitHit extends RateLimitStatus {
  readonly ok: false;
  readonly policy: RateLimitPolicy;
  /** ms until the window resets and the request may be retried. */
  readonly retryAfterMs: number;
}

/** The answer of `RateLimiter.check`. */
export type RateLimitCheck = { readonly ok: true } | RateLimitHit;

interface Counter {
  windowStart: number;
  count: number;
}

/** The node's share of a limit: ceil(limit / max(1, connectedNodes)). */
export function nodeShareOf(limit: number, connectedNodes: number): number {
  return Math.ceil(Math.max(0, limit) / Math.max(1, Math.floor(connectedNodes)));
}

function windowMsOf(policy: RateLimitPolicy): number {
  return Math.max(1, Math.floor(policy.windowSeconds)) * 1000;
}

function amountFor(policy: RateLimitPolicy, amounts: RateLimitAmounts): number {
  return policy.unit === "REQUESTS" ? amounts.requests : amounts.tokens;
}

/** Fixed-window counters per rate-limit id. */
export class RateLimiter {
  readonly #counters = new Map<string, Counter>();
  #shares: ReadonlyMap<string, number> = new Map();

  /** Replaces the demand-based shares by rate-limit id (limits not named fall back to the even split). */
  setShares(shares: ReadonlyMap<string, number>): void {
    this.#shares = new Map(shares);
  }

  /** This node's share of `policy`: its demand-based share when set, else ceil(limit / connectedNodes). */
  shareOf(policy: RateLimitPolicy, connectedNodes: number): number {
    const share = this.#shares.get(policy.id);
    return share !== undefined ? Math.min(Math.max(0, policy.limit), share) : nodeShareOf(policy.limit, connectedNodes);
  }

  /** What has been counted in the current window of `policy` at `now`. */
  #countOf(policy: RateLimitPolicy, now: number): { windowStart: number; count: number } {
    const windowMs = windowMsOf(policy);
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const counter = this.#counters.get(policy.id);
    return { windowStart, count: counter !== undefined && counter.windowStart === windowStart ? counter.count : 0 };
  }

  /** The node's view of one limit at `now`. */
  status(policy: RateLimitPolicy, now: number, connectedNodes = 1): RateLimitStatus {
    const { windowStart, count } = this.#countOf(policy, now);
    const share = this.shareOf(policy, connectedNodes);
    return {
      rateLimitId: policy.id,
      unit: policy.unit,
      limit: share,
      remaining: Math.max(0, share - count),
      resetMs: windowStart + windowMsOf(policy) - now,
    };
  }

  /** The first limit that `amounts` would push past this node's share, or ok. Changes nothing. */
  check(limits: readonly RateLimitPolicy[], amounts: RateLimitAmounts, now: number, connectedNodes = 1): RateLimitCheck {
    for (const policy of limits) {
      const amount = amountFor(policy, amounts);
      const status = this.status(policy, now, connectedNodes);
      const used = status.limit - status.remaining;
      if (amount > 0 && used + amount > status.limit) {
        return { ok: false, policy, retryAfterMs: status.resetMs, ...status };
      }
    }
    return { ok: true };
  }

  /** Counts `amounts` against every limit; returns what was counted, for `adjust`. */
  consume(limits: readonly RateLimitPolicy[], amounts: RateLimitAmounts, now: number): RateLimitCharge[] {
    const charges: RateLimitCharge[] = [];
    for (const policy of limits) {
      const amount = amountFor(policy, amounts);
      const { windowStart, count } = this.#countOf(policy, now);
      this.#counters.set(policy.id, { windowStart, count: count + amount });
      charges.push({ rateLimitId: policy.id, unit: policy.unit, windowStart, amount });
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
      counter.count = Math.max(0, counter.count + Math.max(0, actualTokens) - charge.amount);
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
      const tighter =
        best === null ||
        s.remaining < best.remaining ||
        (s.remaining === best.remaining && (s.limit < best.limit || (s.limit === best.limit && s.resetMs > best.resetMs)));
      if (tighter) best = s;
    }
    if (best !== null) out.push(best);
  }
  return out;
}
