/**
 * A running data-plane node: loads its cached snapshot, subscribes to policy, keeps grants,
 * spools and reports usage, and serves HTTP. `close()` is graceful: readiness turns false and new
 * requests are refused, requests in flight may finish within the grace period, streams still open
 * then end with their protocol's error event and settle, the spooled usage is delivered (bounded;
 * the rest stays spooled), grants are released and the channel closed.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { BudgetLedger, RateLimiter } from "@tollgate/policy";
import type { Logger } from "pino";
import { createBudgetUsageSource } from "./budget-usage.client.js";
import { buildApp } from "./app.js";
import type { DataPlaneConfig } from "./config.js";
import { createControlPlaneClient } from "@tollgate/proto";
import { createControlPlaneLink, type ControlPlaneClientFactory } from "./control-plane-link.js";
import { RateAllocator } from "./rate-allocator.js";
import { GrantManager } from "./grant-manager.js";
import { createDataPlaneLogger } from "./logger.js";
import { PolicyStore } from "./policy-store.js";
import { PolicySubscriber } from "./policy-subscriber.client.js";
import { ShutdownGate } from "./shutdown-gate.js";
import { SnapshotCache } from "./snapshot-cache.js";
import { createUpstreamClient, type UpstreamSend } from "./upstream.client.js";
import { UsageReporter } from "./usage-reporter.client.js";
import { openUsageSpool } from "./usage-spool.js";

/** Replaceable parts of a node (tests). */
export interface DataPlaneOverrides {
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Makes the control-plane client of one address. */
  readonly clientFactory?: ControlPlaneClientFactory;
  readonly upstream?: UpstreamSend;
}

/** A started node. */
export interface RunningDataPlane {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly nodeId: string;
  readonly bootId: string;
  /** Resolves once a policy snapshot is held (from the cache or the control plane). */
  readonly ready: Promise<void>;
  /** Graceful shutdown (idempotent). */
  close(): Promise<void>;
}

/** Paths of one node's files under the data directory. */
export function nodeDataPaths(dataDir: string, nodeId: string): { snapshot: string; spool: string } {
  const dir = join(dataDir, `node-${nodeId}`);
  return { snapshot: join(dir, "snapshot.bin"), spool: join(dir, "spool") };
}

/** While closing, how often connections that became idle are closed. */
const IDLE_SWEEP_MS = 50;
/** How long streams ended at the grace deadline get to write their error event before connections are closed. */
const STREAM_END_MS = 2_000;
/** Bound of the wait for requests' settlements after the HTTP server closed (a cut stream may load the tokenizer first). */
const SETTLE_MS = 10_000;

async function withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([work.then(() => true as const), timeout]);
  clearTimeout(timer);
  return done;
}

/** Starts a node from its configuration; resolves once it listens (see `ready` for the snapshot). */
export async function startDataPlane(config: DataPlaneConfig, overrides: DataPlaneOverrides = {}): Promise<RunningDataPlane> {
  const logger = overrides.logger ?? createDataPlaneLogger(config.logLevel, config.nodeId);
  const now = overrides.now ?? Date.now;
  const random = overrides.random ?? Math.random;
  const bootId = `boot_${randomBytes(8).toString("hex")}`;
  const paths = nodeDataPaths(config.dataDir, config.nodeId);

  const store = new PolicyStore();
  const cache = new SnapshotCache(paths.snapshot, config.nodeToken);
  try {
    const cached = await cache.load();
    if (cached) {
      store.applyUpdate(cached);
      logger.info({ version: store.heldVersion().toString() }, "serving from the cached policy snapshot");
    }
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message } }, "cached policy snapshot ignored");
  }
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  if (store.current()) markReady();
  store.onApplied(() => {
    markReady();
    cache.save(store.toFullUpdate()).catch((err: Error) => logger.error({ err: { message: err.message } }, "could not write the snapshot cache"));
  });

  const link = createControlPlaneLink(config.controlPlaneAddresses, config.nodeToken, overrides.clientFactory ?? ((a) => createControlPlaneClient(a, config.nodeToken, config.grpcTls)));
  const spool = await openUsageSpool({ dir: paths.spool, maxBytes: config.spoolMaxBytes, now });
  const ledger = new BudgetLedger();
  const limiter = new RateLimiter();
  const common = { nodeId: config.nodeId, bootId, link, logger };
  const grants = new GrantManager({ ...common, ledger, store, now, timeoutMs: config.grantTimeoutMs, logger: logger.child({ component: "grants" }) });
  const rates = new RateAllocator({ ...common, limiter, store, now, timeoutMs: config.rateUnitsTimeoutMs, logger: logger.child({ component: "rate-limits" }) });
  const reporter = new UsageReporter({ ...common, spool, random, logger: logger.child({ component: "usage-reporter" }) });
  const subscriber = new PolicySubscriber({ ...common, store, random, logger: logger.child({ component: "policy" }) });
  const upstreamClient = overrides.upstream ? null : createUpstreamClient(config.upstream, { allowLinkLocal: config.allowLinkLocalOutbound });
  const upstream = overrides.upstream ?? (upstreamClient as NonNullable<typeof upstreamClient>).send;

  const budgetUsage = createBudgetUsageSource(link, config.grantTimeoutMs);
  const shutdown = new ShutdownGate();
  const app = buildApp({ shutdown, nodeId: config.nodeId, bootId, store, ledger, limiter, grants, rates, usage: spool, upstream, logger, now, http: config.http, budgetUsage });
  await app.listen({ port: config.port, host: config.host });
  subscriber.start();
  grants.start();
  reporter.start();
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Readiness turns false first (optionally while still serving), then new requests are
      // refused and the listener closes; requests in flight go on.
      shutdown.announce();
      if (config.shutdownReadinessDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownReadinessDelayMs));
      shutdown.beginDrain();
      const closed = app.close();
      // A connection whose last request just finished is closed at once, not after its keep-alive timeout.
      const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
      if (!(await withDeadline(closed, config.shutdownGraceMs))) {
        const ended = shutdown.endStreams();
        logger.warn({ streams: ended }, "grace period over: open streams end with an error event; other requests are cut");
        if (!(await withDeadline(closed, STREAM_END_MS))) app.server.closeAllConnections();
      }
      clearInterval(sweep);
      // Every request's usage is spooled before the spool is flushed.
      if (!(await shutdown.settled(SETTLE_MS))) logger.warn("some requests had not settled at shutdown");
      await reporter.stop();
      if (!(await reporter.drain(config.shutdownFlushMs))) logger.warn("usage flush did not finish; the spool keeps the rest for the next start");
      await grants.close();
      await subscriber.stop();
      await spool.close();
      if (spool.lostRecords > 0) logger.error({ records: spool.lostRecords }, "usage records could not be written to the spool before the node stopped: their spend is lost");
      link.close();
      await upstreamClient?.close();
      logger.info("data-plane node stopped");
    })();
    return closing;
  };
  return { url: `http://${host}:${port}`, nodeId: config.nodeId, bootId, ready, close };
}
