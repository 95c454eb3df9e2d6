/** The HTTP status of each refusal code (contract §2): the one table every edge reports refusals with. */
import type { RefusalCode } from "./decision.js";

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
};
