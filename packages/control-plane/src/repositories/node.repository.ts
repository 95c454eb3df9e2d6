/** SQL of `data_plane_nodes`. */
import { isoOf, toBigInt, toMsOrNull, type Queryable } from "../db/database.js";
import type { NodeRecord } from "../records.js";

/** A node as last seen, with the replica serving its stream and when that stream opened. */
export interface NodeStatusRecord extends NodeRecord {
  /** The control-plane replica holding the node's policy stream ("" = unknown). */
  readonly replicaId: string;
  /** When the current (or last) stream opened; null = unknown. */
  readonly connectedAt: number | null;
  /** The stream is recorded open (it may be silent: `connected` also needs a recent heartbeat). */
  readonly streamOpen: boolean;
}

/** Records a node's stream opening (connected, new boot id) on replica `replicaId`. */
export async function upsertConnectedNode(q: Queryable, id: string, bootId: string, address: string, nowMs: number, replicaId = ""): Promise<void> {
  await q.query(
    `INSERT INTO data_plane_nodes (id, boot_id, connected, policy_version, last_seen_at, address, replica_id, connected_at) VALUES ($1, $2, true, 0, $3, $4, $5, $3)
     ON CONFLICT (id) DO UPDATE SET boot_id = EXCLUDED.boot_id, connected = true, last_seen_at = EXCLUDED.last_seen_at, address = EXCLUDED.address,
       replica_id = EXCLUDED.replica_id, connected_at = EXCLUDED.connected_at`,
    [id, bootId, isoOf(nowMs), address, replicaId],
  );
}

/** Records that a node applied a policy version. */
export async function recordNodeAck(q: Queryable, id: string, bootId: string, version: bigint, nowMs: number): Promise<void> {
  await q.query("UPDATE data_plane_nodes SET policy_version = $3, applied_at = $4, last_seen_at = $4, connected = true WHERE id = $1 AND boot_id = $2", [id, bootId, version.toString(), isoOf(nowMs)]);
}

/** Refreshes a connected node's last-seen time. */
export async function touchNode(q: Queryable, id: string, bootId: string, nowMs: number): Promise<void> {
  await q.query("UPDATE data_plane_nodes SET last_seen_at = $3 WHERE id = $1 AND boot_id = $2 AND connected", [id, bootId, isoOf(nowMs)]);
}

/**
 * Marks a node's stream closed, only if the same boot is still recorded and (when `replicaId` is
 * given) its stream is still held by that replica: a node that already moved to another replica
 * stays connected.
 */
export async function markNodeDisconnected(q: Queryable, id: string, bootId: string, nowMs: number, replicaId?: string): Promise<void> {
  if (replicaId === undefined) {
    await q.query("UPDATE data_plane_nodes SET connected = false, last_seen_at = $3 WHERE id = $1 AND boot_id = $2", [id, bootId, isoOf(nowMs)]);
    return;
  }
  await q.query("UPDATE data_plane_nodes SET connected = false, last_seen_at = $3 WHERE id = $1 AND boot_id = $2 AND replica_id = $4", [id, bootId, isoOf(nowMs), replicaId]);
}

/** Every node ordered by id; `connected` is true only when seen since `freshSinceMs`. */
export async function listNodes(q: Queryable, freshSinceMs: number): Promise<NodeStatusRecord[]> {
  const rows = await q.query<{
    id: string;
    boot_id: string;
    connected: boolean;
    policy_version: string;
    applied_at: Date | null;
    last_seen_at: Date;
    address: string;
    replica_id: string | null;
    connected_at: Date | null;
    stream_open: boolean;
  }>(
    `SELECT id, boot_id, connected AND last_seen_at >= $1 AS connected, connected AS stream_open, policy_version, applied_at, last_seen_at, address, replica_id, connected_at
     FROM data_plane_nodes ORDER BY id`,
    [isoOf(freshSinceMs)],
  );
  return rows.map((r) => ({
    id: r.id,
    bootId: r.boot_id,
    connected: r.connected,
    policyVersion: toBigInt(r.policy_version),
    appliedAt: toMsOrNull(r.applied_at),
    lastSeenAt: toMsOrNull(r.last_seen_at) ?? 0,
    address: r.address,
    replicaId: r.replica_id ?? "",
    connectedAt: toMsOrNull(r.connected_at),
    streamOpen: r.stream_open,
  }));
}

/** How many nodes are connected and seen since `freshSinceMs`. */
export async function countConnectedNodes(q: Queryable, freshSinceMs: number): Promise<number> {
  const rows = await q.query<{ n: string }>("SELECT count(*) AS n FROM data_plane_nodes WHERE connected AND last_seen_at >= $1", [isoOf(freshSinceMs)]);
  return Number(rows[0]?.n ?? 0);
}
