/**
 * Recent demand of one budget entry: the sum of the amounts held in the last `horizonMs`, kept
 * as per-slice sums (default 100 ms slices) in arrival order. Memory and work per request are
 * bounded by horizon / slice whatever the request rate (one sample object per request would hold
 * 150,000 objects at 5,000 requests/s and copy them on every prune). A slice counts while its
 * last millisecond is inside the horizon, so demand may include up to one slice more than exact.
 */

/** Width of a demand slice: amounts held within one slice are summed. */
export const DEMAND_SLICE_MS = 100;

/** Slices dropped from the front before the arrays are compacted. */
const COMPACT_AFTER = 64;

/** A sliding sum of held amounts over a time horizon. */
export class DemandWindow {
  readonly #slices: number[] = [];
  readonly #amounts: bigint[] = [];
  /** Index of the oldest slice still inside the horizon. */
  #head = 0;

  /** `horizonMs`: how long an amount counts; `sliceMs`: the resolution. */
  constructor(
    private readonly horizonMs: number,
    private readonly sliceMs: number = DEMAND_SLICE_MS,
  ) {}

  /** Adds an amount held at `now` (epoch ms) and drops what left the horizon. */
  add(now: number, amount: bigint): void {
    const slice = Math.floor(now / this.sliceMs);
    const last = this.#slices.length - 1;
    if (last >= this.#head && this.#slices[last] === slice) this.#amounts[last] = (this.#amounts[last] ?? 0n) + amount;
    else {
      this.#slices.push(slice);
      this.#amounts.push(amount);
    }
    this.prune(now);
  }

  /** Drops the slices that left the horizon at `now`. */
  prune(now: number): void {
    const cutoff = now - this.horizonMs;
    const length = this.#slices.length;
    while (this.#head < length && this.#lastMsOf(this.#slices[this.#head] ?? 0) <= cutoff) this.#head += 1;
    if (this.#head === length || (this.#head >= COMPACT_AFTER && this.#head * 2 >= length)) {
      this.#slices.splice(0, this.#head);
      this.#amounts.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Sum of the amounts held within the horizon before `now`. */
  total(now: number): bigint {
    const cutoff = now - this.horizonMs;
    let sum = 0n;
    for (let i = this.#head; i < this.#slices.length; i++) {
      if (this.#lastMsOf(this.#slices[i] ?? 0) > cutoff) sum += this.#amounts[i] ?? 0n;
    }
    return sum;
  }

  /** Slices held (for tests: bounded by horizon / slice). */
  get size(): number {
    return this.#slices.length - this.#head;
  }

  #lastMsOf(slice: number): number {
    return slice * this.sliceMs + this.sliceMs - 1;
  }
}
