/**
 * The Subscribe stream of one node: Hello -> full snapshot or delta, then a delta per new
 * revision relative to what was sent; ACKs recorded in `data_plane_nodes`. When the number of
 * connected nodes changes (nodes join, leave or move between replicas), an empty update at the
 * same version carries the new count, so every node's rate-limit share follows. Every update also
 * carries the node's demand-based rate-limit shares (RateShareService); when they move by more than
 * 10% (checked with the node count, every 2 s), a `shares_only` update at the same version re-sends them.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { PolicyUpdateSchema, type Hello, type PolicyUpdate, type SubscribeRequest } from "@tollgate/proto";
import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Database } from "../db/database.js";
import { countConnectedNodes, markNodeDisconnected, recordNodeAck, touchNode, upsertConnectedNode } from "../repositories/node.repository.js";
import { sharesChanged } from "@tollgate/policy";
import type { RateShareService } from "../services/rate-share.service.js";
import { NODE_FRESHNESS_MS } from "../services/reporting.service.js";
import type { PolicyFeed, SnapshotEntry } from "../snapshot/policy-feed.js";
import { diffResources } from "../snapshot/snapshot-diff.js";

/** Dependencies of the stream handler. */
export interface PolicyStreamDeps {
  readonly db: Database;
  readonly feed: PolicyFeed;
  readonly now: () => number;
  readonly logger: Logger;
  /** How often a connected node's last-seen time is refreshed (default 15 s). */
  readonly heartbeatMs?: number;
  /** Called with +1/-1 as streams open and close (metrics). */
  readonly onStreamCount?: (delta: number) => void;
  /** This control-plane process (recorded per node; several replicas share one database). */
  readonly replicaId?: string;
  /** How often the connected-node count is checked (default 2 s). */
  readonly nodeCountCheckMs?: number;
  /** Demand-based rate-limit shares (without it, nodes split every limit evenly). */
  readonly rateShares?: RateShareService;
}

type Call = grpc.ServerDuplexStream<SubscribeRequest, PolicyUpdate>;

/** Serves one Subscribe call until the node goes away. */
export function serveSubscription(call: Call, deps: PolicyStreamDeps): void {
  const log = deps.logger.child({ peer: call.getPeer() });
  let hello: Hello | null = null;
  let sent = new Map<string, string>();
  let lastVersion = -1n;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  let unsubscribe: (() => void) | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let countCheck: NodeJS.Timeout | null = null;
  let sentNodeCount = 0;
  let sentShares: ReadonlyMap<string, number> = new Map();
  deps.onStreamCount?.(1);

  const enqueue = (fn: () => Promise<void>): void => {
    queue = queue.then(fn).catch((e: unknown) => {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, "policy stream step failed");
      fail(GrpcStatus.UNAVAILABLE, "policy stream failed; reconnect");
    });
  };

  const fail = (code: GrpcStatus, details: string): void => {
    if (closed) return;
    call.emit("error", { code, details });
    cleanup();
  };

  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    deps.onStreamCount?.(-1);
    unsubscribe?.();
    if (heartbeat) clearInterval(heartbeat);
    if (countCheck) clearInterval(countCheck);
    const h = hello;
    if (h) {
      deps.rateShares?.detachNode(h.nodeId);
      markNodeDisconnected(deps.db, h.nodeId, h.bootId, deps.now(), deps.replicaId).catch((e: unknown) =>
        log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not mark node disconnected"),
      );
    }
  };

  const sendUpdate = async (entry: SnapshotEntry, full: boolean, held: ReadonlyMap<string, string>): Promise<void> => {
    if (closed || entry.version <= lastVersion) return;
    const delta = full ? { upserts: diffResources(entry.resources, new Map()).upserts, removals: [] } : diffResources(entry.resources, held);
    const connected = await countConnectedNodes(deps.db, deps.now() - NODE_FRESHNESS_MS);
    if (closed) return;
    const shares = sharesOf(entry, Math.max(connected, 1));
    const update = create(PolicyUpdateSchema, {
      version: entry.version,
      nonce: randomBytes(8).toString("hex"),
      full,
      upserts: delta.upserts,
      removals: delta.removals,
      hmacPepper: entry.snapshot.hmacPepper,
      serverTimeMs: BigInt(deps.now()),
      connectedNodes: Math.max(connected, 1),
      rateLimitShares: Object.fromEntries(shares),
    });
    sentShares = shares;
    sent = new Map([...entry.resources].map(([k, r]) => [k, r.hash]));
    lastVersion = entry.version;
    sentNodeCount = update.connectedNodes;
    call.write(update);
  };

  /** This node's demand-based shares of the snapshot's rate limits. */
  const sharesOf = (entry: SnapshotEntry, connected: number): Map<string, number> =>
    hello !== null && deps.rateShares !== undefined ? deps.rateShares.sharesFor(hello.nodeId, entry.snapshot.rateLimits, connected) : new Map();

  /** Re-sends the node count and shares at the held version (`shares_only`) when either changed. */
  const sendNodeCount = async (): Promise<void> => {
    if (closed || lastVersion < 0n) return;
    const connected = Math.max(await countConnectedNodes(deps.db, deps.now() - NODE_FRESHNESS_MS), 1);
    if (closed) return;
    const entry = await deps.feed.refresh();
    if (closed || entry.version !== lastVersion) return; // a real delta is on its way and carries count and shares
    const shares = sharesOf(entry, connected);
    if (connected === sentNodeCount && !sharesChanged(sentShares, shares)) return;
    sentNodeCount = connected;
    sentShares = shares;
    call.write(
      create(PolicyUpdateSchema, {
        version: lastVersion,
        nonce: randomBytes(8).toString("hex"),
        full: false,
        upserts: [],
        removals: [],
        hmacPepper: entry.snapshot.hmacPepper,
        serverTimeMs: BigInt(deps.now()),
        connectedNodes: connected,
        rateLimitShares: Object.fromEntries(shares),
        sharesOnly: true,
      }),
    );
  };

  const onHello = async (h: Hello): Promise<void> => {
    if (h.nodeId === "" || h.bootId === "") return fail(GrpcStatus.INVALID_ARGUMENT, "hello needs node_id and boot_id");
    hello = h;
    deps.rateShares?.attachNode(h.nodeId);
    await upsertConnectedNode(deps.db, h.nodeId, h.bootId, call.getPeer(), deps.now(), deps.replicaId ?? "");
    const entry = await deps.feed.refresh();
    const held = new Map(h.held.map((r) => [r.key, r.hash]));
    await sendUpdate(entry, held.size === 0, held);
    unsubscribe = deps.feed.subscribe((next) => enqueue(() => sendUpdate(next, false, sent)));
    heartbeat = setInterval(() => enqueue(() => touchNode(deps.db, h.nodeId, h.bootId, deps.now())), deps.heartbeatMs ?? 15_000);
    heartbeat.unref();
    countCheck = setInterval(() => enqueue(sendNodeCount), deps.nodeCountCheckMs ?? 2_000);
    countCheck.unref();
    log.info({ nodeId: h.nodeId, bootId: h.bootId, version: entry.version.toString() }, "node subscribed");
  };

  call.on("data", (req: SubscribeRequest) => {
    const msg = req.msg;
    switch (msg.case) {
      case "hello":
        if (hello) return fail(GrpcStatus.INVALID_ARGUMENT, "hello sent twice");
        return enqueue(() => onHello(msg.value));
      case "ack": {
        const h = hello;
        if (!h) return fail(GrpcStatus.FAILED_PRECONDITION, "ack before hello");
        const ack = msg.value;
        return enqueue(async () => {
          for (const nack of ack.nacks) {
            sent.delete(nack.key);
            log.warn({ nodeId: h.nodeId, key: nack.key, reason: nack.reason }, "node refused a resource");
          }
          await recordNodeAck(deps.db, h.nodeId, h.bootId, ack.version, deps.now());
        });
      }
      case undefined:
        return fail(GrpcStatus.INVALID_ARGUMENT, "empty subscribe message");
    }
  });
  call.on("end", () => {
    cleanup();
    call.end();
  });
  call.on("cancelled", cleanup);
  call.on("error", cleanup);
}
