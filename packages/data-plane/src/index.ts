/** @tollgate/data-plane: the stateless Fastify gateway node. */
export { buildApp, generateRequestId, type CountingUsageSink, type DataPlaneDeps } from "./app.js";
export { ConfigError, loadDataPlaneConfig, type DataPlaneConfig, type UpstreamTimeouts } from "./config.js";
export { nodeDataPaths, startDataPlane, type DataPlaneOverrides, type RunningDataPlane } from "./data-plane.server.js";
export { createControlPlaneLink, type ControlPlaneClientFactory, type ControlPlaneLink } from "./control-plane-link.js";
export { GATEWAY_ERROR_STATUS, GatewayError, type GatewayErrorCode } from "./gateway-error.js";
export { GrantManager, type GrantManagerOptions, type GrantSource } from "./grant-manager.js";
export { extractSecret, hashSecret } from "./key-auth.js";
export { createDataPlaneLogger } from "./logger.js";
export { createDataPlaneMetrics, type DataPlaneMetrics } from "./metrics.js";
export { PolicyStore, type ApplyResult, type PolicyState } from "./policy-store.js";
export { PolicySubscriber, type PolicySubscriberOptions } from "./policy-subscriber.client.js";
export { SnapshotCache, deriveSnapshotKey } from "./snapshot-cache.js";
export { UpstreamCallError, createUpstreamClient, type UpstreamClient, type UpstreamExchange, type UpstreamSend } from "./upstream.client.js";
export { UsageReporter, type UsageReporterOptions } from "./usage-reporter.client.js";
export { SpoolUnavailableError, UsageSpool, openUsageSpool, type UsageSpoolOptions } from "./usage-spool.js";
