/**
 * The node's Prometheus metrics, in a registry of its own (no global registry): OpenTelemetry
 * GenAI names for tokens and durations, request counts by route and code, and gauges of policy,
 * spool and control-plane state read at scrape time. Labels are bounded: no key ids, no users.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Values the gauges read when scraped. */
export interface MetricsProbes {
  policyVersion(): bigint;
  spoolRecords(): number;
  /** Usage records quarantined since start (they can never be delivered); absent = 0. */
  spoolQuarantined?(): number;
  /** Usage records kept in memory after a failed spool write (requests are refused while any); absent = 0. */
  spoolUnwritten?(): number;
  controlPlaneConnected(): boolean;
}

/** The node's metrics and the registry they live in. */
export interface DataPlaneMetrics {
  readonly registry: Registry;
  /** Counts one answered request: `code` is "ok" or the refusal/error code. */
  countRequest(route: string, code: string): void;
  /** Records a finished upstream operation: tokens by type and its duration. */
  observeOperation(labels: OperationLabels, inputTokens: number, outputTokens: number, durationSeconds: number): void;
  /** Counts one upstream attempt (or a skip) by provider kind and result (`ok`, `status_5xx`, `timeout`, `circuit_open` ...). */
  countUpstreamAttempt?(provider: string, result: string): void;
}

/** Labels of a GenAI operation (bounded: public model names of the snapshot, provider kinds). */
export interface OperationLabels {
  readonly operation: "chat" | "embeddings";
  readonly provider: string;
  readonly model: string;
}

const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Creates the metrics of one node. */
export function createDataPlaneMetrics(probes: MetricsProbes): DataPlaneMetrics {
  const registry = new Registry();
  const tokens = new Histogram({
    name: "gen_ai_client_token_usage",
    help: "Tokens used per upstream operation (OpenTelemetry GenAI)",
    labelNames: ["gen_ai_operation_name", "gen_ai_system", "gen_ai_request_model", "gen_ai_token_type"],
    buckets: TOKEN_BUCKETS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "gen_ai_client_operation_duration",
    help: "Duration of upstream operations in seconds (OpenTelemetry GenAI)",
    labelNames: ["gen_ai_operation_name", "gen_ai_system", "gen_ai_request_model"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const requests = new Counter({
    name: "tollgate_requests_total",
    help: "Requests answered by the data plane, by route and code",
    labelNames: ["route", "code"],
    registers: [registry],
  });
  const attempts = new Counter({
    name: "tollgate_upstream_attempts_total",
    help: "Upstream attempts (and accounts skipped by an open circuit), by provider kind and result",
    labelNames: ["provider", "result"],
    registers: [registry],
  });
  new Gauge({
    name: "tollgate_policy_version",
    help: "Policy version held by this node (0 = none)",
    registers: [registry],
    collect() {
      this.set(Number(probes.policyVersion()));
    },
  });
  new Gauge({
    name: "tollgate_usage_spool_records",
    help: "Usage records spooled on disk and not yet acknowledged",
    registers: [registry],
    collect() {
      this.set(probes.spoolRecords());
    },
  });
  new Gauge({
    name: "tollgate_usage_spool_unwritten_records",
    help: "Usage records kept in memory because the spool could not write them (billable requests are refused 503 while any)",
    registers: [registry],
    collect() {
      this.set(probes.spoolUnwritten?.() ?? 0);
    },
  });
  new Counter({
    name: "tollgate_usage_quarantined_records_total",
    help: "Usage records moved to the spool's quarantine because they can never be delivered (undecodable, oversized, refused)",
    registers: [registry],
    collect() {
      // The spool keeps the count; the counter shows it (it only grows).
      this.reset();
      this.inc(probes.spoolQuarantined?.() ?? 0);
    },
  });
  new Gauge({
    name: "tollgate_control_plane_connected",
    help: "1 while the policy stream to the control plane is open",
    registers: [registry],
    collect() {
      this.set(probes.controlPlaneConnected() ? 1 : 0);
    },
  });
  return {
    registry,
    countRequest: (route, code) => requests.inc({ route, code }),
    countUpstreamAttempt: (provider, result) => attempts.inc({ provider, result }),
    observeOperation: (labels, inputTokens, outputTokens, seconds) => {
      const base = { gen_ai_operation_name: labels.operation, gen_ai_system: labels.provider, gen_ai_request_model: labels.model };
      tokens.observe({ ...base, gen_ai_token_type: "input" }, inputTokens);
      tokens.observe({ ...base, gen_ai_token_type: "output" }, outputTokens);
      duration.observe(base, seconds);
    },
  };
}
