/**
 * The current policy snapshot, cached per revision and rebuilt when the revision changes:
 * NOTIFY-driven (fast path), with a periodic poll of `policy_revision` as a safety net.
 */
import { encodeSnapshotResources, type Resource } from "@tollgate/proto";
import type { PolicySnapshot } from "@tollgate/policy";
import type { Logger } from "pino";
import type { Database } from "../db/database.js";
import { getPolicyRevision } from "../repositories/settings.repository.js";
import { POLICY_CHANNEL } from "../services/mutation-runner.js";
import { buildSnapshot } from "./snapshot-builder.js";

/** One built snapshot with its encoded resources by key. */
export interface SnapshotEntry {
  readonly version: bigint;
  readonly snapshot: PolicySnapshot;
  readonly resources: ReadonlyMap<string, Resource>;
}

/** Dependencies of the feed. */
export interface PolicyFeedDeps {
  readonly db: Database;
  readonly masterKey: Buffer;
  readonly now: () => number;
  readonly logger: Logger;
  /** Poll period of the safety net (default 1000 ms). */
  readonly pollMs?: number;
}

/** Keeps the latest snapshot and tells subscribers about each new one. */
export class PolicyFeed {
  private entry: SnapshotEntry | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(e: SnapshotEntry) => void>();
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;

  constructor(private readonly deps: PolicyFeedDeps) {}

  /** Builds the first snapshot and starts listening and polling. */
  async start(): Promise<void> {
    this.unlisten = await this.deps.db.listen(POLICY_CHANNEL, () => this.poke());
    await this.refresh();
    this.timer = setInterval(() => this.poke(), this.deps.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Stops listening and polling. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
    if (this.unlisten) await this.unlisten().catch(() => undefined);
    this.unlisten = null;
    await this.chain.catch(() => undefined);
  }

  /** Calls `fn` with every newer snapshot; returns the unsubscribe function. */
  subscribe(fn: (e: SnapshotEntry) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The latest snapshot, rebuilt first when the revision moved. */
  refresh(): Promise<SnapshotEntry> {
    const p = this.chain.then(() => this.rebuildIfStale());
    this.chain = p.catch(() => undefined);
    return p;
  }

  private poke(): void {
    if (this.stopped) return;
    this.refresh().catch((e: unknown) => this.deps.logger.warn({ err: e instanceof Error ? e.message : String(e) }, "policy snapshot refresh failed"));
  }

  private async rebuildIfStale(): Promise<SnapshotEntry> {
    const revision = await getPolicyRevision(this.deps.db);
    if (this.entry && this.entry.version >= revision) return this.entry;
    const snapshot = await buildSnapshot(this.deps.db, { masterKey: this.deps.masterKey, nowMs: this.deps.now() });
    const resources = new Map<string, Resource>();
    for (const r of encodeSnapshotResources(snapshot)) resources.set(r.key, r);
    const entry: SnapshotEntry = { version: snapshot.version, snapshot, resources };
    this.entry = entry;
    for (const fn of [...this.listeners]) {
      try {
        fn(entry);
      } catch (e) {
        this.deps.logger.error({ err: e instanceof Error ? e.message : String(e) }, "policy listener failed");
      }
    }
    return entry;
  }
}
