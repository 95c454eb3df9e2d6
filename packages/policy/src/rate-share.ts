/**
 * Splitting one rate limit between the nodes that enforce it, by their recent demand. The rule
 * (exact, integer): with `n` nodes and `limit` to split,
 *   - every node first gets the minimum m = min(max(1, minimum), floor(limit / n));
 *   - the rest R = limit - n*m is split in proportion to demand: floor(R * d_i / Σd) each, and the
 *     units left by rounding go one each to the largest fractional remainders (ties: lower index);
 *   - with no demand at all (Σd = 0) the rest is split evenly the same way.
 * So Σ shares = limit exactly (never above it), every node keeps at least m, and shares follow
 * demand. When limit < n, m is 0 and the units go to the nodes with the most demand.
 */

/** The default minimum share of one node: 5% of the limit spread over the nodes, at least 1. */
export function defaultMinimumShare(limit: number, nodes: number): number {
  return Math.max(1, Math.floor(Math.max(0, limit) / (20 * Math.max(1, nodes))));
}

/** Shares of `limit` for nodes with `demands` (same order); see the module comment for the rule. */
export function allocateRateShares(limit: number, demands: readonly number[], minimum = defaultMinimumShare(limit, demands.length)): number[] {
  const n = demands.length;
  if (n === 0) return [];
  const total = Math.max(0, Math.floor(limit));
  const floorShare = Math.min(Math.max(1, Math.floor(minimum)), Math.floor(total / n));
  const rest = total - floorShare * n;
  const weights = demands.map((d) => (Number.isFinite(d) && d > 0 ? d : 0));
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (sum > 0 ? (rest * w) / sum : rest / n));
  const shares = exact.map((e) => floorShare + Math.floor(e));
  let left = total - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    shares[i] = (shares[i] as number) + 1;
    left--;
  }
  return shares;
}

/** True when `next` differs from `prev` by more than `ratio` (relative) for any id, or names other ids. */
export function sharesChanged(prev: ReadonlyMap<string, number>, next: ReadonlyMap<string, number>, ratio = 0.1): boolean {
  if (prev.size !== next.size) return true;
  for (const [id, share] of next) {
    const old = prev.get(id);
    if (old === undefined) return true;
    if (Math.abs(share - old) > ratio * Math.max(old, 1)) return true;
  }
  return false;
}
