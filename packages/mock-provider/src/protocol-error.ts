/** Error bodies of the mock in each protocol's shape. */
import { buildErrorBody } from "./openai-error.js";

/** The protocol a route speaks. */
export type MockProtocol = "openai" | "anthropic" | "google";

/** Anthropic's `error.type` for an HTTP status. */
function anthropicType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  return status >= 500 ? "api_error" : "invalid_request_error";
}

/** Google's canonical `error.status` for an HTTP status. */
function googleStatus(status: number): string {
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 429) return "RESOURCE_EXHAUSTED";
  if (status === 503) return "UNAVAILABLE";
  if (status === 504) return "DEADLINE_EXCEEDED";
  return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
}

/** The error body a real provider of `protocol` sends with `status`. */
export function buildProtocolError(protocol: MockProtocol, status: number, message: string): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return buildErrorBody(status, message);
    case "anthropic":
      return { type: "error", error: { type: anthropicType(status), message } };
    case "google":
      return { error: { code: status, message, status: googleStatus(status) } };
    default: {
      const never: never = protocol;
      throw new Error(`unknown protocol ${String(never)}`);
    }
  }
}
