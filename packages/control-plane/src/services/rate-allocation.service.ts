/**
 * Rate-limit units for the nodes (AcquireRateUnits): each claim is checked against the limit in
 * PostgreSQL (`claimRateUnits`), so a window's allocation over every node and every control-plane
 * replica never exceeds the limit. Rows of windows that ended more than a minute ago are deleted,
 * at most once a minute, on the way through.
 */
import type { Queryable } from "../db/database.js";
import { claimRateUnits, deleteRateWindowsBefore, type RateClaimResult } from "../repositories/rate-window.repository.js";

/** One claim as the node sends it. */
export interface RateUnitClaim {
  readonly rateLimitId: string;
  readonly windowStartMs: number;
  readonly needed: number;
  readonly want: number;
}

/** Options of the service. */
export interface RateAllocationOptions {
  /** Clock skew tolerated between a node and the control plane when placing a window (default 30 s). */
  readonly skewMs?: number;
  /** How long ended windows are kept (default 60 s). */
  readonly keepMs?: number;
}

const MAX_UNITS = 2 ** 31 - 1;
const MAX_NODES = 10_000;
const MAX_CLAIMS = 1_000;

const clampInt = (v: number, lo: number, hi: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.floor(v))) : lo);

/** Allocates rate-limit units to nodes from the shared database. */
export class RateAllocationService {
  #lastCleanup = 0;
  readonly #skewMs: number;
  readonly #keepMs: number;

  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
    options: RateAllocationOptions = {},
  ) {
    this.#skewMs = options.skewMs ?? 30_000;
    this.#keepMs = options.keepMs ?? 60_000;
  }

  /** Answers each claim in order (at most 1,000 per call; the rest answer 0 granted). */
  async acquire(claims: readonly RateUnitClaim[], connectedNodes: number): Promise<RateClaimResult[]> {
    const now = this.now();
    const nodes = clampInt(connectedNodes, 1, MAX_NODES);
    const out: RateClaimResult[] = [];
    for (const [i, c] of claims.entries()) {
      if (i >= MAX_CLAIMS || c.rateLimitId === "" || !Number.isSafeInteger(c.windowStartMs) || c.windowStartMs < 0) {
        out.push({ granted: 0, allocated: 0, limit: 0 });
        continue;
      }
      const needed = clampInt(c.needed, 1, MAX_UNITS);
      const want = clampInt(c.want, needed, MAX_UNITS);
      out.push(await claimRateUnits(this.db, { rateLimitId: c.rateLimitId, windowStartMs: c.windowStartMs, needed, want }, nodes, now, this.#skewMs));
    }
    if (now - this.#lastCleanup >= this.#keepMs) {
      this.#lastCleanup = now;
      await this.cleanup(now);
    }
    return out;
  }

  /** Deletes windows that ended more than the keep time before `now`; resolves to how many. */
  cleanup(now: number = this.now()): Promise<number> {
    return deleteRateWindowsBefore(this.db, now - this.#keepMs);
  }
}
