/** `POST /v1/chat/completions` (JSON and SSE): parse the transport, call the chat service, send. */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { handleChatCompletion, type ChatServiceDeps } from "./chat.service.js";
import type { CodeRecorder } from "./errors.plugin.js";

/** An AbortSignal that fires when the client goes away before the response finished. */
export function clientAbortSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Registers the chat completions route. */
export function registerChatRoute(app: FastifyInstance, deps: ChatServiceDeps, recordCode: CodeRecorder): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const result = await handleChatCompletion(deps, { headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) });
    recordCode(request, "ok");
    reply.code(result.status).headers(result.headers);
    if (result.kind === "json") return reply.type("application/json").send(result.body);
    return reply.send(Readable.from(result.body, { objectMode: false }));
  });
}
