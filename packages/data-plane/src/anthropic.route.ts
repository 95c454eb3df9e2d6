/** Anthropic Messages: `POST /v1/messages` (JSON and SSE) and `POST /v1/messages/count_tokens`, with Anthropic-shaped errors. */
import type { FastifyInstance } from "fastify";
import { sendChatResult } from "./chat-reply.js";
import { clientAbortSignal } from "./chat.route.js";
import { handleCountTokens } from "./count-tokens.service.js";
import type { CodeRecorder } from "./errors.plugin.js";
import { handleProtocolChat } from "./protocol-chat.service.js";
import type { UpstreamPathDeps } from "./upstream-exchange.js";

/** Registers the Anthropic routes. */
export function registerAnthropicRoutes(app: FastifyInstance, deps: UpstreamPathDeps, recordCode: CodeRecorder): void {
  const config = { protocol: "anthropic" as const };
  app.post("/v1/messages", { config }, async (request, reply) => {
    const input = { protocol: "anthropic" as const, route: "/v1/messages", headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) };
    const result = await handleProtocolChat(deps, input);
    recordCode(request, "ok");
    return sendChatResult(reply, result);
  });
  app.post("/v1/messages/count_tokens", { config }, async (request, reply) => {
    const input = { protocol: "anthropic" as const, route: "/v1/messages/count_tokens", headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) };
    const body = await handleCountTokens(deps, input);
    recordCode(request, "ok");
    return reply.code(200).type("application/json").send(body);
  });
}
