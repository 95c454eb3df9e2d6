/** OpenAI-shaped error bodies and the mapping of upstream failures to the gateway's statuses. */
import { isJsonObject } from "./usage.js";

/** The `error.type` values the gateway emits in OpenAI shape. */
export type OpenAIErrorType = "invalid_request_error" | "authentication_error" | "permission_error" | "not_found_error" | "rate_limit_error" | "insufficient_quota" | "api_error";

/** An OpenAI error body. */
export interface OpenAIErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: null;
    readonly code: string;
  };
}

/** The `error.type` OpenAI clients expect for a gateway code (unknown codes: `api_error`). */
export function openAIErrorTypeFor(code: string): OpenAIErrorType {
  switch (code) {
    case "invalid_api_key":
      return "authentication_error";
    case "key_paused":
    case "model_not_allowed":
    case "model_not_priced":
      return "permission_error";
    case "model_not_found":
      return "invalid_request_error";
    case "budget_exceeded":
      return "insufficient_quota";
    case "rate_limit_exceeded":
      return "rate_limit_error";
    case "request_cost_limit":
    case "guardrail_blocked":
    case "invalid_request":
    case "request_too_large":
      return "invalid_request_error";
    default:
      return "api_error";
  }
}

/** `{error: {message, type, param: null, code}}`; `type` defaults to `openAIErrorTypeFor(code)`. */
export function openAIErrorBody(code: string, message: string, type?: string): OpenAIErrorBody {
  return { error: { message, type: type ?? openAIErrorTypeFor(code), param: null, code } };
}

/** The gateway's answer to an upstream error status. */
export interface MappedUpstreamError {
  readonly status: 400 | 413 | 429 | 502 | 504;
  readonly code: "invalid_request" | "request_too_large" | "rate_limit_exceeded" | "upstream_error" | "upstream_timeout";
}

/**
 * Maps an upstream HTTP error status: 400/422 -> 400 `invalid_request` (the client's request was
 * refused upstream); 413 -> 413; 429 -> 429 `rate_limit_exceeded` (the provider's limit, so clients
 * back off); 408/504/524 -> 504 `upstream_timeout`; 401/403 (the gateway's credential), 404 (a
 * misrouted upstream model) and every other status -> 502 `upstream_error`.
 */
export function mapUpstreamStatus(status: number): MappedUpstreamError {
  switch (status) {
    case 400:
    case 422:
      return { status: 400, code: "invalid_request" };
    case 413:
      return { status: 413, code: "request_too_large" };
    case 429:
      return { status: 429, code: "rate_limit_exceeded" };
    case 408:
    case 504:
    case 524:
      return { status: 504, code: "upstream_timeout" };
    default:
      return { status: 502, code: "upstream_error" };
  }
}

/** `error.message` of an upstream OpenAI error body, null when absent (never echo other fields). */
export function extractOpenAIErrorMessage(json: unknown): string | null {
  if (!isJsonObject(json)) return null;
  const err = json["error"];
  if (isJsonObject(err) && typeof err["message"] === "string") return err["message"];
  return null;
}
