/** Anthropic-shaped error bodies for the gateway's error codes. */
import { isJsonObject } from "../openai/usage.js";

/** The `error.type` values Anthropic clients know. */
export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

/** An Anthropic error body. */
export interface AnthropicErrorBody {
  readonly type: "error";
  readonly error: { readonly type: AnthropicErrorType; readonly message: string };
}

/** HTTP status and Anthropic error type of a gateway code. */
export interface AnthropicErrorMapping {
  readonly status: number;
  readonly type: AnthropicErrorType;
}

/**
 * The Anthropic status and type of a gateway code: invalid_api_key 401 authentication_error;
 * key_paused, model_not_allowed, model_not_priced 403 permission_error; model_not_found 404;
 * budget_exceeded, rate_limit_exceeded 429; invalid_request, request_cost_limit,
 * guardrail_blocked 400; request_too_large 413; upstream_error 502 and upstream_timeout 504
 * api_error; budget_unverifiable, usage_unavailable, overloaded 503 overloaded_error; unknown 500.
 */
export function anthropicErrorFor(code: string): AnthropicErrorMapping {
  switch (code) {
    case "invalid_api_key":
      return { status: 401, type: "authentication_error" };
    case "key_paused":
    case "model_not_allowed":
    case "model_not_priced":
      return { status: 403, type: "permission_error" };
    case "model_not_found":
      return { status: 404, type: "not_found_error" };
    case "budget_exceeded":
    case "rate_limit_exceeded":
      return { status: 429, type: "rate_limit_error" };
    case "invalid_request":
    case "request_cost_limit":
    case "guardrail_blocked":
      return { status: 400, type: "invalid_request_error" };
    case "request_too_large":
      return { status: 413, type: "request_too_large" };
    case "upstream_error":
      return { status: 502, type: "api_error" };
    case "upstream_timeout":
      return { status: 504, type: "api_error" };
    case "budget_unverifiable":
    case "usage_unavailable":
    case "overloaded":
      return { status: 503, type: "overloaded_error" };
    default:
      return { status: 500, type: "api_error" };
  }
}

/** `{type: "error", error: {type, message}}` for a gateway code. */
export function anthropicErrorBody(code: string, message: string): AnthropicErrorBody {
  return { type: "error", error: { type: anthropicErrorFor(code).type, message } };
}

/** `error.message` of an upstream Anthropic error body, null when absent. */
export function extractAnthropicErrorMessage(json: unknown): string | null {
  if (!isJsonObject(json)) return null;
  const err = json["error"];
  return isJsonObject(err) && typeof err["message"] === "string" ? err["message"] : null;
}
