/**
 * The Simulator (`POST /v1/simulate`, contract §2): evaluates what the request in `body` would
 * meet on `path` — the same parser, the same usage-spool check, the same `decide` (dry run, via
 * `simulateDecision`) — and reports it. It never calls a provider, takes no grant, reserves no
 * budget, counts no rate limit and writes no usage record.
 *
 * Authentication of the simulate call itself: with no secret at all, or a string that is not a
 * well-formed Tollgate secret, there is nothing to simulate for and the call is answered like any
 * other request (401 `invalid_api_key` in OpenAI shape). A well-formed secret is the subject of
 * the simulation: if it is unknown, revoked, expired, rotated out or paused, the answer is 200
 * with `allowed: false` and the status and error the real request would get (401/403), so an
 * operator can ask "why is this key refused?". This reveals nothing beyond what the real request
 * would answer to the same secret.
 *
 * Budgets: the report lists every budget on the key's chain with what the admin set and what the
 * control plane's ledger says is used and remaining (asked for with a short deadline; null when it
 * cannot answer), and separately what this node holds of it in grants — the budget checks reflect
 * what this node can admit on its own.
 */
import { simulateDecision, type DecisionCheck } from "@tollgate/policy";
import { budgetWindowsOfKey, refusedSimulationReport, simulatedBudgetOf, simulationReportOf, type SimulatedBudget, type SimulationReport } from "@tollgate/providers";
import { budgetWindowKey, type BudgetUsageSource } from "./budget-usage.client.js";
import { GatewayError, type GatewayErrorCode } from "./gateway-error.js";
import { SIMULATED_PATHS, isSimulatedPath, parseInboundRequest } from "./inbound-request.js";
import { extractSecret, type RequestHeaders } from "./key-auth.js";
import { checkPresentedSecret } from "./presented-secret.js";
import type { RequestPathDeps } from "./request-context.js";

/** The Simulator's answer (contract §2), built by `@tollgate/providers` (shared with the control plane). */
export type { SimulatedRoute, SimulationReport } from "@tollgate/providers";

/** Simulates the request in `body`; throws `GatewayError` only for a malformed simulate call. */
export async function simulateRequest(deps: RequestPathDeps, budgetUsage: BudgetUsageSource, headers: RequestHeaders, query: unknown, body: unknown): Promise<SimulationReport> {
  const state = deps.store.current();
  if (!state) throw new GatewayError("not_ready", "this gateway node has no policy yet; retry shortly", 1000);
  const secret = extractSecret(headers, query);
  if (secret === null) throw new GatewayError("invalid_api_key", "no API key was provided");
  const presented = checkPresentedSecret(deps.jwt, state, secret, deps.now());
  if (presented.kind === "malformed") throw new GatewayError("invalid_api_key", "the API key is not valid");
  // A JWT that fails verification is simulated like an unknown key: the real request's 401, reported.
  if (presented.kind === "refused") return refusedReport("invalid_api_key", presented.message, [{ name: "api_key", level: "VIRTUAL_KEY", passed: false, detail: presented.message }]);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new GatewayError("invalid_request", "the request body must be a JSON object");
  const { path, body: inner } = body as { path?: unknown; body?: unknown };
  if (!isSimulatedPath(path)) throw new GatewayError("invalid_request", `'path' must be one of ${SIMULATED_PATHS.join(", ")}`);
  if (inner === undefined) throw new GatewayError("invalid_request", "'body' is required");

  const parsed = parseInboundRequest(path, inner);
  if (!parsed.ok) return refusedReport("invalid_request", parsed.message, [check("request", false, parsed.message)]);
  const requestCheck = check("request", true, `a valid ${path} request`);
  if (deps.usage.isFull()) {
    const message = "this gateway node cannot record usage right now";
    return refusedReport("usage_unavailable", message, [requestCheck, check("usage_recording", false, message)]);
  }
  const { decision } = simulateDecision(
    state.index,
    deps.ledger,
    deps.limiter,
    { keyHmac: presented.keyHmac, request: parsed.shape, now: deps.now(), grantsReachable: deps.grants.reachable() },
    state.connectedNodes,
  );
  const budgets = decision.key === null ? [] : await budgetsOfKey(deps, budgetUsage, state.index, decision.key);
  return simulationReportOf(state.index, decision, parsed.shape, [requestCheck, ...decision.checks], budgets);
}

/** Every budget of the key's chain: the control plane's use (null when unknown) and this node's holding. */
async function budgetsOfKey(
  deps: RequestPathDeps,
  budgetUsage: BudgetUsageSource,
  index: Parameters<typeof budgetWindowsOfKey>[0],
  key: Parameters<typeof budgetWindowsOfKey>[1],
): Promise<SimulatedBudget[]> {
  const now = deps.now();
  const refs = budgetWindowsOfKey(index, key, now);
  const usage = await budgetUsage(refs.map((r) => ({ budgetId: r.budget.id, windowStartMs: r.windowStart })));
  return refs.map((ref) => {
    const used = usage?.get(budgetWindowKey(ref.budget.id, ref.windowStart))?.used ?? null;
    const held = ref.budget.mode === "HARD" ? deps.ledger.available(ref.budget.id, ref.windowStart, now) : null;
    return simulatedBudgetOf(ref, used, held);
  });
}

function refusedReport(code: GatewayErrorCode, message: string, checks: readonly DecisionCheck[]): SimulationReport {
  return refusedSimulationReport(code, new GatewayError(code, message).status, message, checks);
}

const check = (name: string, passed: boolean, detail: string): DecisionCheck => ({ name, level: "REQUEST", passed, detail });
