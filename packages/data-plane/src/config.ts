/**
 * The data plane's configuration: the only module that reads environment variables.
 * Values are validated once at start and frozen; a bad value throws `ConfigError` whose message is
 * one line naming the variable.
 */
import { hostname } from "node:os";

/** A configuration mistake: `message` is one line naming the variable (no stack trace is shown). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Upstream call limits in milliseconds. */
export interface UpstreamTimeouts {
  /** TCP/TLS connect. */
  readonly connectMs: number;
  /** From sending the request to the response headers (the first byte). */
  readonly firstByteMs: number;
  /** Longest silence between two body chunks. */
  readonly idleMs: number;
  /** Whole exchange, headers to last byte. */
  readonly totalMs: number;
}

/** Everything a data-plane node needs to start. */
export interface DataPlaneConfig {
  readonly port: number;
  readonly host: string;
  readonly nodeId: string;
  /** Control-plane gRPC addresses (`host:port`), tried in order, rotating on failure. */
  readonly controlPlaneAddresses: readonly string[];
  readonly nodeToken: string;
  readonly dataDir: string;
  readonly bodyLimitBytes: number;
  readonly upstream: UpstreamTimeouts;
  /** Largest size of the on-disk usage spool; past it billable requests are refused (503). */
  readonly spoolMaxBytes: number;
  /** Deadline of a synchronous AcquireGrants call on the request path. */
  readonly grantTimeoutMs: number;
  /** Deadline of a synchronous AcquireRateUnits call on the request path (short: past it the node's last share applies). */
  readonly rateUnitsTimeoutMs: number;
  /** Bound of a graceful close's wait for requests in flight. */
  readonly shutdownGraceMs: number;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

type Env = Readonly<Record<string, string | undefined>>;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

function readAddresses(env: Env): string[] {
  const raw = env.CONTROL_PLANE_URL?.trim() || "127.0.0.1:50051";
  const addresses = raw.split(",").map((a) => a.trim().replace(/^(grpc|http|dns):\/\//, "").replace(/\/+$/, ""));
  for (const a of addresses) {
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a)) {
      throw new ConfigError(`CONTROL_PLANE_URL must be a comma-separated list of host:port (got "${raw}")`);
    }
  }
  return addresses;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function readLogLevel(env: Env): DataPlaneConfig["logLevel"] {
  const raw = env.LOG_LEVEL?.trim() || "info";
  const found = LOG_LEVELS.find((l) => l === raw);
  if (!found) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got "${raw}")`);
  return found;
}

/** Reads and validates the data plane's settings from `env` (pass `process.env`); throws `ConfigError`. */
export function loadDataPlaneConfig(env: Env): DataPlaneConfig {
  const nodeToken = env.TOLLGATE_NODE_TOKEN?.trim() ?? "";
  if (nodeToken === "") throw new ConfigError("TOLLGATE_NODE_TOKEN is required (the shared secret of the control-plane channel)");
  const nodeId = env.NODE_ID?.trim() || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(nodeId)) {
    throw new ConfigError(`NODE_ID may hold only letters, digits, ".", "_" and "-" (got "${nodeId}")`);
  }
  const config: DataPlaneConfig = {
    port: readInt(env, "PORT", 8080, 0, 65535),
    host: env.DATA_PLANE_HOST?.trim() || "127.0.0.1",
    nodeId,
    controlPlaneAddresses: Object.freeze(readAddresses(env)),
    nodeToken,
    dataDir: env.TOLLGATE_DATA_DIR?.trim() || "./.tollgate",
    bodyLimitBytes: readInt(env, "DATA_PLANE_BODY_LIMIT_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    upstream: Object.freeze({
      connectMs: readInt(env, "UPSTREAM_CONNECT_TIMEOUT_MS", 10_000, 1, 3_600_000),
      firstByteMs: readInt(env, "UPSTREAM_FIRST_BYTE_TIMEOUT_MS", 120_000, 1, 3_600_000),
      idleMs: readInt(env, "UPSTREAM_IDLE_TIMEOUT_MS", 60_000, 1, 3_600_000),
      totalMs: readInt(env, "UPSTREAM_TOTAL_TIMEOUT_MS", 600_000, 1, 24 * 3_600_000),
    }),
    spoolMaxBytes: readInt(env, "USAGE_SPOOL_MAX_BYTES", 512 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    grantTimeoutMs: readInt(env, "GRANT_TIMEOUT_MS", 2_000, 10, 60_000),
    rateUnitsTimeoutMs: readInt(env, "RATE_LIMIT_TIMEOUT_MS", 500, 10, 10_000),
    shutdownGraceMs: readInt(env, "SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    logLevel: readLogLevel(env),
  };
  return Object.freeze(config);
}
