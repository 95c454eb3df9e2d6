/** Operational endpoints: `/healthz` (alive), `/readyz` (a snapshot is held and not shutting down), `/metrics` (Prometheus). */
import type { FastifyInstance } from "fastify";
import type { DataPlaneMetrics } from "./metrics.js";
import type { PolicyStore } from "./policy-store.js";
import type { ShutdownGate } from "./shutdown-gate.js";

/** Registers the health, readiness and metrics endpoints. */
export function registerOpsRoutes(app: FastifyInstance, store: PolicyStore, metrics: DataPlaneMetrics, shutdown: ShutdownGate): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    if (shutdown.stopping) return reply.code(503).send({ status: "not_ready", reason: "shutting down" });
    const state = store.current();
    if (!state) return reply.code(503).send({ status: "not_ready", reason: "no policy snapshot held yet" });
    return { status: "ready", policyVersion: state.version.toString(), controlPlaneConnected: store.connected() };
  });
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
