/**
 * Test certificates made at test time with the machine's `openssl` (no private key is committed):
 * a CA, a server certificate for 127.0.0.1/localhost, a client certificate signed by the CA, and a
 * second CA with its own client certificate (a node from another deployment). The same commands
 * are the ones docs/security/network.md shows to operators.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

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

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`]);
}

function makeLeaf(dir: string, ca: string, name: string, usage: "serverAuth" | "clientAuth", san: string): void {
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${usage}\nsubjectAltName=${san}\n`);
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", ext]);
}

/** Creates a fresh PKI in a temp directory. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "tollgate-pki-"));
  makeCa(dir, "ca");
  makeLeaf(dir, "ca", "server", "serverAuth", "IP:127.0.0.1,DNS:localhost,DNS:control-plane");
  makeLeaf(dir, "ca", "node", "clientAuth", "DNS:node-1");
  makeCa(dir, "other-ca");
  makeLeaf(dir, "other-ca", "intruder", "clientAuth", "DNS:node-1");
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("node.crt"),
    clientKey: p("node.key"),
    otherCaCert: p("other-ca.crt"),
    otherClientCert: p("intruder.crt"),
    otherClientKey: p("intruder.key"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
