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
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/tg", TOLLGATE_MASTER_KEY: key.toString("base64"), TOLLGATE_DATA_DIR: "/tmp/x",
      TOLLGATE_ADMIN_TOKEN: "admin-token-0123456789", TOLLGATE_NODE_TOKEN: "node-token-0123456789", CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "6000", CONTROL_PLANE_HOST: "0.0.0.0", LOG_LEVEL: "warn",
    });
    expect(c).toMatchObject({ databaseUrl: "postgres://postgres@127.0.0.1:5432/tg", dataDir: "/tmp/x", adminToken: "admin-token-0123456789", nodeToken: "node-token-0123456789", httpPort: 0, grpcPort: 6000, host: "0.0.0.0", logLevel: "warn" });
    expect(c.masterKey?.equals(key)).toBe(true);
  });

  it.each([
    [{ CONTROL_PLANE_HTTP_PORT: "http" }, "CONTROL_PLANE_HTTP_PORT"],
    [{ CONTROL_PLANE_GRPC_PORT: "70000" }, "CONTROL_PLANE_GRPC_PORT"],
    [{ DATABASE_URL: "postgres://x/y" }, "TOLLGATE_MASTER_KEY"],
    [{ DATABASE_URL: "mysql://x/y", TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64") }, "DATABASE_URL"],
    [{ TOLLGATE_MASTER_KEY: randomBytes(16).toString("base64") }, "TOLLGATE_MASTER_KEY"],
    [{ TOLLGATE_ADMIN_TOKEN: "short" }, "TOLLGATE_ADMIN_TOKEN"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
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
