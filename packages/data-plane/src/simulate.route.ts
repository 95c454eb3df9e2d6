/** `POST /v1/simulate`: the Simulator (contract §2); always JSON, 200 for every simulated outcome. */
import type { FastifyInstance } from "fastify";
import type { BudgetUsageSource } from "./budget-usage.client.js";
import type { CodeRecorder } from "./errors.plugin.js";
import type { RequestPathDeps } from "./request-context.js";
import { simulateRequest } from "./simulate.service.js";

/** Registers the simulate route. */
export function registerSimulateRoute(app: FastifyInstance, deps: RequestPathDeps, recordCode: CodeRecorder, budgetUsage: BudgetUsageSource): void {
  app.post("/v1/simulate", async (request, reply) => {
    const report = await simulateRequest(deps, budgetUsage, request.headers, request.query, request.body);
    recordCode(request, "ok");
    return reply.type("application/json").send(report);
  });
}
