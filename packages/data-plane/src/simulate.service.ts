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
 */
import {
  estimateDecisionCost,
  formatUsd,
  isWellFormedSecret,
  simulateDecision,
  type Decision,
  type DecisionCheck,
  type ModelPolicy,
  type PolicyIndex,
  type RequestShape,
} from "@tollgate/policy";
import { openAIErrorBody, type OpenAIErrorBody } from "@tollgate/providers";
import { GatewayError, type GatewayErrorCode } from "./gateway-error.js";
import { SIMULATED_PATHS, isSimulatedPath, parseInboundRequest } from "./inbound-request.js";
import { extractSecret, hashSecret, type RequestHeaders } from "./key-auth.js";
import type { RequestPathDeps } from "./request-context.js";

/** Where a simulated request would be routed. */
export interface SimulatedRoute {
  /** The model's public name. */
  readonly model: string;
  /** The provider account's name. */
  readonly providerAccount: string;
  readonly upstreamModel: string;
}

/** The Simulator's answer (contract §2). */
export interface SimulationReport {
  readonly allowed: boolean;
  /** The HTTP status the real request would get (200 when allowed). */
  readonly status: number;
  /** The OpenAI error object the real request would get; null when allowed. */
  readonly error: OpenAIErrorBody["error"] | null;
  readonly route: SimulatedRoute | null;
  /** Upper-bound cost in US dollars (`formatUsd`); "0.00" when no priced model was reached. */
  readonly estimatedCost: string;
  readonly checks: readonly DecisionCheck[];
}

/** Simulates the request in `body`; throws `GatewayError` only for a malformed simulate call. */
export function simulateRequest(deps: RequestPathDeps, headers: RequestHeaders, query: unknown, body: unknown): SimulationReport {
  const state = deps.store.current();
  if (!state) throw new GatewayError("not_ready", "this gateway node has no policy yet; retry shortly", 1000);
  const secret = extractSecret(headers, query);
  if (secret === null) throw new GatewayError("invalid_api_key", "no API key was provided");
  if (!isWellFormedSecret(secret)) throw new GatewayError("invalid_api_key", "the API key is not valid");
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
    { keyHmac: hashSecret(secret, state.pepperKey), request: parsed.shape, now: deps.now(), grantsReachable: deps.grants.reachable() },
    state.connectedNodes,
  );
  return reportOf(state.index, decision, parsed.shape, [requestCheck, ...decision.checks]);
}

function reportOf(index: PolicyIndex, decision: Decision, shape: RequestShape, checks: readonly DecisionCheck[]): SimulationReport {
  const estimatedCost = formatUsd(estimateDecisionCost(index, decision, shape));
  const route = decision.model === null ? null : routeOf(index, decision.model);
  if (decision.allow) return { allowed: true, status: 200, error: null, route, estimatedCost, checks };
  return { ...refusedReport(decision.code, decision.message, checks), route, estimatedCost };
}

function refusedReport(code: GatewayErrorCode, message: string, checks: readonly DecisionCheck[]): SimulationReport {
  const error = new GatewayError(code, message);
  return { allowed: false, status: error.status, error: openAIErrorBody(code, message).error, route: null, estimatedCost: formatUsd(0n), checks };
}

function routeOf(index: PolicyIndex, model: ModelPolicy): SimulatedRoute | null {
  const account = index.account(model.providerAccountId);
  return account === null ? null : { model: model.name, providerAccount: account.name, upstreamModel: model.upstreamModel };
}

const check = (name: string, passed: boolean, detail: string): DecisionCheck => ({ name, level: "REQUEST", passed, detail });
