/**
 * Types of the decision core's inputs and outputs. The functions live in `decide.ts`,
 * `budget-ledger.ts`, `policy-index.ts`, `pricing.ts` and `windows.ts`.
 */
import type { InputAttachments } from "./input-attachments.js";
import type { RateShortfall } from "./rate-limiter.js";
import type { BudgetMode, BudgetUnit, ModelPolicy, ModelPrice, ProviderAccountPolicy, Scope, VirtualKeyPolicy } from "./model.js";

/** Every refusal code of the data plane's contract that the core can produce. */
export type RefusalCode =
  | "invalid_api_key"
  | "key_paused"
  | "model_not_allowed"
  | "model_not_found"
  | "model_not_priced"
  | "budget_exceeded"
  | "budget_unverifiable"
  | "rate_limit_exceeded"
  | "request_cost_limit"
  | "guardrail_blocked"
  | "invalid_request";

/** What the core needs to know of a request, computed by the data plane from the inbound body. */
export interface RequestShape {
  /** The public model name as the caller wrote it (`gpt-4o-mini` or `openai-main/gpt-4o-mini`). */
  readonly model: string;
  /**
   * A sound upper bound of the prompt's tokens (never below what the provider will count), apart
   * from `attachments`, which the core bounds with each candidate model's settings.
   */
  readonly inputTokensUpperBound: number;
  /** Images and parts the bound above leaves out (absent = none). */
  readonly attachments?: InputAttachments;
  /** `max_tokens` / `max_completion_tokens` the caller asked for; null = not given. */
  readonly requestedMaxOutputTokens: number | null;
  /** Embeddings produce no output tokens. */
  readonly operation: "chat" | "embeddings";
  /**
   * The prompt's text as guardrails read it (OpenAI chat: the messages' text, one per line;
   * embeddings: the inputs). Absent = text rules (BLOCK_REGEX, BLOCK_KEYWORDS) see an empty prompt.
   */
  readonly promptText?: string;
  /** The request sends audio or asks for audio output: only a model with audio prices may serve it. */
  readonly audio?: boolean;
}

/** One check the core ran, for the Simulator (`checks` in contract §2). */
export interface DecisionCheck {
  readonly name: string;
  /** The level the check ran at: ORGANIZATION, TEAM, USER, VIRTUAL_KEY, or "REQUEST"/"MODEL". */
  readonly level: Scope | "REQUEST" | "MODEL";
  readonly passed: boolean;
  readonly detail: string;
}

/** One hold on one budget window, in the budget's unit. */
export interface BudgetHold {
  readonly budgetId: string;
  readonly unit: BudgetUnit;
  /** Epoch ms of the window's start (0 for TOTAL). */
  readonly windowStart: number;
  readonly amount: bigint;
}

/** What a successful decision holds against the ledger until it is settled or released. */
export interface Reservation {
  readonly id: number;
  readonly holds: readonly BudgetHold[];
}

/** A budget window whose local grant cannot cover the request: ask the control plane for more. */
export interface GrantShortfall {
  readonly budgetId: string;
  readonly windowStart: number;
  /** What this request needs in the budget's unit beyond what is available locally. */
  readonly needed: bigint;
  /** The request's full upper bound in the budget's unit (to size the grant request). */
  readonly upperBound: bigint;
}

/** One account an admitted request may be sent to, with the price it is charged at there. */
export interface PricedRouteCandidate {
  readonly model: ModelPolicy;
  readonly account: ProviderAccountPolicy;
  /** The model's price, or the organization's fallback. */
  readonly price: ModelPrice;
}

/** An admitted request. `model`, `account` and `price` are its first route candidate's. */
export interface Admission {
  readonly allow: true;
  readonly key: VirtualKeyPolicy;
  readonly model: ModelPolicy;
  readonly account: ProviderAccountPolicy;
  /** The price the request is charged at (the model's, or the organization's fallback). */
  readonly price: ModelPrice;
  /**
   * Every account the request may be sent to, in the order to try them (first = `model`). The
   * reservation bounds the most expensive of them; settle with `admissionVia` of the one used.
   */
  readonly candidates: readonly PricedRouteCandidate[];
  /** The output limit to send upstream (lowered by CAP_OUTPUT; the model's max otherwise). */
  readonly maxOutputTokens: number;
  /** The prompt's upper bound the reservation used: text plus images and attachments at the candidates' settings. */
  readonly inputTokens: number;
  /** True when `maxOutputTokens` was lowered below what the caller asked for (or the model max). */
  readonly outputCapped: boolean;
  /** The reservation to settle; holds are empty in dry runs. */
  readonly reservation: Reservation;
  /** Upper-bound cost in pico-dollars of the request as admitted. */
  readonly estimatedCost: bigint;
  readonly checks: readonly DecisionCheck[];
  /** Every budget (HARD and SOFT) the request counts against, in its admission-time window. */
  readonly budgetTargets?: readonly BudgetTarget[];
  /** What was counted against rate limits at admission (empty in dry runs); adjusted at settlement. */
  readonly rateLimitCharges?: readonly RateLimitCharge[];
  /** Every applicable rate limit's state after admission (for `x-ratelimit-*` headers). */
  readonly rateLimits?: readonly RateLimitStatus[];
}

/** A budget an admitted request counts against, in the window of its admission. */
export interface BudgetTarget {
  readonly budgetId: string;
  readonly unit: BudgetUnit;
  readonly mode: BudgetMode;
  readonly windowStart: number;
}

/** One amount counted against one rate-limit window. */
export interface RateLimitCharge {
  readonly rateLimitId: string;
  readonly unit: "REQUESTS" | "TOKENS";
  readonly windowStart: number;
  readonly amount: number;
}

/** A rate limit's state as this node knows it, for `x-ratelimit-*` headers. */
export interface RateLimitStatus {
  readonly rateLimitId: string;
  readonly unit: "REQUESTS" | "TOKENS";
  /** The limit the admin set (cluster-wide, per window). */
  readonly limit: number;
  /** The node's best knowledge of what remains in the window cluster-wide. */
  readonly remaining: number;
  /** ms until the window resets. */
  readonly resetMs: number;
}

/** A refused request. */
export interface Refusal {
  readonly allow: false;
  readonly code: RefusalCode;
  /** Names the rule and level (`monthly USD budget of team "search" is exhausted`). */
  readonly message: string;
  /** For 429s: when to retry (the window's reset); null = no hint. */
  readonly retryAfterMs: number | null;
  /** Non-empty when local grants fell short and more budget may exist at the control plane. */
  readonly shortfalls: readonly GrantShortfall[];
  /** The key, when it was resolved (for attributing the refusal in usage). */
  readonly key: VirtualKeyPolicy | null;
  readonly model: ModelPolicy | null;
  readonly checks: readonly DecisionCheck[];
  /**
   * For `rate_limit_exceeded` in allocation mode `held`: units to borrow from the control plane
   * before deciding again (empty: final).
   */
  readonly rateShortfalls?: readonly RateShortfall[];
  /** For `rate_limit_exceeded`: the limit that was hit. */
  readonly rateLimit?: RateLimitStatus;
  /** Every applicable rate limit's state, when the decision got as far as the rate limits (headers). */
  readonly rateLimits?: readonly RateLimitStatus[];
}

/** The core's answer. */
export type Decision = Admission | Refusal;

/** The decision call's input. */
export interface DecideInput {
  /** HMAC (hex) of the presented secret under the snapshot's pepper; null = no key presented. */
  readonly keyHmac: string | null;
  readonly request: RequestShape;
  /** Epoch ms. */
  readonly now: number;
  /** Simulator: evaluate everything, reserve and consume nothing. */
  readonly dryRun: boolean;
  /**
   * false on the first pass: a budget whose local grant cannot pay the full upper bound yields
   * shortfalls instead of a capped admission. true once grants were asked for (or cannot be):
   * CAP_OUTPUT admits on what is left locally.
   */
  readonly allowPartial: boolean;
  /** true when the control plane is unreachable: a hard-budget shortfall is `budget_unverifiable`. */
  readonly grantsUnavailable: boolean;
  /**
   * How rate limits are enforced (see rate-limiter.ts): `held` when the control plane can be
   * asked for units (a shortfall is returned to borrow), `fallback` (default) when it cannot. A
   * dry run with `held` (or unset) estimates from the node's best knowledge of the cluster's remainder.
   */
  readonly rateAllocation?: "held" | "fallback";
  /** A uniform random number in [0, 1) for the weighted choice among route candidates (default 0). */
  readonly routeRandom?: number;
  /**
   * Record every check that passed, with its detail (default true: the Simulator and `simulate`
   * show them). The request path passes false: only a failed check is recorded, and no detail
   * string is built for what passed. The decision itself is the same either way.
   */
  readonly explain?: boolean;
}

/** Actual usage of a finished request, to settle its reservation. */
export interface ActualUsage {
  /** Every input token: uncached, cache reads and cache writes. */
  readonly inputTokens: number;
  /** Input tokens read from the provider's prompt cache (part of `inputTokens`). */
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  /** Input tokens written to the provider's prompt cache (part of `inputTokens`); absent = 0. */
  readonly cacheWriteInputTokens?: number;
  /** The 1-hour part of `cacheWriteInputTokens` (Anthropic `ephemeral_1h_input_tokens`); absent = 0. */
  readonly cacheWrite1hInputTokens?: number;
  /** Audio input tokens (part of `inputTokens`, OpenAI `prompt_tokens_details.audio_tokens`); absent = 0. */
  readonly audioInputTokens?: number;
  /** Audio output tokens (part of `outputTokens`, OpenAI `completion_tokens_details.audio_tokens`); absent = 0. */
  readonly audioOutputTokens?: number;
}

/** One budget charge of a settled request (sent to the control plane in the usage record). */
export interface BudgetCharge {
  readonly budgetId: string;
  readonly windowStart: number;
  readonly amount: bigint;
}
