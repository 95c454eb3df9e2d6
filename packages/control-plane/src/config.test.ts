import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadControlPlaneConfig } from "./config.js";

describe("loadControlPlaneConfig", () => {
  it("applies the defaults and freezes the result", () => {
    const c = loadControlPlaneConfig({});
    expect(c).toMatchObject({ databaseUrl: null, adminToken: null, masterKey: null, nodeToken: null, httpPort: 4000, grpcPort: 50051, host: "127.0.0.1", logLevel: "info" });
    expect(c.dataDir.endsWith(".tollgate")).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("reads every variable", () => {
    const key = randomBytes(32);
    const c = loadControlPlaneConfig({
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/tg",
      TOLLGATE_MASTER_KEY: key.toString("base64"),
      TOLLGATE_DATA_DIR: "/tmp/x",
      TOLLGATE_ADMIN_TOKEN: "admin-token-0123456789",
      TOLLGATE_NODE_TOKEN: "node-token-0123456789",
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "6000",
      CONTROL_PLANE_HOST: "0.0.0.0",
      LOG_LEVEL: "warn",
    });
    expect(c).toMatchObject({
      databaseUrl: "postgres://postgres@127.0.0.1:5432/tg",
      dataDir: "/tmp/x",
      adminToken: "admin-token-0123456789",
      nodeToken: "node-token-0123456789",
      httpPort: 0,
      grpcPort: 6000,
      host: "0.0.0.0",
      logLevel: "warn",
    });
    expect(c.masterKey?.equals(key)).toBe(true);
  });

  it("bounds the admin API by default and reads every admin-API limit", () => {
    expect(loadControlPlaneConfig({}).adminApi).toEqual({
      maxBodyBytes: 2 * 1024 * 1024,
      maxTokens: 10_000,
      maxAliases: 50,
      maxDepth: 12,
      maxDirectives: 20,
      maxCost: 100_000,
      authFailureLimit: 20,
      authFailureWindowMs: 60_000,
      authLockoutMs: 300_000,
      trustProxy: false,
    });
    const c = loadControlPlaneConfig({
      TOLLGATE_GRAPHQL_MAX_BODY_BYTES: "65536",
      TOLLGATE_GRAPHQL_MAX_TOKENS: "2000",
      TOLLGATE_GRAPHQL_MAX_ALIASES: "3",
      TOLLGATE_GRAPHQL_MAX_DEPTH: "8",
      TOLLGATE_GRAPHQL_MAX_DIRECTIVES: "4",
      TOLLGATE_GRAPHQL_MAX_COST: "900",
      TOLLGATE_AUTH_FAILURE_LIMIT: "5",
      TOLLGATE_AUTH_FAILURE_WINDOW_MS: "10000",
      TOLLGATE_AUTH_LOCKOUT_MS: "2000",
      CONTROL_PLANE_TRUST_PROXY: "10.0.0.0/8, 192.0.2.1,::1",
    });
    expect(c.adminApi).toEqual({
      maxBodyBytes: 65_536,
      maxTokens: 2_000,
      maxAliases: 3,
      maxDepth: 8,
      maxDirectives: 4,
      maxCost: 900,
      authFailureLimit: 5,
      authFailureWindowMs: 10_000,
      authLockoutMs: 2_000,
      trustProxy: ["10.0.0.0/8", "192.0.2.1", "::1"],
    });
    expect(loadControlPlaneConfig({ CONTROL_PLANE_TRUST_PROXY: "2" }).adminApi.trustProxy).toBe(2);
    expect(Object.isFrozen(c.adminApi)).toBe(true);
  });

  it.each([
    [{ CONTROL_PLANE_HTTP_PORT: "http" }, "CONTROL_PLANE_HTTP_PORT"],
    [{ CONTROL_PLANE_GRPC_PORT: "70000" }, "CONTROL_PLANE_GRPC_PORT"],
    [{ DATABASE_URL: "postgres://x/y" }, "TOLLGATE_MASTER_KEY"],
    [{ DATABASE_URL: "mysql://x/y", TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64") }, "DATABASE_URL"],
    [{ TOLLGATE_MASTER_KEY: randomBytes(16).toString("base64") }, "TOLLGATE_MASTER_KEY"],
    [{ TOLLGATE_ADMIN_TOKEN: "short" }, "TOLLGATE_ADMIN_TOKEN"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ TOLLGATE_GRAPHQL_MAX_TOKENS: "10" }, "TOLLGATE_GRAPHQL_MAX_TOKENS"],
    [{ TOLLGATE_GRAPHQL_MAX_ALIASES: "many" }, "TOLLGATE_GRAPHQL_MAX_ALIASES"],
    [{ TOLLGATE_GRAPHQL_MAX_DEPTH: "0" }, "TOLLGATE_GRAPHQL_MAX_DEPTH"],
    [{ TOLLGATE_GRAPHQL_MAX_COST: "-5" }, "TOLLGATE_GRAPHQL_MAX_COST"],
    [{ TOLLGATE_GRAPHQL_MAX_BODY_BYTES: "1024" }, "TOLLGATE_GRAPHQL_MAX_BODY_BYTES"],
    [{ TOLLGATE_AUTH_FAILURE_LIMIT: "0" }, "TOLLGATE_AUTH_FAILURE_LIMIT"],
    [{ TOLLGATE_AUTH_LOCKOUT_MS: "5" }, "TOLLGATE_AUTH_LOCKOUT_MS"],
    [{ CONTROL_PLANE_TRUST_PROXY: "true" }, "CONTROL_PLANE_TRUST_PROXY"],
    [{ CONTROL_PLANE_TRUST_PROXY: "proxy.local" }, "CONTROL_PLANE_TRUST_PROXY"],
    [{ CONTROL_PLANE_REQUEST_TIMEOUT_MS: "soon" }, "CONTROL_PLANE_REQUEST_TIMEOUT_MS"],
    [{ CONTROL_PLANE_REQUEST_TIMEOUT_MS: "1000", CONTROL_PLANE_HEADERS_TIMEOUT_MS: "5000" }, "CONTROL_PLANE_HEADERS_TIMEOUT_MS"],
  ])("rejects %j with one line naming %s", (env, variable) => {
    let error: unknown;
    try {
      loadControlPlaneConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.startsWith(`${variable}:`)).toBe(true);
    expect(message).not.toContain("\n");
  });
});
