/** `POST /v1/embeddings`: parse the transport, call the embeddings service, send the JSON answer. */
import type { FastifyInstance } from "fastify";
import { clientAbortSignal } from "./chat.route.js";
import { handleEmbeddings } from "./embeddings.service.js";
import type { CodeRecorder } from "./errors.plugin.js";
import type { UpstreamPathDeps } from "./upstream-exchange.js";

/** Registers the embeddings route. */
export function registerEmbeddingsRoute(app: FastifyInstance, deps: UpstreamPathDeps, recordCode: CodeRecorder): void {
  app.post("/v1/embeddings", async (request, reply) => {
    const result = await handleEmbeddings(deps, { headers: request.headers, query: request.query, body: request.body, clientSignal: clientAbortSignal(reply) });
    recordCode(request, "ok");
    return reply.code(result.status).headers(result.headers).type("application/json").send(result.body);
  });
}
