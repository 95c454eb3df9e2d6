import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadControlPlaneConfig } from "./config.js";

const script = resolve(import.meta.dirname, "../../../scripts/make-grpc-certs.sh");
let dir = "";
const file = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cp-tls-"));
  execFileSync("sh", [script, dir, "IP:127.0.0.1", "node-1"], { stdio: "ignore", env: { PATH: process.env.PATH ?? "", CERT_DAYS: "2" } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string>): string {
  try {
    loadControlPlaneConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("control-plane network settings", () => {
  it("defaults to plaintext gRPC and refuses link-local outbound URLs", () => {
    const c = loadControlPlaneConfig({});
    expect(c.grpcTls).toBeNull();
    expect(c.allowLinkLocalOutbound).toBe(false);
    expect(loadControlPlaneConfig({ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "true" }).allowLinkLocalOutbound).toBe(true);
  });

  it("reads TLS, and mutual TLS with the client CA", () => {
    const tls = loadControlPlaneConfig({ TOLLGATE_GRPC_TLS_CERT: file("control-plane.crt"), TOLLGATE_GRPC_TLS_KEY: file("control-plane.key") }).grpcTls;
    expect(tls?.cert.equals(readFileSync(file("control-plane.crt")))).toBe(true);
    expect(tls?.clientCa).toBeNull();
    const mutual = loadControlPlaneConfig({
      TOLLGATE_GRPC_TLS_CERT: file("control-plane.crt"),
      TOLLGATE_GRPC_TLS_KEY: file("control-plane.key"),
      TOLLGATE_GRPC_MTLS: "true",
      TOLLGATE_GRPC_TLS_CA: file("ca.crt"),
    }).grpcTls;
    expect(mutual?.clientCa?.equals(readFileSync(file("ca.crt")))).toBe(true);
    expect(Object.isFrozen(mutual)).toBe(true);
  });

  it.each<[Record<string, string>, string]>([
    [{ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "sure" }, "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND"],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.crt" }, "TOLLGATE_GRPC_TLS_KEY: required"],
    [{ TOLLGATE_GRPC_TLS_KEY: "control-plane.key" }, "TOLLGATE_GRPC_TLS_CERT: required"],
    [{ TOLLGATE_GRPC_TLS_CERT: "missing.crt", TOLLGATE_GRPC_TLS_KEY: "control-plane.key" }, "TOLLGATE_GRPC_TLS_CERT: cannot read"],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.key", TOLLGATE_GRPC_TLS_KEY: "control-plane.key" }, "TOLLGATE_GRPC_TLS_CERT: "],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.crt", TOLLGATE_GRPC_TLS_KEY: "control-plane.crt" }, "TOLLGATE_GRPC_TLS_KEY: "],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.crt", TOLLGATE_GRPC_TLS_KEY: "node-1.key" }, "TOLLGATE_GRPC_TLS_KEY: the private key does not belong"],
    [{ TOLLGATE_GRPC_MTLS: "true" }, "TOLLGATE_GRPC_MTLS"],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.crt", TOLLGATE_GRPC_TLS_KEY: "control-plane.key", TOLLGATE_GRPC_MTLS: "true" }, "TOLLGATE_GRPC_TLS_CA: required"],
    [{ TOLLGATE_GRPC_TLS_CERT: "control-plane.crt", TOLLGATE_GRPC_TLS_KEY: "control-plane.key", TOLLGATE_GRPC_MTLS: "true", TOLLGATE_GRPC_TLS_CA: "node-1.key" }, "TOLLGATE_GRPC_TLS_CA: "],
    [{ TOLLGATE_GRPC_MTLS: "on" }, "TOLLGATE_GRPC_MTLS"],
  ])("refuses %o with one line naming the variable", (env, message) => {
    const paths = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k.startsWith("TOLLGATE_GRPC_TLS_") ? file(v) : v]));
    const text = configError(paths);
    expect(text).toContain(message);
    expect(text).not.toContain("\n");
  });
});
