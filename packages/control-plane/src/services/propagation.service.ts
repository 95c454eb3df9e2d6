/**
 * Policy propagation: which data-plane nodes have applied a policy revision. "Revoked on every
 * node" is a fact read from the nodes' ACKs (`data_plane_nodes.policy_version`, shared by every
 * control-plane replica), not a hope. Optionally waits a bounded time for the pending nodes.
 */
import type { Database } from "../db/database.js";
import { listNodes, type NodeStatusRecord } from "../repositories/node.repository.js";
import { getPolicyRevision } from "../repositories/settings.repository.js";
import { badInput } from "../errors.js";
import type { Actor } from "./actor.js";
import { NODE_FRESHNESS_MS } from "./reporting.service.js";

/** The longest a caller may ask to wait for propagation. */
export const MAX_PROPAGATION_WAIT_MS = 10_000;

/** How far a revision has spread. */
export interface PolicyPropagation {
  /** The revision asked about. */
  readonly revision: bigint;
  /** Connected nodes that ACKed this revision or a later one. */
  readonly nodesApplied: number;
  /** Connected nodes still behind. */
  readonly nodesPending: number;
  /** Nodes not connected now (they catch up when they reconnect, from their cached snapshot first). */
  readonly nodesDisconnected: number;
  /** Ids of the pending nodes (platform admins only; empty for others). */
  readonly pendingNodeIds: readonly string[];
  /** How long this answer waited (ms). */
  readonly waitedMs: number;
}

/** A node with what its state means now. */
export interface NodeView extends NodeStatusRecord {
  /** CONNECTED (stream open, seen recently), STALE (stream marked open but silent), DISCONNECTED. */
  readonly connectionState: "CONNECTED" | "STALE" | "DISCONNECTED";
  /** ms since the node last applied an update (null = never). */
  readonly snapshotAgeMs: number | null;
  /** Revisions between the current one and the node's. */
  readonly revisionsBehind: bigint;
}

/** Answers propagation questions. */
export class PropagationService {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /**
   * The propagation of `revision` (default: the current one), waiting up to `waitMs` for every
   * connected node to apply it. Any authenticated caller may ask; node ids only for platform admins.
   */
  async propagation(actor: Actor, revision: bigint | null, waitMs = 0): Promise<PolicyPropagation> {
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_PROPAGATION_WAIT_MS) throw badInput(`waitMs must be 0-${MAX_PROPAGATION_WAIT_MS}`);
    const target = revision ?? (await getPolicyRevision(this.db));
    const started = this.now();
    for (;;) {
      const nodes = await listNodes(this.db, this.now() - NODE_FRESHNESS_MS);
      const connected = nodes.filter((n) => n.connected);
      const pending = connected.filter((n) => n.policyVersion < target);
      const waited = this.now() - started;
      if (pending.length === 0 || waited >= waitMs) {
        return {
          revision: target,
          nodesApplied: connected.length - pending.length,
          nodesPending: pending.length,
          nodesDisconnected: nodes.length - connected.length,
          pendingNodeIds: actor.kind === "platformAdmin" ? pending.map((n) => n.id) : [],
          waitedMs: waited,
        };
      }
      await this.sleep(Math.min(20, waitMs - waited));
    }
  }

  /** Every node with its connection state, snapshot age and lag (the caller checked rights). */
  async nodes(): Promise<NodeView[]> {
    const nowMs = this.now();
    const [nodes, current] = await Promise.all([listNodes(this.db, nowMs - NODE_FRESHNESS_MS), getPolicyRevision(this.db)]);
    return nodes.map((n) => ({
      ...n,
      connectionState: n.connected ? "CONNECTED" : n.streamOpen ? "STALE" : "DISCONNECTED",
      snapshotAgeMs: n.appliedAt === null ? null : Math.max(0, nowMs - n.appliedAt),
      revisionsBehind: current > n.policyVersion ? current - n.policyVersion : 0n,
    }));
  }
}
