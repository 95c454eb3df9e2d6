/** The mock's routes: which protocol a path speaks, its auth check, and the chat adapters per protocol. */
import type { IncomingHttpHeaders } from "node:http";
import { buildAnthropicMessage, buildAnthropicStreamEvents, readAnthropicInput } from "./anthropic-message.js";
import { buildChatCompletion, buildStreamEvents, collectMessageTexts, isObject, readLimit, type ChatPlan, type CompletionInput, type StreamEvent } from "./chat-completion.js";
import { buildGeminiResponse, buildGeminiStreamEvents, readGeminiInput } from "./gemini-content.js";
import type { MockProtocol } from "./protocol-error.js";

/** A matched route. */
export type MockRoute =
  | { readonly kind: "healthz" }
  | { readonly kind: "models" }
  | { readonly kind: "embeddings" }
  /** An Azure path without `api-version` (Azure answers 404). */
  | { readonly kind: "azure_no_version" }
  | { readonly kind: "chat"; readonly protocol: MockProtocol; readonly model: string | null; readonly stream: boolean | null; readonly sse: boolean }
  | { readonly kind: "count_tokens"; readonly protocol: "anthropic" | "google"; readonly model: string | null }
  | { readonly kind: "embed_content"; readonly model: string; readonly batch: boolean };

const GOOGLE_PATH = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$/;
/** Azure OpenAI: `/openai/deployments/{deployment}/chat/completions|embeddings` (with `?api-version=`). */
const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

/** True for an Azure OpenAI deployment path. */
export function isAzurePath(pathname: string): boolean {
  return AZURE_PATH.test(pathname);
}

/** The protocol of a path: `/v1/messages...` Anthropic, `/v1beta/...` Google, anything else OpenAI. */
export function protocolOfPath(pathname: string): MockProtocol {
  if (pathname === "/v1/messages" || pathname.startsWith("/v1/messages/")) return "anthropic";
  return pathname.startsWith("/v1beta/") ? "google" : "openai";
}

/** Matches a method and path (query included) to a route; null = unknown URL. */
export function matchRoute(method: string, path: string): MockRoute | null {
  const url = new URL(path, "http://mock");
  const p = url.pathname;
  if (method === "GET" && p === "/healthz") return { kind: "healthz" };
  if (method === "GET" && p === "/v1/models") return { kind: "models" };
  if (method !== "POST") return null;
  if (p === "/v1/chat/completions") return { kind: "chat", protocol: "openai", model: null, stream: null, sse: true };
  if (p === "/v1/embeddings") return { kind: "embeddings" };
  if (p === "/v1/messages") return { kind: "chat", protocol: "anthropic", model: null, stream: null, sse: true };
  if (p === "/v1/messages/count_tokens") return { kind: "count_tokens", protocol: "anthropic", model: null };
  const azure = AZURE_PATH.exec(p);
  if (azure !== null && azure[1] !== undefined) {
    if (!url.searchParams.get("api-version")) return { kind: "azure_no_version" };
    if (azure[2] === "embeddings") return { kind: "embeddings" };
    return { kind: "chat", protocol: "openai", model: decodeURIComponent(azure[1]), stream: null, sse: true };
  }
  const g = GOOGLE_PATH.exec(p);
  if (g === null || g[1] === undefined) return null;
  const model = decodeURIComponent(g[1]);
  switch (g[2]) {
    case "generateContent":
      return { kind: "chat", protocol: "google", model, stream: false, sse: false };
    case "streamGenerateContent":
      return { kind: "chat", protocol: "google", model, stream: true, sse: url.searchParams.get("alt") === "sse" };
    case "countTokens":
      return { kind: "count_tokens", protocol: "google", model };
    default:
      return { kind: "embed_content", model, batch: g[2] === "batchEmbedContents" };
  }
}

/**
 * True when the request carries `apiKey` the way its protocol's SDKs send it: OpenAI
 * `Authorization: Bearer` (Azure deployment paths: `api-key`); Anthropic `x-api-key` or Bearer
 * (SDK 1.x); Google `x-goog-api-key` or `?key=`.
 */
export function isAuthorized(protocol: MockProtocol, headers: IncomingHttpHeaders, path: string, apiKey: string): boolean {
  const bearer = headers.authorization === `Bearer ${apiKey}`;
  switch (protocol) {
    case "openai":
      return isAzurePath(new URL(path, "http://mock").pathname) ? headers["api-key"] === apiKey : bearer;
    case "anthropic":
      return bearer || headers["x-api-key"] === apiKey;
    case "google":
      return headers["x-goog-api-key"] === apiKey || new URL(path, "http://mock").searchParams.get("key") === apiKey;
    default: {
      const never: never = protocol;
      throw new Error(`unknown protocol ${String(never)}`);
    }
  }
}

/** The credential a request carried the way its protocol sends it (the first found), null when none. */
export function receivedCredential(headers: IncomingHttpHeaders, path: string): string | null {
  const bearer = /^Bearer +(.+)$/.exec(headers.authorization ?? "")?.[1];
  const single = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return bearer ?? single(headers["api-key"]) ?? single(headers["x-api-key"]) ?? single(headers["x-goog-api-key"]) ?? new URL(path, "http://mock").searchParams.get("key");
}

/** What an OpenAI chat body asks of the mock; an error message when `messages` is missing. */
function readOpenAIInput(body: Record<string, unknown>, deployment: string | null): CompletionInput | { readonly error: string } {
  const messages = body["messages"];
  if (!Array.isArray(messages) || messages.length === 0) return { error: "Missing required parameter: 'messages'." };
  const options = body["stream_options"];
  return {
    model: typeof body["model"] === "string" ? body["model"] : (deployment ?? "mock-model"),
    texts: collectMessageTexts(messages),
    messageCount: messages.length,
    maxTokens: readLimit(body, "max_completion_tokens") ?? readLimit(body, "max_tokens"),
    n: readLimit(body, "n") ?? 1,
    includeUsage: isObject(options) && options["include_usage"] === true,
  };
}

/** How one protocol reads a chat request and writes its answers. */
export interface ChatAdapter {
  /** Prefix of the response ids (`chatcmpl-mock`, `msg_mock`, `mock-resp-`). */
  readonly idPrefix: string;
  read(body: Record<string, unknown>, model: string | null, countOnly: boolean): CompletionInput | { readonly error: string };
  buildJson(plan: ChatPlan): Record<string, unknown>;
  buildStream(plan: ChatPlan): StreamEvent[];
}

/** The chat adapter of each protocol. */
export const CHAT_ADAPTERS: Readonly<Record<MockProtocol, ChatAdapter>> = {
  openai: { idPrefix: "chatcmpl-mock", read: (body, model) => readOpenAIInput(body, model), buildJson: buildChatCompletion, buildStream: buildStreamEvents },
  anthropic: { idPrefix: "msg_mock", read: (body, _m, countOnly) => readAnthropicInput(body, !countOnly), buildJson: buildAnthropicMessage, buildStream: buildAnthropicStreamEvents },
  google: { idPrefix: "mock-resp-", read: (body, model) => readGeminiInput(model ?? "mock-model", body), buildJson: buildGeminiResponse, buildStream: buildGeminiStreamEvents },
};
