/**
 * Gemini: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse` for
 * SSE, else one JSON array), `:countTokens`, `:embedContent` and `:batchEmbedContents`, with
 * Google-shaped errors. Fastify cannot route a colon inside a segment, so one wildcard route takes
 * `{model}:{method}` apart (the model may contain `/`, as in `account/model`).
 */
import type { FastifyInstance } from "fastify";
import { sendChatResult } from "./chat-reply.js";
import { clientAbortSignal } from "./chat.route.js";
import { handleCountTokens } from "./count-tokens.service.js";
import type { CodeRecorder } from "./errors.plugin.js";
import { GatewayError } from "./gateway-error.js";
import { handleGeminiEmbed } from "./gemini-embed.service.js";
import { handleProtocolChat } from "./protocol-chat.service.js";
import type { UpstreamPathDeps } from "./upstream-exchange.js";

/** The Gemini methods the gateway serves. */
export const GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"] as const;

/** One of `GEMINI_METHODS`. */
export type GeminiMethod = (typeof GEMINI_METHODS)[number];

/** Splits `{model}:{method}` (the part after `/v1beta/models/`); null when it names no known method. */
export function parseGeminiTarget(rest: string): { readonly model: string; readonly method: GeminiMethod } | null {
  const at = rest.lastIndexOf(":");
  if (at <= 0) return null;
  const method = rest.slice(at + 1);
  const model = rest.slice(0, at);
  return (GEMINI_METHODS as readonly string[]).includes(method) ? { model, method: method as GeminiMethod } : null;
}

/** True when the query asks for SSE (`alt=sse`). */
function wantsSse(query: unknown): boolean {
  return typeof query === "object" && query !== null && (query as { alt?: unknown }).alt === "sse";
}

/** Registers the Gemini routes. */
export function registerGeminiRoutes(app: FastifyInstance, deps: UpstreamPathDeps, recordCode: CodeRecorder): void {
  app.post("/v1beta/models/*", { config: { protocol: "google" } }, async (request, reply) => {
    const rest = (request.params as { "*"?: string })["*"] ?? "";
    const target = parseGeminiTarget(rest);
    if (target === null) throw new GatewayError("not_found", `no route for POST /v1beta/models/${rest}`);
    const { model, method } = target;
    const base = { route: `/v1beta/models/{model}:${method}`, headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) };
    switch (method) {
      case "generateContent":
      case "streamGenerateContent": {
        const stream = method === "streamGenerateContent";
        const result = await handleProtocolChat(deps, { ...base, protocol: "google", google: { model, stream, sse: wantsSse(request.query) } });
        recordCode(request, "ok");
        return sendChatResult(reply, result);
      }
      case "countTokens": {
        const body = await handleCountTokens(deps, { ...base, protocol: "google", model });
        recordCode(request, "ok");
        return reply.code(200).type("application/json").send(body);
      }
      case "embedContent":
      case "batchEmbedContents": {
        const result = await handleGeminiEmbed(deps, { ...base, model, batch: method === "batchEmbedContents" });
        recordCode(request, "ok");
        return reply.code(result.status).headers(result.headers).type("application/json").send(result.body);
      }
      default: {
        const never: never = method;
        throw new GatewayError("not_found", `unknown method ${String(never)}`);
      }
    }
  });
}
