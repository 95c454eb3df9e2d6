/**
 * Capped, jittered exponential backoff and an abortable sleep, shared by the control-plane
 * clients of the node (policy stream, grants, usage reporter).
 */

/** Backoff bounds in milliseconds. */
export interface BackoffBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The control-plane reconnect bounds: 200 ms .. 5 s. */
export const CONTROL_PLANE_BACKOFF: BackoffBounds = { minMs: 200, maxMs: 5_000 };

/** Delay before retry number `attempt` (0-based): min(max, min*2^attempt), jittered into [50%, 100%]. */
export function computeBackoffMs(attempt: number, random: () => number, bounds: BackoffBounds = CONTROL_PLANE_BACKOFF): number {
  const ceiling = Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** Resolves after `ms` or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
