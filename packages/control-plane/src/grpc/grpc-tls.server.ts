/**
 * The TLS listener of the gRPC server. TLS is terminated here with node:tls (server certificate,
 * and with mutual TLS a client certificate that must chain to the configured CA) and each
 * authenticated connection is handed to grpc-js as an HTTP/2 connection. Owning the handshake
 * lets the control plane log every refused node (no certificate, another CA, plaintext), which
 * grpc-js's own TLS server drops silently.
 */
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { ServerTlsSettings } from "@tollgate/proto";
import type { Logger } from "pino";

/** A listening TLS front of a grpc-js server. */
export interface GrpcTlsListener {
  /** The bound port. */
  readonly port: number;
  /** Stops accepting and drops connections still handshaking (grpc-js closes the sessions it holds). */
  close(): Promise<void>;
}

/** Most refusal lines logged per 10 s; the rest are counted in the next line. */
const REFUSAL_LOG_BUDGET = 20;

/** Makes a logger of refused handshakes that writes at most `REFUSAL_LOG_BUDGET` lines per 10 s. */
function refusalLogger(logger: Logger, mutual: boolean): (err: Error & { code?: string }, socket: TLSSocket) => void {
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  return (err, socket) => {
    const now = Date.now();
    if (now - windowStart > 10_000) {
      windowStart = now;
      logged = 0;
    }
    if (logged >= REFUSAL_LOG_BUDGET) {
      suppressed += 1;
      return;
    }
    logged += 1;
    logger.warn(
      { remote: socket.remoteAddress ?? null, reason: err.code ?? "TLS_HANDSHAKE_FAILED", detail: err.message.trim(), mutualTls: mutual, suppressedBefore: suppressed },
      mutual ? "refused a gRPC connection: TLS handshake failed (a node must present a client certificate signed by TOLLGATE_GRPC_TLS_CA)" : "refused a gRPC connection: TLS handshake failed",
    );
    suppressed = 0;
  };
}

/** Listens on host:port with TLS and serves `server`'s services on every connection that completes the handshake. */
export async function listenGrpcTls(server: grpc.Server, host: string, port: number, tls: ServerTlsSettings, logger: Logger): Promise<GrpcTlsListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const mutual = tls.clientCa !== null;
  const handshaking = new Set<Socket>();
  const listener = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    ...(mutual ? { ca: tls.clientCa ?? undefined, requestCert: true, rejectUnauthorized: true } : {}),
    ALPNProtocols: ["h2"],
    minVersion: "TLSv1.2",
    handshakeTimeout: 10_000,
  });
  const logRefusal = refusalLogger(logger, mutual);
  listener.on("connection", (socket: Socket) => {
    handshaking.add(socket);
    socket.once("close", () => handshaking.delete(socket));
  });
  listener.on("secureConnection", (socket: TLSSocket) => {
    handshaking.delete(socket);
    socket.on("error", (e: Error) => logger.debug({ err: e.message }, "gRPC TLS connection error"));
    injector.injectConnection(socket);
  });
  listener.on("tlsClientError", (err: Error, socket: TLSSocket) => {
    logRefusal(err, socket);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  return {
    port: (listener.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of handshaking) s.destroy();
        listener.close(() => resolve());
      }),
  };
}
