/**
 * The Simulator's answer (contract §2), built from a dry-run decision: shared by the data plane's
 * `POST /v1/simulate` and the control plane's `simulate` query so both answer alike. Errors are in
 * OpenAI's shape with the status the real request would get (`REFUSAL_STATUS`).
 */
import { estimateDecisionCost, formatUsdPicos, REFUSAL_STATUS, type Decision, type DecisionCheck, type ModelPolicy, type PolicyIndex, type RequestShape } from "@tollgate/policy";
import { openAIErrorBody, type OpenAIErrorBody } from "./openai/errors.js";
import type { SimulatedBudget } from "./simulated-budgets.js";

/** Where a simulated request would be routed. */
export interface SimulatedRoute {
  /** The model's public name. */
  readonly model: string;
  /** The provider account's name. */
  readonly providerAccount: string;
  readonly upstreamModel: string;
}

/** The Simulator's answer. */
export interface SimulationReport {
  readonly allowed: boolean;
  /** The HTTP status the real request would get (200 when allowed). */
  readonly status: number;
  /** The OpenAI error object the real request would get; null when allowed. */
  readonly error: OpenAIErrorBody["error"] | null;
  readonly route: SimulatedRoute | null;
  /** Upper-bound cost in US dollars (`formatUsdPicos`); "0.00" when no priced model was reached. */
  readonly estimatedCost: string;
  readonly checks: readonly DecisionCheck[];
  /** Every budget on the key's chain with its limit, use and remainder (empty when no key was found). */
  readonly budgets: readonly SimulatedBudget[];
}

/** A refused report that never reached a decision (bad request, node cannot record usage, ...). */
export function refusedSimulationReport(code: string, status: number, message: string, checks: readonly DecisionCheck[]): SimulationReport {
  return { allowed: false, status, error: openAIErrorBody(code, message).error, route: null, estimatedCost: formatUsdPicos(0n), checks, budgets: [] };
}

/** The report of a dry-run decision of `shape`; `checks` are the checks to list (the decision's, maybe with more). */
export function simulationReportOf(index: PolicyIndex, decision: Decision, shape: RequestShape, checks: readonly DecisionCheck[], budgets: readonly SimulatedBudget[] = []): SimulationReport {
  const estimatedCost = formatUsdPicos(estimateDecisionCost(index, decision, shape));
  const route = decision.model === null ? null : routeOf(index, decision.model);
  if (decision.allow) return { allowed: true, status: 200, error: null, route, estimatedCost, checks, budgets };
  return { ...refusedSimulationReport(decision.code, REFUSAL_STATUS[decision.code], decision.message, checks), route, estimatedCost, budgets };
}

function routeOf(index: PolicyIndex, model: ModelPolicy): SimulatedRoute | null {
  const account = index.account(model.providerAccountId);
  return account === null ? null : { model: model.name, providerAccount: account.name, upstreamModel: model.upstreamModel };
}
