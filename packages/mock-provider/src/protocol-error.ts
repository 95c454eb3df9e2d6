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

/** The reason every echoing error starts with (tests look for it after the gateway scrubbed the credential). */
export const ECHO_REASON = "Incorrect API key provided";

/** A message repeating `credential` as careless upstreams do: raw, as a header, URL-encoded, in basic auth, masked. */
function echoMessage(credential: string): string {
  const basic = Buffer.from(`user:${credential}`).toString("base64");
  const masked = `${credential.slice(0, 8)}${"*".repeat(12)}${credential.slice(-4)}`;
  return `${ECHO_REASON}: ${credential}. Sent as "Authorization: Bearer ${credential}", url ?key=${encodeURIComponent(credential)}, basic ${basic}, masked ${masked}.`;
}

/** An error body of `protocol` with `status` whose message and other fields echo `credential`. */
export function buildEchoError(protocol: MockProtocol, status: number, credential: string): Record<string, unknown> {
  const body = buildProtocolError(protocol, status, echoMessage(credential));
  const error = body["error"] as Record<string, unknown>;
  switch (protocol) {
    case "openai":
      return { error: { ...error, param: credential, code: credential } };
    case "anthropic":
      return { ...body, error: { ...error, api_key: credential }, request: { headers: { "x-api-key": credential } } };
    case "google":
      return { error: { ...error, details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ECHO", metadata: { key: credential } }] } };
    default: {
      const never: never = protocol;
      throw new Error(`unknown protocol ${String(never)}`);
    }
  }
}

/** A mid-stream error event of `protocol` echoing `credential`, framed as the protocol frames its events. */
export function buildEchoStreamEvent(protocol: MockProtocol, credential: string): string {
  const body = JSON.stringify(buildEchoError(protocol, 500, credential));
  switch (protocol) {
    case "openai":
      return `data: ${body}\n\n`;
    case "anthropic":
      return `event: error\ndata: ${body}\n\n`;
    case "google":
      return `data: ${body}\r\n\r\n`;
    default: {
      const never: never = protocol;
      throw new Error(`unknown protocol ${String(never)}`);
    }
  }
}
