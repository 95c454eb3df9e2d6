/**
 * The data plane's configuration: the only module that reads environment variables.
 * Values are validated once at start and frozen; a bad value throws `ConfigError` whose message is
 * one line naming the variable.
 */
import { hostname } from "node:os";
import { readCertificateFile, readPrivateKeyFile, assertKeyMatchesCertificate, TlsFileError, type ClientTlsSettings } from "@tollgate/proto";

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
  /** After the client left mid-answer, how long the upstream is still read for its usage (default 5 s; 0 = abort at once). */
  readonly usageGraceMs?: number;
}

/** Limits of the node's HTTP server (see `http-guard.plugin.ts`). */
export interface HttpLimits {
  /** Largest accepted request body (413 past it). */
  readonly bodyLimitBytes: number;
  /** Deepest nesting of objects and arrays in a JSON body (400 past it). */
  readonly jsonMaxDepth: number;
  /** Time to receive a request's headers (408 past it). */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body (408 past it: a body sent byte by byte is cut off). */
  readonly requestTimeoutMs: number;
  /** Largest size of a request's headers (431 past it). */
  readonly maxHeaderBytes: number;
  /** After a 413, how much more of the body is read and discarded so the client reads the answer. */
  readonly bodyDrainBytes: number;
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
  /** HTTP server limits (`bodyLimitBytes` repeated inside). */
  readonly http: HttpLimits;
  readonly upstream: UpstreamTimeouts;
  /** Largest size of the on-disk usage spool; past it billable requests are refused (503). */
  readonly spoolMaxBytes: number;
  /** Deadline of a synchronous AcquireGrants call on the request path. */
  readonly grantTimeoutMs: number;
  /** Deadline of a synchronous AcquireRateUnits call on the request path (short: past it the node's last share applies). */
  readonly rateUnitsTimeoutMs: number;
  /** At shutdown, how long the node keeps serving with readiness false before it stops accepting (load balancers catch up). */
  readonly shutdownReadinessDelayMs: number;
  /** Bound of a graceful close's wait for requests in flight; streams still open then end with an error event. */
  readonly shutdownGraceMs: number;
  /** Bound of a graceful close's delivery of the usage spool to the control plane (the rest stays spooled). */
  readonly shutdownFlushMs: number;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Upstream hosts may be (or resolve to) link-local / cloud-metadata addresses (`TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND`, default false). */
  readonly allowLinkLocalOutbound: boolean;
  /** TLS of the channel to the control plane; null = plaintext (the default, for loopback). */
  readonly grpcTls: ClientTlsSettings | null;
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
  const addresses = raw.split(",").map((a) =>
    a
      .trim()
      .replace(/^(grpc|http|dns):\/\//, "")
      .replace(/\/+$/, ""),
  );
  for (const a of addresses) {
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a)) {
      throw new ConfigError(`CONTROL_PLANE_URL must be a comma-separated list of host:port (got "${raw}")`);
    }
  }
  return addresses;
}

function readBool(env: Env, name: string): boolean | null {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return null;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false (got "${env[name]}")`);
}

function readTlsFile(env: Env, name: string, read: (path: string) => Buffer): Buffer | null {
  const path = env[name]?.trim();
  if (path === undefined || path === "") return null;
  try {
    return read(path);
  } catch (e) {
    if (e instanceof TlsFileError) throw new ConfigError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * TLS to the control plane: on with TOLLGATE_GRPC_TLS=true, or when a CA or client certificate is
 * set; TOLLGATE_GRPC_TLS_CA verifies the server (unset: system roots), the client certificate and
 * key (both or neither) are presented for mutual TLS.
 */
function readGrpcTls(env: Env): ClientTlsSettings | null {
  const enabled = readBool(env, "TOLLGATE_GRPC_TLS");
  const ca = readTlsFile(env, "TOLLGATE_GRPC_TLS_CA", readCertificateFile);
  const cert = readTlsFile(env, "TOLLGATE_GRPC_TLS_CLIENT_CERT", readCertificateFile);
  const key = readTlsFile(env, "TOLLGATE_GRPC_TLS_CLIENT_KEY", readPrivateKeyFile);
  const serverName = env.TOLLGATE_GRPC_TLS_SERVER_NAME?.trim() || null;
  if (serverName !== null && !/^[A-Za-z0-9.-]{1,253}$/.test(serverName)) throw new ConfigError(`TOLLGATE_GRPC_TLS_SERVER_NAME must be a host name (got "${serverName}")`);
  const anySet = ca !== null || cert !== null || key !== null || serverName !== null;
  if (enabled === false) {
    if (anySet) throw new ConfigError("TOLLGATE_GRPC_TLS is false but a TOLLGATE_GRPC_TLS_* file or name is set: remove one of them");
    return null;
  }
  if (enabled !== true && !anySet) return null;
  if ((cert === null) !== (key === null)) {
    throw new ConfigError(
      cert === null ? "TOLLGATE_GRPC_TLS_CLIENT_CERT is required with TOLLGATE_GRPC_TLS_CLIENT_KEY" : "TOLLGATE_GRPC_TLS_CLIENT_KEY is required with TOLLGATE_GRPC_TLS_CLIENT_CERT",
    );
  }
  if (cert !== null && key !== null) {
    try {
      assertKeyMatchesCertificate(cert, key);
    } catch (e) {
      if (e instanceof TlsFileError) throw new ConfigError(`TOLLGATE_GRPC_TLS_CLIENT_KEY: ${e.message} in TOLLGATE_GRPC_TLS_CLIENT_CERT`);
      throw e;
    }
  }
  return Object.freeze({ ca, cert, key, serverName });
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function readLogLevel(env: Env): DataPlaneConfig["logLevel"] {
  const raw = env.LOG_LEVEL?.trim() || "info";
  const found = LOG_LEVELS.find((l) => l === raw);
  if (!found) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got "${raw}")`);
  return found;
}

/** Reads and validates the HTTP server limits from `env` (`{}` gives the defaults); throws `ConfigError`. */
export function loadHttpLimits(env: Env): HttpLimits {
  const requestTimeoutMs = readInt(env, "DATA_PLANE_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000);
  const headersTimeoutMs = readInt(env, "DATA_PLANE_HEADERS_TIMEOUT_MS", Math.min(10_000, requestTimeoutMs), 100, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`DATA_PLANE_HEADERS_TIMEOUT_MS must not exceed DATA_PLANE_REQUEST_TIMEOUT_MS (${requestTimeoutMs}; got ${headersTimeoutMs})`);
  }
  return Object.freeze({
    bodyLimitBytes: readInt(env, "DATA_PLANE_BODY_LIMIT_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    jsonMaxDepth: readInt(env, "DATA_PLANE_JSON_MAX_DEPTH", 64, 4, 1_000),
    headersTimeoutMs,
    requestTimeoutMs,
    maxHeaderBytes: readInt(env, "DATA_PLANE_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024),
    bodyDrainBytes: readInt(env, "DATA_PLANE_BODY_DRAIN_BYTES", 64 * 1024 * 1024, 0, 1024 * 1024 * 1024),
  });
}

/** Reads and validates the data plane's settings from `env` (pass `process.env`); throws `ConfigError`. */
export function loadDataPlaneConfig(env: Env): DataPlaneConfig {
  const nodeToken = env.TOLLGATE_NODE_TOKEN?.trim() ?? "";
  if (nodeToken === "") throw new ConfigError("TOLLGATE_NODE_TOKEN is required (the shared secret of the control-plane channel)");
  const nodeId = env.NODE_ID?.trim() || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(nodeId)) {
    throw new ConfigError(`NODE_ID may hold only letters, digits, ".", "_" and "-" (got "${nodeId}")`);
  }
  const http = loadHttpLimits(env);
  const config: DataPlaneConfig = {
    port: readInt(env, "PORT", 8080, 0, 65535),
    host: env.DATA_PLANE_HOST?.trim() || "127.0.0.1",
    nodeId,
    controlPlaneAddresses: Object.freeze(readAddresses(env)),
    nodeToken,
    dataDir: env.TOLLGATE_DATA_DIR?.trim() || "./.tollgate",
    bodyLimitBytes: http.bodyLimitBytes,
    http,
    upstream: Object.freeze({
      connectMs: readInt(env, "UPSTREAM_CONNECT_TIMEOUT_MS", 10_000, 1, 3_600_000),
      firstByteMs: readInt(env, "UPSTREAM_FIRST_BYTE_TIMEOUT_MS", 120_000, 1, 3_600_000),
      idleMs: readInt(env, "UPSTREAM_IDLE_TIMEOUT_MS", 60_000, 1, 3_600_000),
      totalMs: readInt(env, "UPSTREAM_TOTAL_TIMEOUT_MS", 600_000, 1, 24 * 3_600_000),
      usageGraceMs: readInt(env, "UPSTREAM_USAGE_GRACE_MS", 5_000, 0, 60_000),
    }),
    spoolMaxBytes: readInt(env, "USAGE_SPOOL_MAX_BYTES", 512 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    grantTimeoutMs: readInt(env, "GRANT_TIMEOUT_MS", 2_000, 10, 60_000),
    rateUnitsTimeoutMs: readInt(env, "RATE_LIMIT_TIMEOUT_MS", 500, 10, 10_000),
    shutdownReadinessDelayMs: readInt(env, "SHUTDOWN_READINESS_DELAY_MS", 0, 0, 600_000),
    shutdownGraceMs: readInt(env, "SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    shutdownFlushMs: readInt(env, "SHUTDOWN_USAGE_FLUSH_MS", 5_000, 0, 600_000),
    logLevel: readLogLevel(env),
    allowLinkLocalOutbound: readBool(env, "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND") ?? false,
    grpcTls: readGrpcTls(env),
  };
  return Object.freeze(config);
}
