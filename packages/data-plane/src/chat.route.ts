/** `POST /v1/chat/completions` (JSON and SSE): parse the transport, call the chat service, send. */
import type { FastifyInstance, FastifyReply } from "fastify";
import { handleChatCompletion, type ChatServiceDeps } from "./chat.service.js";
import { sendChatResult } from "./chat-reply.js";
import type { CodeRecorder } from "./errors.plugin.js";
import { handleProtocolChat, peekRouteProtocols } from "./protocol-chat.service.js";

/** An AbortSignal that fires when the client goes away before the response finished. */
export function clientAbortSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Registers the chat completions route (OpenAI-style accounts through the chat service, others translated). */
export function registerChatRoute(app: FastifyInstance, deps: ChatServiceDeps, recordCode: CodeRecorder): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const protocols = peekRouteProtocols(deps, request.headers, request.query, request.body);
    if (protocols !== null && protocols.some((p) => p !== "openai")) {
      // An Anthropic or Gemini account on the route: translated (same admission and settlement path).
      const input = { protocol: "openai" as const, route: "/v1/chat/completions", headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) };
      const translated = await handleProtocolChat(deps, input);
      recordCode(request, "ok");
      return sendChatResult(reply, translated);
    }
    const result = await handleChatCompletion(deps, { headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) });
    recordCode(request, "ok");
    return sendChatResult(reply, result);
  });
}
