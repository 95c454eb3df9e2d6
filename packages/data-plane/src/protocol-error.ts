/**
 * Gateway errors in the inbound protocol's own shape: OpenAI `{error: {message, type, param, code}}`
 * (unchanged from the OpenAI routes), Anthropic `{type: "error", error: {type, message}}`, Google
 * `{error: {code, message, status}}`, always with the contract's HTTP status. Routes declare their
 * protocol in Fastify's route config; unknown paths are judged by their prefix.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { assertNever } from "@tollgate/policy";
import { chatErrorBody, chatErrorStatus, openAIErrorBody, type ChatProtocol } from "@tollgate/providers";
import type { GatewayError } from "./gateway-error.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The wire protocol of a route's answers and errors (default: OpenAI). */
    protocol?: ChatProtocol;
  }
}

/** The protocol a path speaks: `/v1/messages...` Anthropic, `/v1beta/...` Google, anything else OpenAI. */
export function protocolOfPath(url: string): ChatProtocol {
  const path = url.split("?")[0] ?? "";
  if (path === "/v1/messages" || path.startsWith("/v1/messages/")) return "anthropic";
  return path.startsWith("/v1beta/") ? "google" : "openai";
}

/** The protocol of a request: its route's declared protocol, else the path's. */
export function protocolOfRequest(request: FastifyRequest): ChatProtocol {
  const config = request.routeOptions.config as { protocol?: ChatProtocol } | undefined;
  return config?.protocol ?? protocolOfPath(request.url);
}

/** Google's canonical status of an HTTP status the gateway answers with. */
function googleStatusOf(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 431:
      return "INVALID_ARGUMENT";
    case 408:
      return "DEADLINE_EXCEEDED";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "INTERNAL";
  }
}

/** The error body of `code` in `protocol`'s shape, for an answer with HTTP `status`. */
export function protocolErrorBody(protocol: ChatProtocol, code: string, message: string, status: number): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return { ...openAIErrorBody(code, message) };
    case "anthropic":
      return chatErrorBody("anthropic", code, message);
    case "google":
      // Codes Google's table does not know (not_ready, not_found ...) keep the HTTP status in the body.
      if (chatErrorStatus("google", code) === status) return chatErrorBody("google", code, message);
      return { error: { code: status, message, status: googleStatusOf(status) } };
    default:
      return assertNever(protocol);
  }
}

/** Sends a gateway error in `protocol`'s shape with the contract's status and headers. */
export function sendProtocolError(reply: FastifyReply, protocol: ChatProtocol, error: GatewayError): FastifyReply {
  const body = protocolErrorBody(protocol, error.code, error.message, error.status);
  return reply.code(error.status).headers(error.responseHeaders()).type("application/json").send(body);
}

/** One SSE event carrying an error in the middle of a `protocol` stream (after the 200 was sent). */
export function streamErrorEvent(protocol: ChatProtocol, code: string, message: string, status: number): string {
  const body = JSON.stringify(protocolErrorBody(protocol, code, message, status));
  switch (protocol) {
    case "openai":
      return `data: ${body}\n\n`;
    case "anthropic":
      return `event: error\ndata: ${body}\n\n`;
    case "google":
      return `data: ${body}\r\n\r\n`;
    default:
      return assertNever(protocol);
  }
}
