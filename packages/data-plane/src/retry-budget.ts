/**
 * A node's retry budget: over a sliding minute, retries may be at most `ratio` of the requests
 * (default 20%), with a floor of `minPerMinute` retries (default 10) so a quiet node can still fall
 * back. It keeps a failing upstream from being hit with a multiple of the node's traffic.
 */

/** Retry budget settings. */
export interface RetryBudgetOptions {
  /** Largest share of retries among requests in the window (default 0.2). */
  readonly ratio?: number;
  /** Retries always allowed per window, whatever the traffic (default 10). */
  readonly minPerMinute?: number;
  /** Window length (default 60 s), counted in `buckets` slices (default 60). */
  readonly windowMs?: number;
  readonly buckets?: number;
}

/** A sliding-window count of requests and retries. */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly sliceMs: number;
  private readonly requests: number[];
  private readonly retries: number[];
  /** The slice index (time / sliceMs) each ring slot holds. */
  private readonly slices: number[];

  /** `now` is the epoch-ms clock. */
  constructor(
    private readonly now: () => number,
    opts: RetryBudgetOptions = {},
  ) {
    this.ratio = Math.max(0, opts.ratio ?? 0.2);
    this.floor = Math.max(0, Math.floor(opts.minPerMinute ?? 10));
    const buckets = Math.max(1, Math.floor(opts.buckets ?? 60));
    this.sliceMs = Math.max(1, Math.floor((opts.windowMs ?? 60_000) / buckets));
    this.requests = new Array<number>(buckets).fill(0);
    this.retries = new Array<number>(buckets).fill(0);
    this.slices = new Array<number>(buckets).fill(-1);
  }

  /** The ring slot of the current slice, cleared if it held an older one. */
  private slot(): number {
    const slice = Math.floor(this.now() / this.sliceMs);
    const i = slice % this.slices.length;
    if (this.slices[i] !== slice) {
      this.slices[i] = slice;
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    return i;
  }

  /** Sums a counter over the slices still inside the window. */
  private sum(counts: readonly number[]): number {
    const current = Math.floor(this.now() / this.sliceMs);
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      const slice = this.slices[i] ?? -1;
      if (slice > current - this.slices.length && slice <= current) total += counts[i] ?? 0;
    }
    return total;
  }

  /** Counts one request (its first attempt). */
  recordRequest(): void {
    const i = this.slot();
    this.requests[i] = (this.requests[i] ?? 0) + 1;
  }

  /** Whether one more retry fits the budget now (nothing is counted). */
  canRetry(): boolean {
    const allowed = Math.max(this.floor, Math.floor(this.ratio * this.sum(this.requests)));
    return this.sum(this.retries) + 1 <= allowed;
  }

  /** Takes one retry from the budget; false (nothing taken) when it is spent. */
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    const i = this.slot();
    this.retries[i] = (this.retries[i] ?? 0) + 1;
    return true;
  }
}
