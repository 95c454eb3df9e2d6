/**
 * The node's HTTP edge below the routes: Node's parser refusals (431 headers too large, 400
 * malformed request line or headers) and read timeouts (408: headers, then the whole body) are
 * answered in the path's protocol shape (OpenAI, Anthropic or Google error JSON) with a message
 * that says what was wrong, instead of Fastify's generic body. A body refused as too large (413)
 * is answered at once and the rest of the upload read and discarded, up to a bound, so that the
 * client reads the 413 instead of a connection reset.
 */
import { STATUS_CODES, type IncomingMessage, type ServerOptions, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import type { HttpLimits } from "./config.js";
import { protocolErrorBody, protocolOfPath } from "./protocol-error.js";

/** How often Node looks for connections past their headers/request timeout. */
const TIMEOUT_CHECK_MS = 500;
/** How long a refused connection may keep sending (read and discarded) before it is destroyed. */
const LINGER_MS = 2_000;

interface InFlight {
  readonly url: string;
  readonly res: ServerResponse;
}

/** A connection-level refusal: status, contract code, message. */
interface EdgeRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** Parser error codes (llhttp) and what they say about the request. */
const PARSER_REASONS: Readonly<Record<string, string>> = {
  HPE_INVALID_METHOD: "the request line has an invalid method",
  HPE_INVALID_URL: "the request line has an invalid target",
  HPE_INVALID_VERSION: "the request line has an invalid HTTP version",
  HPE_INVALID_CONSTANT: "the request line is malformed",
  HPE_INVALID_HEADER_TOKEN: "a header name or value holds a character that is not allowed",
  HPE_LF_EXPECTED: "a line does not end with CRLF",
  HPE_CR_EXPECTED: "a line does not end with CRLF",
  HPE_INVALID_CONTENT_LENGTH: "the Content-Length header is not a valid length",
  HPE_UNEXPECTED_CONTENT_LENGTH: "the request has both Content-Length and Transfer-Encoding",
  HPE_INVALID_TRANSFER_ENCODING: "the Transfer-Encoding header is not valid",
  HPE_INVALID_CHUNK_SIZE: "a chunk of the chunked body has an invalid size",
  HPE_UNEXPECTED_SPACE: "the request holds a space where none is allowed",
};

/** The request target of the raw bytes a parser refused (`POST /v1/messages HTTP/1.1` -> `/v1/messages`). */
export function requestTargetOf(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return "/";
  const line = rawPacket.toString("latin1", 0, Math.min(rawPacket.length, 4096)).split("\r\n", 1)[0] ?? "";
  const target = line.split(" ")[1] ?? "";
  return target.startsWith("/") ? target : "/";
}

/** What to answer for a client error Node reports on a connection (`clientError`). */
export function describeClientError(code: string | undefined, limits: HttpLimits, bodyStarted: boolean): EdgeRefusal {
  if (code === "HPE_HEADER_OVERFLOW") {
    return { status: 431, code: "request_too_large", message: `the request headers are larger than ${limits.maxHeaderBytes} bytes` };
  }
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
    const message = bodyStarted ? `the request body was not received within ${limits.requestTimeoutMs} ms` : `the request headers were not received within ${limits.headersTimeoutMs} ms`;
    return { status: 408, code: "request_timeout", message };
  }
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return { status: 413, code: "request_too_large", message: "the chunk extensions are too large" };
  const reason = (code !== undefined ? PARSER_REASONS[code] : undefined) ?? "the request is not valid HTTP/1.1";
  return { status: 400, code: "invalid_request", message: `malformed HTTP request: ${reason}` };
}

/** Writes a whole HTTP response on a raw socket, then closes it gently (reading and discarding what still arrives, briefly). */
function answerAndClose(socket: Socket, refusal: EdgeRefusal, path: string): void {
  const body = JSON.stringify(protocolErrorBody(protocolOfPath(path), refusal.code, refusal.message, refusal.status));
  socket.write(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? "Error"}\r\ncontent-type: application/json\r\n` + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.end();
  socket.on("data", () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** The server settings and edge handlers of a node's HTTP server (see the module comment). */
export interface HttpGuard {
  /** Options for `Fastify({...})`: body limit, timeouts, header size, the client-error handler. */
  readonly fastifyOptions: {
    readonly bodyLimit: number;
    readonly requestTimeout: number;
    readonly http: ServerOptions;
    readonly clientErrorHandler: (error: Error & { code?: string; rawPacket?: unknown }, socket: Socket) => void;
  };
  /** Installs the hooks that remember which request each connection is receiving. */
  register(app: FastifyInstance): void;
  /** After a 413 is decided: reads and discards the rest of the body (up to the drain bound) so the client reads the answer. */
  drainRejectedBody(request: IncomingMessage): void;
}

/** Creates the HTTP guard of one app for `limits`. */
export function createHttpGuard(limits: HttpLimits): HttpGuard {
  const inFlight = new WeakMap<Socket, InFlight>();
  const clientErrorHandler = (error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void => {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    const current = inFlight.get(socket);
    // A response already (being) sent on this connection: nothing more can be said on it.
    if (current?.res.headersSent || !socket.writable) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, describeClientError(error.code, limits, current !== undefined), current?.url ?? requestTargetOf(error.rawPacket));
  };
  return {
    fastifyOptions: {
      bodyLimit: limits.bodyLimitBytes,
      requestTimeout: limits.requestTimeoutMs,
      http: { headersTimeout: limits.headersTimeoutMs, maxHeaderSize: limits.maxHeaderBytes, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
      clientErrorHandler,
    },
    register(app) {
      // Callback-style hooks: no promise per request on the hot path.
      app.addHook("onRequest", (request, reply, done) => {
        inFlight.set(request.raw.socket, { url: request.url, res: reply.raw });
        done();
      });
      app.addHook("onResponse", (request, _reply, done) => {
        // A body still arriving (a drained 413) keeps its entry: a timeout then only closes the connection.
        if (request.raw.complete) inFlight.delete(request.raw.socket);
        done();
      });
    },
    drainRejectedBody(request) {
      if (request.complete) return;
      let seen = 0;
      request.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > limits.bodyDrainBytes) request.socket.destroy();
      });
      request.on("error", () => undefined);
      request.resume();
    },
  };
}
