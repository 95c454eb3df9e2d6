/**
 * Calls to upstream providers with undici: connect, first-byte, idle (between body chunks) and
 * total timeouts, and abort when the client goes away. Failures are classified so the service
 * can answer 504 `upstream_timeout` or 502 `upstream_error`.
 */
import { Agent } from "undici";
import type { UpstreamTimeouts } from "./config.js";
import { buildGuardedConnector, type OutboundRules } from "./outbound-connector.js";

/** Why an upstream exchange failed. */
export type UpstreamFailure = "timeout" | "connection" | "client_aborted";

/** An upstream call that failed before a response arrived. */
export class UpstreamCallError extends Error {
  override readonly name = "UpstreamCallError";
  /**
   * `failure` classifies the error; `message` is for logs (never a credential); `bodySent` is true
   * when the request most likely reached the provider (it was waiting for the answer: a first-byte
   * or total timeout, or the client left), so the provider may bill its prompt.
   */
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    readonly bodySent = false,
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
/** Failures before the request could be written (nothing reached the provider). */
const NOT_SENT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ERR_OUTBOUND_ADDRESS_BLOCKED"]);

/** After the client left mid-answer, how long the upstream is still read for its usage (default). */
export const DEFAULT_USAGE_GRACE_MS = 5_000;

function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== err) return errorCode(cause);
  }
  return "";
}

/**
 * `body` with the idle limit timed between upstream chunks (not while the consumer holds one):
 * `onIdle` fires after `idleMs` without a chunk; the timer starts at the first read and is handed
 * to `track` (so the exchange's `finish` clears it too). A plain iterator, not an async generator:
 * a suspended generator frame per response kept each response's objects alive across
 * young-generation collections (measured at concurrency 1: twice the bytes promoted per scavenge
 * and twice the scavenge pause).
 */
function guardIdle(body: AsyncIterable<Uint8Array>, idleMs: number, onIdle: () => void, track: (timer: NodeJS.Timeout) => void): AsyncIterable<Uint8Array> {
  let source: AsyncIterator<Uint8Array> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let holding = false;
  const stop = (): void => {
    if (timer !== null) clearTimeout(timer);
  };
  const iterator: AsyncIterator<Uint8Array> = {
    async next() {
      if (source === null) {
        source = body[Symbol.asyncIterator]();
        timer = setTimeout(() => {
          if (holding) timer?.refresh();
          else onIdle();
        }, idleMs);
        track(timer);
      } else {
        holding = false;
        timer?.refresh();
      }
      try {
        const result = await source.next();
        if (result.done === true) stop();
        else holding = true;
        return result;
      } catch (err) {
        stop();
        throw err;
      }
    },
    async return(value?: unknown) {
      stop();
      await source?.return?.();
      return { done: true, value };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** Most distinct upstream URLs whose parsed origin and path are kept (one per account endpoint in practice). */
const PARSED_URL_CACHE_ENTRIES = 1024;

/**
 * Creates an undici-backed upstream client with the given timeouts; connections to link-local /
 * cloud-metadata addresses are refused unless `outbound.allowLinkLocal`. A client that leaves
 * before the response headers aborts the upstream at once; one that leaves after them leaves the
 * answer running for `timeouts.usageGraceMs` (default DEFAULT_USAGE_GRACE_MS) so the relay can
 * read the provider's final usage (hidden reasoning tokens included), then it is aborted.
 */
export function createUpstreamClient(timeouts: UpstreamTimeouts, outbound: OutboundRules = { allowLinkLocal: false }): UpstreamClient {
  // Upstream URLs repeat (an account's endpoint): parse each once instead of on every request.
  const parsedUrls = new Map<string, { readonly origin: string; readonly path: string }>();
  const originAndPath = (url: string): { readonly origin: string; readonly path: string } => {
    let parsed = parsedUrls.get(url);
    if (parsed === undefined) {
      const u = new URL(url);
      parsed = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (parsedUrls.size >= PARSED_URL_CACHE_ENTRIES) parsedUrls.clear();
      parsedUrls.set(url, parsed);
    }
    return parsed;
  };
  const agent = new Agent({
    connect: buildGuardedConnector(timeouts.connectMs, outbound),
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
    let headersIn = false;
    let grace: NodeJS.Timeout | null = null;
    const abortNow = (): void => controller.abort(new Error("client disconnected"));
    const onClientAbort = (): void => {
      const graceMs = timeouts.usageGraceMs ?? DEFAULT_USAGE_GRACE_MS;
      if (!headersIn || graceMs <= 0) abortNow();
      else grace ??= setTimeout(abortNow, graceMs);
    };
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
      if (grace !== null) clearTimeout(grace);
      req.clientSignal.removeEventListener("abort", onClientAbort);
    };
    try {
      const { origin, path } = originAndPath(req.url);
      const res = await agent.request({ origin, path, method: "POST", headers: { ...req.headers }, body: req.body, signal: controller.signal });
      clearTimeout(firstByte);
      headersIn = true;
      const guarded = guardIdle(res.body as AsyncIterable<Uint8Array>, timeouts.idleMs, expire("idle"), (t) => {
        idle = t;
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        body: guarded,
        classify,
        finish: () => {
          finish();
          if (!res.body.destroyed) res.body.destroy();
        },
      };
    } catch (err) {
      finish();
      const failure = classify(err);
      const bodySent = (failure === "client_aborted" || (failure === "timeout" && (timedOut || errorCode(err) === "UND_ERR_HEADERS_TIMEOUT"))) && !NOT_SENT_CODES.has(errorCode(err));
      throw new UpstreamCallError(failure, `upstream request failed: ${errorCode(err) || (err as Error).message}`, bodySent);
    }
  };

  return { send, close: () => agent.close() };
}
