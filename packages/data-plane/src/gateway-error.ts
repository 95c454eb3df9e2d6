/**
 * The data plane's error family and its one HTTP table: every refusal or failure carries a code
 * from the contract, a public message, and optionally a retry hint and extra headers; whether to
 * retry is decided once, by `adviseRetry`, for every inbound protocol. Routes turn
 * it into the inbound protocol's error shape; unknown errors are masked as `internal_error`.
 */
import { adviseRetry, REFUSAL_RETRY, REFUSAL_STATUS, type RefusalCode, type RetryClass } from "@tollgate/policy";

/** Every error code the data plane answers with. */
export type GatewayErrorCode =
  | RefusalCode
  | "invalid_request"
  | "request_too_large"
  | "upstream_error"
  | "upstream_timeout"
  | "usage_unavailable"
  | "overloaded"
  | "not_ready"
  | "not_found"
  | "internal_error";

/** HTTP status of each code (contract §2); the refusals' statuses come from the decision core's table. */
export const GATEWAY_ERROR_STATUS: Readonly<Record<GatewayErrorCode, number>> = {
  ...REFUSAL_STATUS,
  invalid_request: 400,
  request_too_large: 413,
  upstream_error: 502,
  upstream_timeout: 504,
  usage_unavailable: 503,
  overloaded: 503,
  not_ready: 503,
  not_found: 404,
  internal_error: 500,
};

/**
 * Whether retrying each code can help (`adviseRetry`): the refusals' classes come from the decision
 * core's table; a malformed or oversized request and an unknown route never change by waiting; the
 * node's and the upstream's failures are transient.
 */
export const GATEWAY_ERROR_RETRY: Readonly<Record<GatewayErrorCode, RetryClass>> = {
  ...REFUSAL_RETRY,
  invalid_request: "never",
  request_too_large: "never",
  upstream_error: "transient",
  upstream_timeout: "transient",
  usage_unavailable: "transient",
  overloaded: "transient",
  not_ready: "transient",
  not_found: "never",
  internal_error: "transient",
};

/** A refusal or failure to answer in the inbound protocol's error shape. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  /**
   * `message` is public: it names the rule and level, never a secret or another tenant's data.
   * `retryAfterMs` is when retrying can work (a window's reset, a node's hint); `retryClass`
   * overrides the code's class (an upstream's 429 is transient, unlike a key's rate limit).
   */
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly retryClass: RetryClass = GATEWAY_ERROR_RETRY[code],
  ) {
    super(message);
  }

  /** The HTTP status to answer with. */
  get status(): number {
    return GATEWAY_ERROR_STATUS[this.code];
  }

  /**
   * Headers to send, in every protocol: the extra ones plus the retry advice (`adviseRetry`):
   * `x-should-retry: false` when retrying cannot work within a minute, `Retry-After` (whole
   * seconds) with `x-should-retry: true` when it can, nothing when the client's backoff decides.
   */
  responseHeaders(): Record<string, string> {
    const out: Record<string, string> = { ...this.headers };
    const advice = adviseRetry(this.retryClass, this.retryAfterMs);
    if (advice.shouldRetry !== null) out["x-should-retry"] = String(advice.shouldRetry);
    if (advice.retryAfterSeconds !== null) out["retry-after"] = String(advice.retryAfterSeconds);
    return out;
  }
}
