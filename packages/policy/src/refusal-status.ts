/**
 * The HTTP status of each refusal code (contract §2) and whether retrying it can help: the tables
 * every edge reports refusals with.
 */
import type { RefusalCode } from "./decision.js";
import type { RetryClass } from "./retry-advice.js";

/** Status of each refusal the decision core can produce. */
export const REFUSAL_STATUS: Readonly<Record<RefusalCode, number>> = {
  invalid_api_key: 401,
  key_paused: 403,
  model_not_allowed: 403,
  model_not_found: 404,
  model_not_priced: 403,
  budget_exceeded: 429,
  budget_unverifiable: 503,
  rate_limit_exceeded: 429,
  request_cost_limit: 400,
  guardrail_blocked: 400,
  invalid_request: 400,
};

/**
 * Whether retrying each refusal can help (`adviseRetry` turns it into headers): the key, the model,
 * the price, the per-request cap and the guardrails do not change by waiting; a budget or a rate
 * limit frees up when its window resets (soon or not); an unverifiable budget may verify once the
 * control plane answers again.
 */
export const REFUSAL_RETRY: Readonly<Record<RefusalCode, RetryClass>> = {
  invalid_api_key: "never",
  key_paused: "never",
  model_not_allowed: "never",
  model_not_found: "never",
  model_not_priced: "never",
  budget_exceeded: "at_reset",
  budget_unverifiable: "transient",
  rate_limit_exceeded: "at_reset",
  request_cost_limit: "never",
  guardrail_blocked: "never",
  invalid_request: "never",
};
