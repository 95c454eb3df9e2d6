/** Google-shaped error bodies for the gateway's error codes. */
import { isJsonObject } from "../openai/usage.js";

/** The canonical `error.status` values the gateway emits in Google shape. */
export type GoogleErrorStatus = "INVALID_ARGUMENT" | "UNAUTHENTICATED" | "PERMISSION_DENIED" | "NOT_FOUND" | "RESOURCE_EXHAUSTED" | "INTERNAL" | "UNAVAILABLE" | "DEADLINE_EXCEEDED";

/** A Google API error body (`code` is the HTTP status). */
export interface GoogleErrorBody {
  readonly error: { readonly code: number; readonly message: string; readonly status: GoogleErrorStatus };
}

/** HTTP status and Google status of a gateway code. */
export interface GoogleErrorMapping {
  readonly status: number;
  readonly googleStatus: GoogleErrorStatus;
}

/**
 * The Google status of a gateway code: invalid_api_key 401 UNAUTHENTICATED; key_paused,
 * model_not_allowed, model_not_priced 403 PERMISSION_DENIED; model_not_found 404 NOT_FOUND;
 * budget_exceeded, rate_limit_exceeded 429 RESOURCE_EXHAUSTED; invalid_request,
 * request_cost_limit, guardrail_blocked 400 and request_too_large 413 INVALID_ARGUMENT;
 * upstream_error 502 INTERNAL; upstream_timeout 504 DEADLINE_EXCEEDED; budget_unverifiable,
 * usage_unavailable, overloaded 503 UNAVAILABLE; unknown 500 INTERNAL.
 */
export function googleErrorFor(code: string): GoogleErrorMapping {
  switch (code) {
    case "invalid_api_key":
      return { status: 401, googleStatus: "UNAUTHENTICATED" };
    case "key_paused":
    case "model_not_allowed":
    case "model_not_priced":
      return { status: 403, googleStatus: "PERMISSION_DENIED" };
    case "model_not_found":
      return { status: 404, googleStatus: "NOT_FOUND" };
    case "budget_exceeded":
    case "rate_limit_exceeded":
      return { status: 429, googleStatus: "RESOURCE_EXHAUSTED" };
    case "invalid_request":
    case "request_cost_limit":
    case "guardrail_blocked":
      return { status: 400, googleStatus: "INVALID_ARGUMENT" };
    case "request_too_large":
      return { status: 413, googleStatus: "INVALID_ARGUMENT" };
    case "upstream_error":
      return { status: 502, googleStatus: "INTERNAL" };
    case "upstream_timeout":
      return { status: 504, googleStatus: "DEADLINE_EXCEEDED" };
    case "budget_unverifiable":
    case "usage_unavailable":
    case "overloaded":
      return { status: 503, googleStatus: "UNAVAILABLE" };
    default:
      return { status: 500, googleStatus: "INTERNAL" };
  }
}

/** `{error: {code, message, status}}` for a gateway code. */
export function googleErrorBody(code: string, message: string): GoogleErrorBody {
  const m = googleErrorFor(code);
  return { error: { code: m.status, message, status: m.googleStatus } };
}

/** `error.message` of an upstream Google error body (object or one-element array), null when absent. */
export function extractGoogleErrorMessage(json: unknown): string | null {
  const body = Array.isArray(json) ? json[0] : json;
  if (!isJsonObject(body)) return null;
  const err = body["error"];
  return isJsonObject(err) && typeof err["message"] === "string" ? err["message"] : null;
}
