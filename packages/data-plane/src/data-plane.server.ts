/**
 * A running data-plane node: loads its cached snapshot, subscribes to policy, keeps grants,
 * spools and reports usage, and serves HTTP. `close()` is graceful: stop accepting, let requests
 * in flight finish (bounded), flush the usage reporter once, release grants, close the channel.
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
  const app = buildApp({ nodeId: config.nodeId, bootId, store, ledger, limiter, grants, rates, usage: spool, upstream, logger, now, bodyLimitBytes: config.bodyLimitBytes, budgetUsage });
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
      if (!(await withDeadline(app.close(), config.shutdownGraceMs))) {
        logger.warn("requests still in flight after the grace period; closing their connections");
        app.server.closeAllConnections();
      }
      await reporter.stop();
      if (store.connected() && !(await withDeadline(reporter.flushOnce(), 5_000))) logger.warn("usage flush did not finish; the spool keeps the rest");
      await grants.close();
      await subscriber.stop();
      await spool.close();
      link.close();
      await upstreamClient?.close();
      logger.info("data-plane node stopped");
    })();
    return closing;
  };
  return { url: `http://${host}:${port}`, nodeId: config.nodeId, bootId, ready, close };
}
