/**
 * The data plane's error family and its one HTTP table: every refusal or failure carries a code
 * from the contract, a public message, and optionally a retry hint and extra headers. Routes turn
 * it into the inbound protocol's error shape; unknown errors are masked as `internal_error`.
 */
import { REFUSAL_STATUS, type RefusalCode } from "@tollgate/policy";

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

/** A refusal or failure to answer in the inbound protocol's error shape. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  /** `message` is public: it names the rule and level, never a secret or another tenant's data. */
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** The HTTP status to answer with. */
  get status(): number {
    return GATEWAY_ERROR_STATUS[this.code];
  }

  /** Headers to send: the extra ones plus `Retry-After` (whole seconds, at least 1) when there is a hint. */
  responseHeaders(): Record<string, string> {
    const out: Record<string, string> = { ...this.headers };
    if (this.retryAfterMs !== null) out["retry-after"] = String(Math.max(1, Math.ceil(this.retryAfterMs / 1000)));
    return out;
  }
}
