import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadDataPlaneConfig } from "./config.js";

const script = resolve(import.meta.dirname, "../../../scripts/make-grpc-certs.sh");
let dir = "";
const base = { TOLLGATE_NODE_TOKEN: "t0ken" };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dp-tls-"));
  execFileSync("sh", [script, dir, "IP:127.0.0.1", "node-1"], { stdio: "ignore", env: { PATH: process.env.PATH ?? "", CERT_DAYS: "2" } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string>): string {
  try {
    loadDataPlaneConfig({ ...base, ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("data-plane network settings", () => {
  it("defaults to a plaintext channel and refuses link-local upstreams", () => {
    const c = loadDataPlaneConfig(base);
    expect(c.grpcTls).toBeNull();
    expect(c.allowLinkLocalOutbound).toBe(false);
  });

  it.each([
    ["true", true],
    ["1", true],
    ["false", false],
    ["0", false],
    ["", false],
  ])("TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND=%j -> %s", (raw, value) => {
    expect(loadDataPlaneConfig({ ...base, TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: raw }).allowLinkLocalOutbound).toBe(value);
  });

  it("reads the CA and the client certificate and key for mutual TLS", () => {
    const c = loadDataPlaneConfig({
      ...base,
      TOLLGATE_GRPC_TLS_CA: join(dir, "ca.crt"),
      TOLLGATE_GRPC_TLS_CLIENT_CERT: join(dir, "node-1.crt"),
      TOLLGATE_GRPC_TLS_CLIENT_KEY: join(dir, "node-1.key"),
      TOLLGATE_GRPC_TLS_SERVER_NAME: "control-plane",
    });
    expect(c.grpcTls?.ca?.equals(readFileSync(join(dir, "ca.crt")))).toBe(true);
    expect(c.grpcTls?.cert?.equals(readFileSync(join(dir, "node-1.crt")))).toBe(true);
    expect(c.grpcTls?.key?.equals(readFileSync(join(dir, "node-1.key")))).toBe(true);
    expect(c.grpcTls?.serverName).toBe("control-plane");
    expect(Object.isFrozen(c.grpcTls)).toBe(true);
  });

  it("TOLLGATE_GRPC_TLS=true alone means TLS with the system's roots", () => {
    expect(loadDataPlaneConfig({ ...base, TOLLGATE_GRPC_TLS: "true" }).grpcTls).toEqual({ ca: null, cert: null, key: null, serverName: null });
  });

  it.each<[Record<string, string>, string]>([
    [{ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "yes" }, "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND"],
    [{ TOLLGATE_GRPC_TLS: "maybe" }, "TOLLGATE_GRPC_TLS"],
    [{ TOLLGATE_GRPC_TLS_CA: "/nonexistent/ca.crt" }, 'TOLLGATE_GRPC_TLS_CA: cannot read "/nonexistent/ca.crt" (ENOENT)'],
    [{ TOLLGATE_GRPC_TLS_CA: "KEY" }, "TOLLGATE_GRPC_TLS_CA: "],
    [{ TOLLGATE_GRPC_TLS_CLIENT_CERT: "CERT" }, "TOLLGATE_GRPC_TLS_CLIENT_KEY is required"],
    [{ TOLLGATE_GRPC_TLS_CLIENT_KEY: "KEY" }, "TOLLGATE_GRPC_TLS_CLIENT_CERT is required"],
    [{ TOLLGATE_GRPC_TLS_CLIENT_CERT: "CERT", TOLLGATE_GRPC_TLS_CLIENT_KEY: "CERT" }, "TOLLGATE_GRPC_TLS_CLIENT_KEY: "],
    [{ TOLLGATE_GRPC_TLS_CLIENT_CERT: "CERT", TOLLGATE_GRPC_TLS_CLIENT_KEY: "SERVERKEY" }, "TOLLGATE_GRPC_TLS_CLIENT_KEY: the private key does not belong"],
    [{ TOLLGATE_GRPC_TLS: "false", TOLLGATE_GRPC_TLS_CA: "CA" }, "TOLLGATE_GRPC_TLS is false"],
    [{ TOLLGATE_GRPC_TLS_SERVER_NAME: "bad name/" }, "TOLLGATE_GRPC_TLS_SERVER_NAME"],
  ])("refuses %o with one line naming the variable", (env, message) => {
    const files: Record<string, string> = { CA: "ca.crt", CERT: "node-1.crt", KEY: "node-1.key", SERVERKEY: "control-plane.key" };
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, files[v] ? join(dir, files[v]) : v]));
    const text = configError(resolved);
    expect(text).toContain(message);
    expect(text).not.toContain("\n");
  });
});
