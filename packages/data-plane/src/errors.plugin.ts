/**
 * Fastify's edge for errors: JSON bodies of any content type (read by `json-body.ts`: UTF-8, a
 * depth limit, prototype keys refused), and every failure answered in the route's protocol's error
 * shape (OpenAI unless the route or path is Anthropic's or Google's) with the contract's status and
 * code (malformed JSON -> 400 `invalid_request`, too large -> 413 `request_too_large` with the rest
 * of the body drained, unknown route -> 404). Unexpected errors are logged and masked as 500
 * `internal_error`.
 */
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { openAIErrorBody } from "@tollgate/providers";
import { GatewayError } from "./gateway-error.js";
import { parseJsonBody } from "./json-body.js";
import { protocolOfPath, protocolOfRequest, sendProtocolError } from "./protocol-error.js";

/** Records the code of each answered request (for `tollgate_requests_total`). */
export type CodeRecorder = (request: FastifyRequest, code: string) => void;

function isFastifyError(err: unknown): err is FastifyError {
  return typeof err === "object" && err !== null && "code" in err && typeof (err as { code: unknown }).code === "string";
}

/** Converts anything thrown on a route into a `GatewayError` (masking what is not ours). */
export function toGatewayError(err: unknown): GatewayError | null {
  if (err instanceof GatewayError) return err;
  if (isFastifyError(err)) {
    const status = err.statusCode ?? 500;
    if (status === 413) return new GatewayError("request_too_large", "the request body is too large");
    if (status === 415) return new GatewayError("invalid_request", "the request body must be JSON");
    if (status >= 400 && status < 500) {
      const message = err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "the request body is empty" : "the request body is not valid JSON";
      return new GatewayError("invalid_request", message);
    }
  }
  return null;
}

/** Sends a gateway error in OpenAI's shape. */
export function sendOpenAIError(reply: FastifyReply, error: GatewayError): FastifyReply {
  return reply.code(error.status).headers(error.responseHeaders()).type("application/json").send(openAIErrorBody(error.code, error.message));
}

/** How request bodies are read: the JSON depth limit, and the drain of a body refused as too large. */
export interface BodyHandling {
  readonly jsonMaxDepth: number;
  readonly drainRejectedBody: (request: IncomingMessage) => void;
}

/** Installs the JSON parser for every content type, the error handler and the 404 handler. */
export function registerOpenAIErrors(app: FastifyInstance, recordCode: CodeRecorder, body: BodyHandling): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, raw, done) => {
    try {
      done(null, parseJsonBody(raw as Buffer, body.jsonMaxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.setErrorHandler((err, request, reply) => {
    const mapped = toGatewayError(err);
    if (mapped === null) request.log.error({ err }, "unhandled error");
    let error = mapped ?? new GatewayError("internal_error", "internal error");
    if (error.code === "request_too_large" && !(err instanceof GatewayError)) {
      error = new GatewayError("request_too_large", `the request body is larger than the limit of ${app.initialConfig.bodyLimit ?? 0} bytes`);
      // Fastify asks to close the connection; closing while the client still uploads resets it
      // before it reads the 413. Keep it open and discard the rest of the body (bounded) instead.
      reply.removeHeader("connection");
      body.drainRejectedBody(request.raw);
    }
    recordCode(request, error.code);
    const protocol = protocolOfRequest(request);
    return protocol === "openai" ? sendOpenAIError(reply, error) : sendProtocolError(reply, protocol, error);
  });
  app.setNotFoundHandler((request, reply) => {
    recordCode(request, "not_found");
    const error = new GatewayError("not_found", `no route for ${request.method} ${request.url.split("?")[0] ?? ""}`);
    const protocol = protocolOfPath(request.url);
    return protocol === "openai" ? sendOpenAIError(reply, error) : sendProtocolError(reply, protocol, error);
  });
}
