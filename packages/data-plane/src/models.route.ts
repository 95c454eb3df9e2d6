/** `GET /v1/models`: the models the presented key may call (OpenAI list shape). */
import type { FastifyInstance } from "fastify";
import type { CodeRecorder } from "./errors.plugin.js";
import { listModelsForKey } from "./models.service.js";
import type { RequestPathDeps } from "./request-context.js";

/** Registers the models route. */
export function registerModelsRoute(app: FastifyInstance, deps: RequestPathDeps, recordCode: CodeRecorder): void {
  app.get("/v1/models", async (request, reply) => {
    const list = listModelsForKey(deps, request.headers, request.query);
    recordCode(request, "ok");
    return reply.type("application/json").send(list);
  });
}
