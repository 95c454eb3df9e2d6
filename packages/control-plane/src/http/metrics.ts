/** Prometheus metrics of the control plane (one registry per process, no global default registry). */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

/** The control plane's metrics. */
export interface ControlPlaneMetrics {
  readonly registry: Registry;
  readonly graphqlRequests: Counter<"outcome">;
  readonly policyStreams: Gauge;
  readonly policyRevision: Gauge;
  readonly usageRecords: Counter<"result">;
  /** Failed admin-API bearer tokens; `locked_out` when the failure locked its address out. */
  readonly adminAuthFailures: Counter<"outcome">;
}

/** Creates the registry and metrics. */
export function createControlPlaneMetrics(): ControlPlaneMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    graphqlRequests: new Counter({ name: "tollgate_graphql_requests_total", help: "GraphQL operations by outcome", labelNames: ["outcome"], registers: [registry] }),
    policyStreams: new Gauge({ name: "tollgate_policy_streams", help: "Open policy subscription streams", registers: [registry] }),
    policyRevision: new Gauge({ name: "tollgate_policy_revision", help: "Latest policy revision built into a snapshot", registers: [registry] }),
    usageRecords: new Counter({ name: "tollgate_usage_records_total", help: "Usage records received, by result", labelNames: ["result"], registers: [registry] }),
    adminAuthFailures: new Counter({ name: "tollgate_admin_auth_failures_total", help: "Failed admin-API bearer tokens, by outcome (refused, locked_out)", labelNames: ["outcome"], registers: [registry] }),
  };
}
