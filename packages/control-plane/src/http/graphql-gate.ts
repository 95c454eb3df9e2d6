/**
 * The admin API's front door, run on the HTTP request before its body is read or any GraphQL is
 * parsed: throttled addresses get 429, a bearer token is resolved once (a wrong one is 401 at
 * once and counts against the address; a malformed header is 401 without counting, as it can
 * never succeed), and a request without a token may send only a small body.
 * Every refusal is a GraphQL-shaped body with `extensions.code`.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { FastifyReply, FastifyRequest, preParsingAsyncHookHandler, onRequestAsyncHookHandler } from "fastify";
import { toGraphQLCode, toHttpStatus } from "../error-map.js";
import { payloadTooLarge, rateLimited, unauthenticated, type AppError } from "../errors.js";
import type { Actor } from "../services/actor.js";
import type { AuthFailureThrottle } from "./auth-throttle.js";

/** Dependencies of the gate. */
export interface GraphQLGateDeps {
  /** Resolves a bearer token to its actor; null when unknown. */
  readonly authenticate: (token: string) => Promise<Actor | null>;
  readonly throttle: AuthFailureThrottle;
  /** Largest body of a request without a token. */
  readonly anonymousMaxBodyBytes: number;
  /** Called once per failed token (metrics). */
  readonly onAuthFailure?: (lockedOut: boolean) => void;
}

/** Route hooks of POST /graphql and the actor each request was resolved to. */
export interface GraphQLGate {
  readonly onRequest: onRequestAsyncHookHandler;
  readonly preParsing: preParsingAsyncHookHandler;
  /** The caller of a request that passed `onRequest`; null for an anonymous one. */
  actorOf(req: FastifyRequest): Actor | null;
}

/** Sends `{ errors: [{ message, extensions: { code } }] }` with `status`. */
export function sendGraphQLError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/json; charset=utf-8")
    .send({ errors: [{ message, extensions: { code } }] });
}

/** Answers an expected refusal in GraphQL's shape, with its HTTP status and code from `error-map.ts`. */
export function sendRefusal(reply: FastifyReply, error: AppError): FastifyReply {
  return sendGraphQLError(reply, toHttpStatus(error.code), toGraphQLCode(error.code), error.publicMessage);
}

/** Reads `Authorization: Bearer <token>`: undefined without the header, null when it is malformed. */
export function bearerTokenOf(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m?.[1] ?? null;
}

function tooLargeMessage(limit: number): string {
  return `request body larger than ${limit} bytes (the limit without a bearer token)`;
}

function tooLarge(limit: number): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(tooLargeMessage(limit)), { statusCode: 413, code: "FST_ERR_CTP_BODY_TOO_LARGE" });
}

/** Counts bytes and fails the stream with a 413 past `limit`. */
function limitBody(payload: NodeJS.ReadableStream, limit: number): Transform {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) return done(tooLarge(limit));
      done(null, chunk);
    },
  });
  payload.on("error", (e: Error) => counter.destroy(e));
  return payload.pipe(counter);
}

/** Creates the gate for POST /graphql. */
export function createGraphQLGate(deps: GraphQLGateDeps): GraphQLGate {
  const actors = new WeakMap<FastifyRequest, Actor>();
  return {
    actorOf: (req) => actors.get(req) ?? null,

    async onRequest(req, reply) {
      const lockedMs = deps.throttle.retryAfterMs(req.ip);
      if (lockedMs > 0) {
        const seconds = Math.ceil(lockedMs / 1000);
        reply.header("retry-after", String(seconds));
        return sendRefusal(reply, rateLimited(`too many failed bearer tokens from this address; retry in ${seconds} s`));
      }
      const header = req.headers.authorization;
      const token = bearerTokenOf(header);
      if (token === undefined) {
        const declared = Number(req.headers["content-length"]);
        if (Number.isFinite(declared) && declared > deps.anonymousMaxBodyBytes) return sendRefusal(reply, payloadTooLarge(tooLargeMessage(deps.anonymousMaxBodyBytes)));
        return undefined;
      }
      // A malformed header can never succeed, so it tells a guesser nothing: refused, not counted.
      if (token === null) return sendRefusal(reply, unauthenticated("malformed Authorization header (expected: Bearer <token>)"));
      const actor = await deps.authenticate(token);
      if (actor !== null) {
        actors.set(req, actor);
        return undefined;
      }
      const lockout = deps.throttle.recordFailure(req.ip);
      deps.onAuthFailure?.(lockout > 0);
      return sendRefusal(reply, unauthenticated());
    },

    async preParsing(req, _reply, payload) {
      return actors.has(req) ? payload : limitBody(payload, deps.anonymousMaxBodyBytes);
    },
  };
}
