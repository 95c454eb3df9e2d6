/**
 * Test certificates made at test time by scripts/make-grpc-certs.sh (the operators' procedure,
 * run with the machine's `openssl`; no private key is committed): a CA, a server certificate for
 * 127.0.0.1/localhost, a node client certificate signed by the CA, and a second CA with its own
 * client certificate (a node of another deployment).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "./processes.js";

/** Paths of the PEM files of one test PKI. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA the server does not trust, and a client certificate it signed. */
  readonly otherCaCert: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
  /** Removes the directory. */
  dispose(): void;
}

function makeCerts(dir: string, san: string, node: string): void {
  execFileSync("sh", [path.join(repoRoot, "scripts/make-grpc-certs.sh"), dir, san, node], { stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH ?? "", CERT_DAYS: "2" } });
}

/** Creates a fresh PKI in a temp directory. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "tollgate-pki-"));
  makeCerts(path.join(dir, "ours"), "IP:127.0.0.1,DNS:localhost", "node-1");
  makeCerts(path.join(dir, "theirs"), "DNS:elsewhere", "node-1");
  const ours = (f: string): string => path.join(dir, "ours", f);
  const theirs = (f: string): string => path.join(dir, "theirs", f);
  return {
    dir,
    caCert: ours("ca.crt"),
    serverCert: ours("control-plane.crt"),
    serverKey: ours("control-plane.key"),
    clientCert: ours("node-1.crt"),
    clientKey: ours("node-1.key"),
    otherCaCert: theirs("ca.crt"),
    otherClientCert: theirs("node-1.crt"),
    otherClientKey: theirs("node-1.key"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
