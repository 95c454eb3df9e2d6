/**
 * The control plane's configuration: the only module that reads the environment.
 */
import { resolve } from "node:path";
import { assertKeyMatchesCertificate, readCertificateFile, readPrivateKeyFile, TlsFileError, type ServerTlsSettings } from "@tollgate/proto";

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
  /** Bounds of the admin API (GraphQL work and failed-token throttling). */
  readonly adminApi: AdminApiLimits;
  /** Provider base URLs and webhooks may target link-local / cloud-metadata addresses (`TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND`, default false). */
  readonly allowLinkLocalOutbound: boolean;
  /** TLS of the gRPC server (`TOLLGATE_GRPC_TLS_CERT`/`_KEY`, mutual with `TOLLGATE_GRPC_MTLS=true` + `TOLLGATE_GRPC_TLS_CA`); null = plaintext. */
  readonly grpcTls: ServerTlsSettings | null;
}

/**
 * What the admin API accepts from an authenticated caller before doing any work, and how failed
 * bearer tokens are throttled per client address. Anonymous callers get fixed, tighter limits
 * (`graphql/operation-limits.ts`).
 */
export interface AdminApiLimits {
  /** Largest request body of an authenticated caller (`TOLLGATE_GRAPHQL_MAX_BODY_BYTES`, default 2 MiB). */
  readonly maxBodyBytes: number;
  /** Lexical tokens per document; parsing stops past it (`TOLLGATE_GRAPHQL_MAX_TOKENS`, default 10,000). */
  readonly maxTokens: number;
  /** Aliases per operation (`TOLLGATE_GRAPHQL_MAX_ALIASES`, default 50). */
  readonly maxAliases: number;
  /** Selection depth (`TOLLGATE_GRAPHQL_MAX_DEPTH`, default 12). */
  readonly maxDepth: number;
  /** Directives per operation (`TOLLGATE_GRAPHQL_MAX_DIRECTIVES`, default 20). */
  readonly maxDirectives: number;
  /** graphql-armor cost (objects 2, scalars 1, x1.5 per level) per operation (`TOLLGATE_GRAPHQL_MAX_COST`, default 100,000: one full page of 500 keys costs 62,500). */
  readonly maxCost: number;
  /** Failed bearer tokens from one address within the window before it is refused (`TOLLGATE_AUTH_FAILURE_LIMIT`, default 20). */
  readonly authFailureLimit: number;
  /** The window those failures are counted in (`TOLLGATE_AUTH_FAILURE_WINDOW_MS`, default 60 s). */
  readonly authFailureWindowMs: number;
  /** How long an address over the limit is answered 429 (`TOLLGATE_AUTH_LOCKOUT_MS`, default 5 min). */
  readonly authLockoutMs: number;
  /**
   * Which proxies may name the client address in X-Forwarded-For (`CONTROL_PLANE_TRUST_PROXY`):
   * false (default: the socket's address), a hop count, or proxy addresses/CIDRs.
   */
  readonly trustProxy: false | number | readonly string[];
}

/** Faults a test can ask for: `crash-after-usage-commit` kills the process after a usage batch commits, before its ACK. */
export type FaultInjection = "crash-after-usage-commit";

function readMs(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > 7 * 86_400_000) throw new ConfigError(`${name}: must be milliseconds between ${min} and ${7 * 86_400_000}, got "${raw}"`);
  return Number(raw);
}

function readInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ConfigError(`${name}: must be a whole number from ${min} to ${max}, got "${raw}"`);
  return Number(raw);
}

const PROXY_ENTRY = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)(?:\/\d{1,3})?$/;

function readTrustProxy(raw: string | undefined): false | number | readonly string[] {
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 10) return Number(raw);
  const entries = raw
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0 || !entries.every((e) => PROXY_ENTRY.test(e))) {
    throw new ConfigError(`CONTROL_PLANE_TRUST_PROXY: must be false, a hop count 1-10, or comma-separated proxy addresses/CIDRs, got "${raw}"`);
  }
  return Object.freeze(entries);
}

function readAdminApiLimits(env: NodeJS.ProcessEnv): AdminApiLimits {
  return Object.freeze({
    maxBodyBytes: readInt(env, "TOLLGATE_GRAPHQL_MAX_BODY_BYTES", 2 * 1024 * 1024, 16 * 1024, 64 * 1024 * 1024),
    maxTokens: readInt(env, "TOLLGATE_GRAPHQL_MAX_TOKENS", 10_000, 500, 1_000_000),
    maxAliases: readInt(env, "TOLLGATE_GRAPHQL_MAX_ALIASES", 50, 1, 10_000),
    maxDepth: readInt(env, "TOLLGATE_GRAPHQL_MAX_DEPTH", 12, 4, 100),
    maxDirectives: readInt(env, "TOLLGATE_GRAPHQL_MAX_DIRECTIVES", 20, 1, 1_000),
    maxCost: readInt(env, "TOLLGATE_GRAPHQL_MAX_COST", 100_000, 100, 10_000_000),
    authFailureLimit: readInt(env, "TOLLGATE_AUTH_FAILURE_LIMIT", 20, 1, 1_000_000),
    authFailureWindowMs: readMs(env, "TOLLGATE_AUTH_FAILURE_WINDOW_MS", 60_000, 1_000),
    authLockoutMs: readMs(env, "TOLLGATE_AUTH_LOCKOUT_MS", 5 * 60_000, 1_000),
    trustProxy: readTrustProxy(env.CONTROL_PLANE_TRUST_PROXY),
  });
}

function readFaultInjection(raw: string | undefined): FaultInjection | null {
  if (raw === undefined || raw === "") return null;
  if (raw === "crash-after-usage-commit") return raw;
  throw new ConfigError(`TOLLGATE_FAULT_INJECTION: unknown fault "${raw}" (known: crash-after-usage-commit)`);
}

function readBool(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new ConfigError(`${name}: must be true or false, got "${env[name]}"`);
}

function readTlsFile(env: NodeJS.ProcessEnv, name: string, read: (path: string) => Buffer): Buffer | null {
  const path = env[name]?.trim();
  if (path === undefined || path === "") return null;
  try {
    return read(path);
  } catch (e) {
    if (e instanceof TlsFileError) throw new ConfigError(`${name}: ${e.message}`);
    throw e;
  }
}

function readGrpcTls(env: NodeJS.ProcessEnv): ServerTlsSettings | null {
  const cert = readTlsFile(env, "TOLLGATE_GRPC_TLS_CERT", readCertificateFile);
  const key = readTlsFile(env, "TOLLGATE_GRPC_TLS_KEY", readPrivateKeyFile);
  const mtls = readBool(env, "TOLLGATE_GRPC_MTLS");
  // The same CA setting verifies the server on a node; here it is used only for mutual TLS.
  const ca = mtls ? readTlsFile(env, "TOLLGATE_GRPC_TLS_CA", readCertificateFile) : null;
  if (cert === null && key === null) {
    if (mtls) throw new ConfigError("TOLLGATE_GRPC_MTLS: mutual TLS needs TOLLGATE_GRPC_TLS_CERT and TOLLGATE_GRPC_TLS_KEY (the server's certificate and key)");
    return null;
  }
  if (cert === null) throw new ConfigError("TOLLGATE_GRPC_TLS_CERT: required with TOLLGATE_GRPC_TLS_KEY (PEM certificate file)");
  if (key === null) throw new ConfigError("TOLLGATE_GRPC_TLS_KEY: required with TOLLGATE_GRPC_TLS_CERT (PEM private key file)");
  try {
    assertKeyMatchesCertificate(cert, key);
  } catch (e) {
    if (e instanceof TlsFileError) throw new ConfigError(`TOLLGATE_GRPC_TLS_KEY: ${e.message} in TOLLGATE_GRPC_TLS_CERT`);
    throw e;
  }
  if (mtls && ca === null) throw new ConfigError("TOLLGATE_GRPC_TLS_CA: required with TOLLGATE_GRPC_MTLS=true (the CA that signs the nodes' client certificates)");
  return Object.freeze({ cert, key, clientCa: ca });
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
  if (httpHeadersTimeoutMs > httpRequestTimeoutMs)
    throw new ConfigError(`CONTROL_PLANE_HEADERS_TIMEOUT_MS: must not exceed CONTROL_PLANE_REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs}), got "${httpHeadersTimeoutMs}"`);
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
    adminApi: readAdminApiLimits(env),
    allowLinkLocalOutbound: readBool(env, "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND"),
    grpcTls: readGrpcTls(env),
  });
}
