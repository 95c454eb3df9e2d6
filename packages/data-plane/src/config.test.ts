import { describe, expect, it } from "vitest";
import { ConfigError, loadDataPlaneConfig } from "./config.js";

describe("loadDataPlaneConfig", () => {
  it("applies defaults and freezes the result", () => {
    const c = loadDataPlaneConfig({ TOLLGATE_NODE_TOKEN: "t0ken" });
    expect(c.port).toBe(8080);
    expect(c.host).toBe("127.0.0.1");
    expect(c.controlPlaneAddresses).toEqual(["127.0.0.1:50051"]);
    expect(c.dataDir).toBe("./.tollgate");
    expect(c.nodeId).toMatch(/-\d+$/);
    expect(c.rateUnitsTimeoutMs).toBe(500);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.controlPlaneAddresses)).toBe(true);
    expect(c.http).toEqual({ bodyLimitBytes: 4 * 1024 * 1024, jsonMaxDepth: 64, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxHeaderBytes: 16 * 1024, bodyDrainBytes: 64 * 1024 * 1024 });
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it("reads a comma-separated list of control planes (schemes stripped)", () => {
    const c = loadDataPlaneConfig({ TOLLGATE_NODE_TOKEN: "x", CONTROL_PLANE_URL: "cp-a:50051, grpc://cp-b:50052", PORT: "0", NODE_ID: "node-a" });
    expect(c.controlPlaneAddresses).toEqual(["cp-a:50051", "cp-b:50052"]);
    expect(c.port).toBe(0);
    expect(c.nodeId).toBe("node-a");
    expect(loadDataPlaneConfig({ TOLLGATE_NODE_TOKEN: "x", RATE_LIMIT_TIMEOUT_MS: "150" }).rateUnitsTimeoutMs).toBe(150);
  });

  it.each([
    [{}, "TOLLGATE_NODE_TOKEN"],
    [{ TOLLGATE_NODE_TOKEN: "x", PORT: "eighty" }, "PORT"],
    [{ TOLLGATE_NODE_TOKEN: "x", PORT: "70000" }, "PORT"],
    [{ TOLLGATE_NODE_TOKEN: "x", CONTROL_PLANE_URL: "no-port" }, "CONTROL_PLANE_URL"],
    [{ TOLLGATE_NODE_TOKEN: "x", NODE_ID: "bad id/" }, "NODE_ID"],
    [{ TOLLGATE_NODE_TOKEN: "x", USAGE_SPOOL_MAX_BYTES: "-1" }, "USAGE_SPOOL_MAX_BYTES"],
    [{ TOLLGATE_NODE_TOKEN: "x", RATE_LIMIT_TIMEOUT_MS: "0" }, "RATE_LIMIT_TIMEOUT_MS"],
    [{ TOLLGATE_NODE_TOKEN: "x", RATE_LIMIT_TIMEOUT_MS: "1s" }, "RATE_LIMIT_TIMEOUT_MS"],
    [{ TOLLGATE_NODE_TOKEN: "x", DATA_PLANE_JSON_MAX_DEPTH: "2" }, "DATA_PLANE_JSON_MAX_DEPTH"],
    [{ TOLLGATE_NODE_TOKEN: "x", DATA_PLANE_REQUEST_TIMEOUT_MS: "5000", DATA_PLANE_HEADERS_TIMEOUT_MS: "9000" }, "DATA_PLANE_HEADERS_TIMEOUT_MS"],
    [{ TOLLGATE_NODE_TOKEN: "x", DATA_PLANE_MAX_HEADER_BYTES: "10" }, "DATA_PLANE_MAX_HEADER_BYTES"],
    [{ TOLLGATE_NODE_TOKEN: "x", DATA_PLANE_BODY_DRAIN_BYTES: "lots" }, "DATA_PLANE_BODY_DRAIN_BYTES"],
    [{ TOLLGATE_NODE_TOKEN: "x", SHUTDOWN_USAGE_FLUSH_MS: "-5" }, "SHUTDOWN_USAGE_FLUSH_MS"],
  ])("refuses %o with one line naming %s", (env, variable) => {
    let error: unknown;
    try {
      loadDataPlaneConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(variable);
    expect((error as Error).message).not.toContain("\n");
  });
});
