/**
 * TLS material of the policy channel: PEM files read and checked once at start (so a bad file
 * stops the process with one line naming the setting), and the shapes each side is configured with.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";

/** TLS of the control plane's gRPC server. */
export interface ServerTlsSettings {
  /** PEM certificate chain the server presents. */
  readonly cert: Buffer;
  /** PEM private key of `cert`. */
  readonly key: Buffer;
  /** PEM CA bundle client certificates must chain to; non-null = mutual TLS (a node without such a certificate is refused). */
  readonly clientCa: Buffer | null;
}

/** TLS of a node's channel to the control plane. */
export interface ClientTlsSettings {
  /** PEM CA bundle that verifies the control plane's certificate; null = the system's roots. */
  readonly ca: Buffer | null;
  /** PEM client certificate chain and key for mutual TLS; both null without one. */
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  /** Name the server certificate must carry instead of the dialled host; null = the host of the address. */
  readonly serverName: string | null;
}

/** A TLS file that cannot be used; `message` is one line without the setting's name. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
}

function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new TlsFileError(`cannot read "${path}" (${code})`);
  }
}

/** Reads a PEM certificate (or chain / CA bundle) from `path`; throws `TlsFileError` when it is missing or not a certificate. */
export function readCertificateFile(path: string): Buffer {
  const pem = readPem(path);
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new TlsFileError(`"${path}" holds no PEM certificate`);
  try {
    new X509Certificate(pem);
  } catch {
    throw new TlsFileError(`"${path}" is not a valid PEM certificate`);
  }
  return pem;
}

/** Reads a PEM private key from `path`; throws `TlsFileError` when it is missing, not a key, or encrypted. */
export function readPrivateKeyFile(path: string): Buffer {
  const pem = readPem(path);
  try {
    createPrivateKey(pem);
  } catch {
    throw new TlsFileError(`"${path}" is not an unencrypted PEM private key`);
  }
  return pem;
}

/** Throws `TlsFileError` unless `key` is the private key of the first certificate in `cert`. */
export function assertKeyMatchesCertificate(cert: Buffer, key: Buffer): void {
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new TlsFileError("the private key does not belong to the certificate");
}
