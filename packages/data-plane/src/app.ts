/**
 * The data plane's Fastify application, built from its dependencies only (no I/O of its own), so
 * tests run it with `inject()` and a hand-made snapshot.
 */
import { randomBytes, randomFillSync } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import type { BudgetLedger, RateLimiter } from "@tollgate/policy";
import type { Logger } from "pino";
import { registerAnthropicRoutes } from "./anthropic.route.js";
import { registerChatRoute } from "./chat.route.js";
import { registerEmbeddingsRoute } from "./embeddings.route.js";
import { loadHttpLimits, type HttpLimits } from "./config.js";
import { registerOpenAIErrors } from "./errors.plugin.js";
import { registerGeminiRoutes } from "./gemini.route.js";
import type { GrantSource } from "./grant-manager.js";
import type { RateUnitSource } from "./rate-allocator.js";
import { GatewayError } from "./gateway-error.js";
import { createHttpGuard } from "./http-guard.plugin.js";
import { JwtVerifiers } from "./jwt-verifier.js";
import { createDataPlaneMetrics, type DataPlaneMetrics } from "./metrics.js";
import { registerModelsRoute } from "./models.route.js";
import { registerOpsRoutes } from "./ops.route.js";
import { registerResponsesRoute } from "./responses.route.js";
import type { PolicyStore } from "./policy-store.js";
import { protocolOfPath, sendProtocolError } from "./protocol-error.js";
import { ShutdownGate } from "./shutdown-gate.js";
import { registerSimulateRoute } from "./simulate.route.js";
import type { UsageSink } from "./request-context.js";
import type { UpstreamSend } from "./upstream.client.js";
import { createUpstreamRouting, type UpstreamRoutingOptions } from "./upstream-routing.js";
import { UsageRecordFactory } from "./usage-record.js";
import { unknownBudgetUsage, type BudgetUsageSource } from "./budget-usage.client.js";

/** A usage sink that can also say how much it holds (for metrics). */
export interface CountingUsageSink extends UsageSink {
  readonly recordCount: number;
  /** Records set aside as undeliverable since start (absent = 0). */
  readonly quarantinedRecords?: number;
  /** Records kept in memory after a failed write, not yet written (absent = 0). */
  readonly unwrittenRecords?: number;
}

/** Everything `buildApp` needs. */
export interface DataPlaneDeps {
  readonly nodeId: string;
  readonly bootId: string;
  readonly store: PolicyStore;
  readonly ledger: BudgetLedger;
  readonly limiter: RateLimiter;
  readonly grants: GrantSource;
  /** Where rate-limit units are borrowed (absent: rate limits are enforced on the node's share alone). */
  readonly rates?: RateUnitSource;
  readonly usage: CountingUsageSink;
  readonly upstream: UpstreamSend;
  readonly logger: Logger;
  /** Epoch-ms clock (default `Date.now`). */
  readonly now?: () => number;
  /** Request ids (default `req_` + 24 random hex chars). */
  readonly newRequestId?: () => string;
  /** Largest accepted body (default 4 MiB; overrides `http.bodyLimitBytes`). */
  readonly bodyLimitBytes?: number;
  /** HTTP server limits (defaults: `loadHttpLimits({})`). */
  readonly http?: Partial<HttpLimits>;
  /** Metrics (default: a fresh registry reading the store and the spool). */
  readonly metrics?: DataPlaneMetrics;
  /** Uniform random numbers in [0, 1) for weighted routing (default Math.random). */
  readonly random?: () => number;
  /** Where the Simulator learns budgets' settled use (default: never known). */
  readonly budgetUsage?: BudgetUsageSource;
  /** The node's shutdown (default: a gate that is never drained). */
  readonly shutdown?: ShutdownGate;
  /** Circuit breaker and retry budget settings (defaults: 5 failures, 10 s open; 20% of a minute's requests). */
  readonly routing?: UpstreamRoutingOptions;
}

/** Paths still answered while the node shuts down (readiness turns false there). */
const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** Makes a request id: `req_` + 24 random hex characters. */
export function generateRequestId(): string {
  return `req_${randomBytes(12).toString("hex")}`;
}

/**
 * A source of request ids like `generateRequestId`, drawing from a buffer of random bytes refilled
 * 4 KiB at a time (one system call per 341 ids instead of one each).
 */
export function createRequestIdSource(): () => string {
  const pool = Buffer.allocUnsafe(12 * 341);
  let at = pool.length;
  return () => {
    if (at + 12 > pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    at += 12;
    return `req_${pool.toString("hex", at - 12, at)}`;
  };
}

/** Builds the node's HTTP application (routes, error shapes, metrics); does not listen. */
export function buildApp(deps: DataPlaneDeps): FastifyInstance {
  // The limiter keeps the demand-based shares the control plane sends with each update (used while it is unreachable).
  deps.store.onShares((shares) => deps.limiter.setShares(shares));
  const metrics =
    deps.metrics ??
    createDataPlaneMetrics({
      policyVersion: () => deps.store.heldVersion(),
      spoolRecords: () => deps.usage.recordCount,
      spoolQuarantined: () => deps.usage.quarantinedRecords ?? 0,
      spoolUnwritten: () => deps.usage.unwrittenRecords ?? 0,
      controlPlaneConnected: () => deps.store.connected(),
    });
  const limits: HttpLimits = { ...loadHttpLimits({}), ...deps.http, ...(deps.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: deps.bodyLimitBytes }) };
  const guard = createHttpGuard(limits);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    ...guard.fastifyOptions,
    logController: new LogController({ disableRequestLogging: true }),
    // New requests during shutdown are refused by the gate's hook below, in the route's protocol.
    return503OnClosing: false,
    forceCloseConnections: "idle",
  });
  const codes = new WeakMap<FastifyRequest, string>();
  const recordCode = (request: FastifyRequest, code: string): void => {
    codes.set(request, code);
  };
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.countRequest(route, codes.get(request) ?? String(reply.statusCode));
    request.log.info({ route, status: reply.statusCode, code: codes.get(request), ms: Math.round(reply.elapsedTime) }, "request");
  });
  guard.register(app);
  const shutdown = deps.shutdown ?? new ShutdownGate();
  app.addHook("onRequest", async (request, reply) => {
    if (!shutdown.draining || OPS_PATHS.has(request.url.split("?")[0] ?? "")) return;
    recordCode(request, "overloaded");
    reply.header("connection", "close");
    return sendProtocolError(reply, protocolOfPath(request.url), new GatewayError("overloaded", "this gateway node is shutting down; retry the request", 1000));
  });
  registerOpenAIErrors(app, recordCode, { jsonMaxDepth: limits.jsonMaxDepth, drainRejectedBody: guard.drainRejectedBody });
  const pathDeps = {
    store: deps.store,
    ledger: deps.ledger,
    limiter: deps.limiter,
    grants: deps.grants,
    rates: deps.rates,
    usage: deps.usage,
    records: new UsageRecordFactory(deps.nodeId, deps.bootId),
    now: deps.now ?? Date.now,
    newRequestId: deps.newRequestId ?? createRequestIdSource(),
    metrics,
    logger: deps.logger,
    jwt: new JwtVerifiers(),
    random: deps.random ?? Math.random,
    shutdown,
  };
  const upstreamDeps = { ...pathDeps, upstream: deps.upstream, routing: createUpstreamRouting(pathDeps.now, deps.routing) };
  registerChatRoute(app, upstreamDeps, recordCode);
  registerEmbeddingsRoute(app, upstreamDeps, recordCode);
  registerResponsesRoute(app, upstreamDeps, recordCode);
  registerAnthropicRoutes(app, upstreamDeps, recordCode);
  registerGeminiRoutes(app, upstreamDeps, recordCode);
  registerModelsRoute(app, pathDeps, recordCode);
  registerSimulateRoute(app, pathDeps, recordCode, deps.budgetUsage ?? unknownBudgetUsage);
  registerOpsRoutes(app, deps.store, metrics, shutdown);
  return app;
}
