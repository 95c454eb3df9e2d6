/**
 * Calls to upstream providers with undici: connect, first-byte, idle (between body chunks) and
 * total timeouts, and abort when the client goes away. Failures are classified so the service
 * can answer 504 `upstream_timeout` or 502 `upstream_error`.
 */
import { Agent, request } from "undici";
import type { UpstreamTimeouts } from "./config.js";

/** Why an upstream exchange failed. */
export type UpstreamFailure = "timeout" | "connection" | "client_aborted";

/** An upstream call that failed before a response arrived. */
export class UpstreamCallError extends Error {
  override readonly name = "UpstreamCallError";
  /** `failure` classifies the error; `message` is for logs (never a credential). */
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

/** One request to send upstream. */
export interface UpstreamRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Aborted when the client disconnects. */
  readonly clientSignal: AbortSignal;
}

/** A response whose body is being received. */
export interface UpstreamExchange {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, chunk by chunk (throws on timeout, disconnect or abort). */
  readonly body: AsyncIterable<Uint8Array>;
  /** Classifies an error thrown while reading `body`. */
  classify(err: unknown): UpstreamFailure;
  /** Ends the exchange: clears the total timer and discards any unread body. */
  finish(): void;
}

/** Sends a request upstream; rejects with `UpstreamCallError`. */
export type UpstreamSend = (req: UpstreamRequest) => Promise<UpstreamExchange>;

/** An upstream sender with its connection pool. */
export interface UpstreamClient {
  readonly send: UpstreamSend;
  close(): Promise<void>;
}

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== err) return errorCode(cause);
  }
  return "";
}

/** Creates an undici-backed upstream client with the given timeouts. */
export function createUpstreamClient(timeouts: UpstreamTimeouts): UpstreamClient {
  const agent = new Agent({
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.firstByteMs,
    bodyTimeout: timeouts.idleMs,
    keepAliveTimeout: 30_000,
  });

  const send: UpstreamSend = async (req) => {
    const controller = new AbortController();
    // undici's own header and body timeouts run on coarse timers (a 300 ms idle limit let 700 ms
    // gaps through): the gateway enforces first byte, idle and total itself; undici's stay as backstops.
    let timedOut = false;
    const expire = (what: string) => (): void => {
      timedOut = true;
      controller.abort(new Error(`upstream ${what} timeout`));
    };
    const timer = setTimeout(expire("total"), timeouts.totalMs);
    const firstByte = setTimeout(expire("first byte"), timeouts.firstByteMs);
    const onClientAbort = (): void => controller.abort(new Error("client disconnected"));
    req.clientSignal.addEventListener("abort", onClientAbort, { once: true });
    if (req.clientSignal.aborted) onClientAbort();
    const classify = (err: unknown): UpstreamFailure => {
      if (timedOut) return "timeout";
      if (req.clientSignal.aborted) return "client_aborted";
      return TIMEOUT_CODES.has(errorCode(err)) ? "timeout" : "connection";
    };
    let idle: NodeJS.Timeout | null = null;
    const finish = (): void => {
      clearTimeout(timer);
      clearTimeout(firstByte);
      if (idle !== null) clearTimeout(idle);
      req.clientSignal.removeEventListener("abort", onClientAbort);
    };
    try {
      const res = await request(req.url, { method: "POST", headers: { ...req.headers }, body: req.body, dispatcher: agent, signal: controller.signal });
      clearTimeout(firstByte);
      /** The body, with the idle limit timed between upstream chunks (not while the consumer holds a chunk). */
      async function* guarded(): AsyncGenerator<Uint8Array> {
        let holding = false;
        const onIdle = (): void => {
          if (holding) idle?.refresh();
          else expire("idle")();
        };
        idle = setTimeout(onIdle, timeouts.idleMs);
        try {
          for await (const chunk of res.body) {
            holding = true;
            yield chunk as Uint8Array;
            holding = false;
            idle.refresh();
          }
        } finally {
          clearTimeout(idle);
        }
      }
      return {
        status: res.statusCode,
        headers: res.headers,
        body: guarded(),
        classify,
        finish: () => {
          finish();
          if (!res.body.destroyed) res.body.destroy();
        },
      };
    } catch (err) {
      finish();
      throw new UpstreamCallError(classify(err), `upstream request failed: ${errorCode(err) || (err as Error).message}`);
    }
  };

  return { send, close: () => agent.close() };
}
