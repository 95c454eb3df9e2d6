/**
 * Demand-based rate-limit shares. Usage ingest feeds a sliding in-memory tally (1 s buckets over
 * the last `windowMs`, default 20 s) of each node's requests and tokens per scope (key, user, team,
 * organization), refusals included (a request refused by the rate limit is demand too). For every
 * rate limit with recent demand, the limit is split between the nodes connected to THIS replica by
 * `allocateRateShares` (minimum per node, the rest by demand, Σ = the replica's part exactly).
 * Replicas see only their own nodes' records, so each one splits only its part of the limit:
 * floor(limit * local nodes / all connected nodes), and the parts of all replicas sum to at most
 * the limit. Rate limits without recent demand get no share (nodes use the even split). Nodes
 * admit on their share only while they cannot reach the control plane; otherwise they borrow
 * pooled units of each window (rate-allocation.service.ts).
 */
import { allocateRateShares, defaultMinimumShare, type RateLimitPolicy } from "@tollgate/policy";

/** The fields of a usage record the tally needs. */
export interface DemandRecord {
  readonly nodeId: string;
  readonly organizationId: string;
  readonly virtualKeyId: string;
  readonly userId: string;
  readonly teamId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly errorCode: string;
  readonly startedAtMs: number | bigint;
}

/** Options of the share service. */
export interface RateShareOptions {
  readonly now: () => number;
  /** How far back demand counts (default 20 s). */
  readonly windowMs?: number;
}

interface Tally {
  requests: number;
  tokens: number;
  /** Requests refused by a rate limit (their tokens are unknown: estimated from the admitted ones). */
  refused: number;
}

const BUCKET_MS = 1_000;
const CACHE_MS = 500;

function scopeKeysOf(r: DemandRecord): string[] {
  const keys: string[] = [];
  if (r.virtualKeyId !== "") keys.push(`VIRTUAL_KEY:${r.virtualKeyId}`);
  if (r.userId !== "") keys.push(`USER:${r.userId}`);
  if (r.teamId !== "") keys.push(`TEAM:${r.teamId}`);
  if (r.organizationId !== "") keys.push(`ORGANIZATION:${r.organizationId}`);
  return keys;
}

/** Per-replica demand tally and share computation (one per control-plane process). */
export class RateShareService {
  readonly #now: () => number;
  readonly #windowMs: number;
  /** bucket index -> scope key -> node id -> tally */
  readonly #buckets = new Map<number, Map<string, Map<string, Tally>>>();
  readonly #nodes = new Map<string, number>();
  #cache: { at: number; limits: readonly RateLimitPolicy[]; total: number; shares: Map<string, Map<string, number>> } | null = null;

  constructor(options: RateShareOptions) {
    this.#now = options.now;
    this.#windowMs = Math.max(BUCKET_MS, options.windowMs ?? 20_000);
  }

  /** Counts ingested records as demand (records older than the window, or from other replicas' nodes, are ignored). */
  recordUsage(records: readonly DemandRecord[]): void {
    const now = this.#now();
    for (const r of records) {
      const started = Number(r.startedAtMs);
      const at = Math.min(now, started > 0 ? started : now);
      if (at < now - this.#windowMs || r.nodeId === "") continue;
      const index = Math.floor(at / BUCKET_MS);
      let bucket = this.#buckets.get(index);
      if (bucket === undefined) this.#buckets.set(index, (bucket = new Map()));
      const refused = r.errorCode === "rate_limit_exceeded" ? 1 : 0;
      const tokens = refused === 1 ? 0 : Math.max(0, r.inputTokens) + Math.max(0, r.outputTokens);
      for (const key of scopeKeysOf(r)) {
        let byNode = bucket.get(key);
        if (byNode === undefined) bucket.set(key, (byNode = new Map()));
        const t = byNode.get(r.nodeId) ?? { requests: 0, tokens: 0, refused: 0 };
        t.requests += 1;
        t.tokens += tokens;
        t.refused += refused;
        byNode.set(r.nodeId, t);
      }
    }
    this.#prune(now);
  }

  /** A node's stream opened on this replica. */
  attachNode(nodeId: string): void {
    this.#nodes.set(nodeId, (this.#nodes.get(nodeId) ?? 0) + 1);
    this.#cache = null;
  }

  /** A node's stream closed. */
  detachNode(nodeId: string): void {
    const n = (this.#nodes.get(nodeId) ?? 0) - 1;
    if (n > 0) this.#nodes.set(nodeId, n);
    else this.#nodes.delete(nodeId);
    this.#cache = null;
  }

  /** Node ids connected to this replica, sorted. */
  localNodes(): string[] {
    return [...this.#nodes.keys()].sort();
  }

  /**
   * `nodeId`'s share of every rate limit in `rateLimits` that had demand on this replica's nodes,
   * given `totalConnected` nodes over all replicas (at least the local ones).
   */
  sharesFor(nodeId: string, rateLimits: readonly RateLimitPolicy[], totalConnected: number): Map<string, number> {
    const now = this.#now();
    const c = this.#cache;
    if (c !== null && c.limits === rateLimits && c.total === totalConnected && now - c.at < CACHE_MS) return c.shares.get(nodeId) ?? new Map();
    const shares = this.#computeAll(rateLimits, totalConnected, now);
    this.#cache = { at: now, limits: rateLimits, total: totalConnected, shares };
    return shares.get(nodeId) ?? new Map();
  }

  #computeAll(rateLimits: readonly RateLimitPolicy[], totalConnected: number, now: number): Map<string, Map<string, number>> {
    this.#prune(now);
    const nodes = this.localNodes();
    const out = new Map<string, Map<string, number>>(nodes.map((n) => [n, new Map<string, number>()]));
    if (nodes.length === 0) return out;
    const demand = this.#demandByScope(new Set(nodes));
    if (demand.size === 0) return out;
    const total = Math.max(nodes.length, Math.floor(totalConnected));
    for (const policy of rateLimits) {
      const byNode = demand.get(`${policy.scope}:${policy.scopeId}`);
      if (byNode === undefined) continue;
      const part = total > nodes.length ? Math.floor((policy.limit * nodes.length) / total) : policy.limit;
      const weights = demandWeights(
        policy.unit,
        nodes.map((n) => byNode.get(n) ?? { requests: 0, tokens: 0, refused: 0 }),
      );
      const shares = allocateRateShares(part, weights, defaultMinimumShare(part, nodes.length));
      nodes.forEach((n, i) => out.get(n)?.set(policy.id, shares[i] as number));
    }
    return out;
  }

  /** scope key -> node id -> tally over the window, for the given nodes. */
  #demandByScope(nodes: ReadonlySet<string>): Map<string, Map<string, Tally>> {
    const out = new Map<string, Map<string, Tally>>();
    for (const bucket of this.#buckets.values()) {
      for (const [key, byNode] of bucket) {
        for (const [node, t] of byNode) {
          if (!nodes.has(node)) continue;
          let sum = out.get(key);
          if (sum === undefined) out.set(key, (sum = new Map()));
          const s = sum.get(node) ?? { requests: 0, tokens: 0, refused: 0 };
          s.requests += t.requests;
          s.tokens += t.tokens;
          s.refused += t.refused;
          sum.set(node, s);
        }
      }
    }
    return out;
  }

  #prune(now: number): void {
    const oldest = Math.floor((now - this.#windowMs) / BUCKET_MS);
    for (const index of this.#buckets.keys()) if (index < oldest) this.#buckets.delete(index);
  }
}

/**
 * Demand per node in the limit's unit: requests; or tokens, where a request refused by a rate limit
 * counts the average tokens of the admitted ones (by requests when no tokens were seen at all).
 */
function demandWeights(unit: RateLimitPolicy["unit"], tallies: readonly Tally[]): number[] {
  if (unit === "REQUESTS") return tallies.map((t) => t.requests);
  const admitted = tallies.reduce((a, t) => a + t.requests - t.refused, 0);
  const tokens = tallies.reduce((a, t) => a + t.tokens, 0);
  if (tokens === 0) return tallies.map((t) => t.requests);
  const average = tokens / Math.max(1, admitted);
  return tallies.map((t) => t.tokens + t.refused * average);
}
