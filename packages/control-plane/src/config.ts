/**
 * The control plane's configuration: the only module that reads the environment.
 */
import { resolve } from "node:path";

/** A bad or missing setting; the message is one line naming the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Validated, frozen settings of one control-plane process. */
export interface ControlPlaneConfig {
  /** PostgreSQL connection string; null = embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | null;
  /** Absolute path of the data directory (embedded database, generated master key). */
  readonly dataDir: string;
  /** Platform-admin bearer token; null = generated on first start. */
  readonly adminToken: string | null;
  /** 32-byte key encrypting provider credentials; null = read/generated in `dataDir` (embedded only). */
  readonly masterKey: Buffer | null;
  /** Token data-plane nodes present on gRPC; null = the caller passes one (all-in-one) or one is generated. */
  readonly nodeToken: string | null;
  /** GraphQL/health/metrics port (0 = any free port). */
  readonly httpPort: number;
  /** gRPC port (0 = any free port). */
  readonly grpcPort: number;
  /** Interface both servers bind to. */
  readonly host: string;
  /** pino level. */
  readonly logLevel: string;
  /** How long a budget grant lasts without renewal (`TOLLGATE_GRANT_TTL_MS`, default 5 min). */
  readonly grantTtlMs: number;
  /** How long an expired grant's outstanding stays reserved before it is reclaimed (`TOLLGATE_GRANT_RECLAIM_GRACE_MS`, default 15 min). */
  readonly grantReclaimGraceMs: number;
  /** Time to receive a whole HTTP request, headers and body (`CONTROL_PLANE_REQUEST_TIMEOUT_MS`, default 30 s; 408 past it). */
  readonly httpRequestTimeoutMs: number;
  /** Time to receive a request's headers (`CONTROL_PLANE_HEADERS_TIMEOUT_MS`, default 10 s, at most the request timeout). */
  readonly httpHeadersTimeoutMs: number;
  /** Test-only fault (`TOLLGATE_FAULT_INJECTION`); null in production. */
  readonly faultInjection: FaultInjection | null;
}

/** Faults a test can ask for: `crash-after-usage-commit` kills the process after a usage batch commits, before its ACK. */
export type FaultInjection = "crash-after-usage-commit";

function readMs(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > 7 * 86_400_000) throw new ConfigError(`${name}: must be milliseconds between ${min} and ${7 * 86_400_000}, got "${raw}"`);
  return Number(raw);
}

function readFaultInjection(raw: string | undefined): FaultInjection | null {
  if (raw === undefined || raw === "") return null;
  if (raw === "crash-after-usage-commit") return raw;
  throw new ConfigError(`TOLLGATE_FAULT_INJECTION: unknown fault "${raw}" (known: crash-after-usage-commit)`);
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new ConfigError(`${name}: must be a port number 0-65535, got "${raw}"`);
  return Number(raw);
}

function readMasterKey(raw: string | undefined): Buffer | null {
  if (raw === undefined || raw === "") return null;
  const key = Buffer.from(raw, "base64");
  if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== raw.trim().replace(/=+$/, "")) {
    throw new ConfigError("TOLLGATE_MASTER_KEY: must be base64 of exactly 32 bytes (generate one with `openssl rand -base64 32`)");
  }
  return key;
}

function readDatabaseUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("DATABASE_URL: not a URL (expected postgres://user@host:port/database)");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`DATABASE_URL: scheme must be postgres:// or postgresql://, got "${url.protocol}"`);
  }
  return raw;
}

function readToken(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  if (raw.length < 16 || /\s/.test(raw)) throw new ConfigError(`${name}: must be at least 16 characters without spaces`);
  return raw;
}

/** Reads and validates the control plane's settings from `env`; throws `ConfigError` on a bad one. */
export function loadControlPlaneConfig(env: NodeJS.ProcessEnv): ControlPlaneConfig {
  const databaseUrl = readDatabaseUrl(env.DATABASE_URL);
  const masterKey = readMasterKey(env.TOLLGATE_MASTER_KEY);
  if (databaseUrl !== null && masterKey === null) {
    throw new ConfigError("TOLLGATE_MASTER_KEY: required when DATABASE_URL is set (base64 of 32 bytes)");
  }
  const logLevel = env.LOG_LEVEL && env.LOG_LEVEL !== "" ? env.LOG_LEVEL : "info";
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(", ")}`);
  const host = env.CONTROL_PLANE_HOST && env.CONTROL_PLANE_HOST !== "" ? env.CONTROL_PLANE_HOST : "127.0.0.1";
  if (/[\s/]/.test(host)) throw new ConfigError(`CONTROL_PLANE_HOST: not a host name or address: "${host}"`);
  const httpRequestTimeoutMs = readMs(env, "CONTROL_PLANE_REQUEST_TIMEOUT_MS", 30_000, 100);
  const httpHeadersTimeoutMs = readMs(env, "CONTROL_PLANE_HEADERS_TIMEOUT_MS", Math.min(10_000, httpRequestTimeoutMs), 100);
  if (httpHeadersTimeoutMs > httpRequestTimeoutMs) throw new ConfigError(`CONTROL_PLANE_HEADERS_TIMEOUT_MS: must not exceed CONTROL_PLANE_REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs}), got "${httpHeadersTimeoutMs}"`);
  return Object.freeze({
    databaseUrl,
    dataDir: resolve(env.TOLLGATE_DATA_DIR && env.TOLLGATE_DATA_DIR !== "" ? env.TOLLGATE_DATA_DIR : "./.tollgate"),
    adminToken: readToken(env, "TOLLGATE_ADMIN_TOKEN"),
    masterKey,
    nodeToken: readToken(env, "TOLLGATE_NODE_TOKEN"),
    httpPort: readPort(env, "CONTROL_PLANE_HTTP_PORT", 4000),
    grpcPort: readPort(env, "CONTROL_PLANE_GRPC_PORT", 50051),
    host,
    logLevel,
    grantTtlMs: readMs(env, "TOLLGATE_GRANT_TTL_MS", 5 * 60_000, 1_000),
    grantReclaimGraceMs: readMs(env, "TOLLGATE_GRANT_RECLAIM_GRACE_MS", 15 * 60_000, 0),
    httpRequestTimeoutMs,
    httpHeadersTimeoutMs,
    faultInjection: readFaultInjection(env.TOLLGATE_FAULT_INJECTION),
  });
}
