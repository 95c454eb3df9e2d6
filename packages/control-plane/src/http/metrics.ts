/** Prometheus metrics of the control plane (one registry per process, no global default registry). */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { DEAD_LETTER_REASONS } from "../services/ledger.service.js";

/** The control plane's metrics. */
export interface ControlPlaneMetrics {
  readonly registry: Registry;
  readonly graphqlRequests: Counter<"outcome">;
  readonly policyStreams: Gauge;
  readonly policyRevision: Gauge;
  readonly usageRecords: Counter<"result">;
  /** Failed admin-API bearer tokens; `locked_out` when the failure locked its address out. */
  readonly adminAuthFailures: Counter<"outcome">;
  /** Usage records moved to the dead-letter table, by reason (`DEAD_LETTER_REASONS`, each listed from 0). */
  readonly usageDeadLetters: Counter<"reason">;
}

/** Creates the registry and metrics. */
export function createControlPlaneMetrics(): ControlPlaneMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const usageDeadLetters = new Counter({
    name: "tollgate_usage_dead_letters_total",
    help: "Usage records the control plane could not store, set aside in usage_dead_letters, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  for (const reason of DEAD_LETTER_REASONS) usageDeadLetters.inc({ reason }, 0);
  return {
    registry,
    usageDeadLetters,
    graphqlRequests: new Counter({ name: "tollgate_graphql_requests_total", help: "GraphQL operations by outcome", labelNames: ["outcome"], registers: [registry] }),
    policyStreams: new Gauge({ name: "tollgate_policy_streams", help: "Open policy subscription streams", registers: [registry] }),
    policyRevision: new Gauge({ name: "tollgate_policy_revision", help: "Latest policy revision built into a snapshot", registers: [registry] }),
    usageRecords: new Counter({ name: "tollgate_usage_records_total", help: "Usage records received, by result", labelNames: ["result"], registers: [registry] }),
    adminAuthFailures: new Counter({
      name: "tollgate_admin_auth_failures_total",
      help: "Failed admin-API bearer tokens, by outcome (refused, locked_out)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
