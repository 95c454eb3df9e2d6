/** `POST /v1/responses` (OpenAI Responses API, JSON and its event stream): parse the transport, call the service, send. */
import type { FastifyInstance } from "fastify";
import { sendChatResult } from "./chat-reply.js";
import { clientAbortSignal } from "./chat.route.js";
import type { CodeRecorder } from "./errors.plugin.js";
import { handleResponses } from "./responses.service.js";
import type { UpstreamPathDeps } from "./upstream-exchange.js";

/** Registers the Responses API route (OpenAI-shaped errors). */
export function registerResponsesRoute(app: FastifyInstance, deps: UpstreamPathDeps, recordCode: CodeRecorder): void {
  app.post("/v1/responses", async (request, reply) => {
    const result = await handleResponses(deps, { headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) });
    recordCode(request, "ok");
    return sendChatResult(reply, result);
  });
}
