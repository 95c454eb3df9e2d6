/**
 * Rate-limit windows allocated across nodes. A limit of N per window (fixed windows aligned to
 * the epoch) is a pool of N units per window kept by the control plane; a node admits a request
 * only against units it was allocated for that window, and borrows more synchronously when the
 * units it holds are spent.
 *
 * The rules (pure, integers), with their invariant:
 *   - the control plane grants a claim `grantRateUnits(limit, allocated, needed, want, nodes)`:
 *     nothing when fewer than `needed` units are free, else min(free, max(needed, min(want,
 *     ceil(free / (2·nodes))))). So the
 *     window's allocation never exceeds N: Σ over nodes of what they were granted <= N, and the
 *     cluster admits at most N per window while the nodes reach the control plane.
 *   - a node asks for `sizeRateClaim(limit, allocatedKnown, needed, nodes)`: what the request
 *     needs, or a 1/(2·nodes) slice of what it last knew to be free if that is more. Slices shrink
 *     as the window fills, so what a node holds unused when the pool runs dry is small (one
 *     unit per node for small limits), and a window with demand >= N admits N unless nodes whose
 *     traffic stopped hold units they will not use (at most ceil(free / (2·nodes)) - 1 each, free
 *     being the pool's free units when they claimed).
 *   - without the control plane a node admits up to `outageAllowance` per window: what it was
 *     granted in that window or its last share, whichever is more. Shares sum to at most N plus
 *     one per node (even split rounded up), so the cluster admits at most N + nodes - 1 in a window
 *     that starts during an outage, and 2N + nodes - 1 in the window an outage starts in.
 */

/**
 * Units the control plane grants to one claim (see the module comment): 0 when fewer than
 * `needed` are free, else what is needed, or more up to `want` and to a 1/(2·nodes) slice of
 * what is free now, never more than is free.
 */
export function grantRateUnits(limit: number, allocated: number, needed: number, want: number, nodes: number): number {
  const free = Math.max(0, Math.floor(limit) - Math.max(0, Math.floor(allocated)));
  const need = Math.max(1, Math.floor(needed));
  if (free < need) return 0;
  return Math.min(free, Math.max(need, Math.min(Math.floor(want), sliceOf(free, nodes))));
}

function sliceOf(free: number, nodes: number): number {
  return Math.ceil(free / (2 * Math.max(1, Math.floor(nodes))));
}

/** Units a node asks for: max(needed, ceil(free known / (2 · nodes))), never above what it knows to be free (unless it needs more). */
export function sizeRateClaim(limit: number, allocatedKnown: number, needed: number, nodes: number): number {
  const free = Math.max(0, Math.floor(limit) - Math.max(0, Math.floor(allocatedKnown)));
  return Math.max(Math.max(1, Math.floor(needed)), sliceOf(free, nodes));
}

/** What a node may admit in a window while the control plane is unreachable: max(granted, share). */
export function outageAllowance(granted: number, share: number): number {
  return Math.max(Math.max(0, granted), Math.max(0, share));
}

/** Epoch ms of the start of the fixed window of `windowSeconds` containing `now`. */
export function rateWindowStartOf(windowSeconds: number, now: number): number {
  const windowMs = rateWindowMsOf(windowSeconds);
  return Math.floor(now / windowMs) * windowMs;
}

/** A rate window's length in ms (at least one second). */
export function rateWindowMsOf(windowSeconds: number): number {
  return Math.max(1, Math.floor(windowSeconds)) * 1000;
}
