/**
 * The policy model: what a data-plane node holds in memory to decide every request alone.
 * It mirrors `proto/tollgate/v1/policy.proto`; `@tollgate/proto` converts between the two.
 * Money is integer pico-dollars (`bigint`, see money.ts); prices are micro-dollars per million tokens
 * (= pico-dollars per token). Times are epoch milliseconds (`number`).
 */

/** Which protocol an upstream provider account speaks. */
export type ProviderKind = "OPENAI" | "ANTHROPIC" | "GOOGLE" | "AZURE_OPENAI" | "OPENAI_COMPATIBLE";

/** Where a budget, rate limit or model-access rule is attached. */
export type Scope = "ORGANIZATION" | "TEAM" | "USER" | "VIRTUAL_KEY";

/** What a budget or a rate limit counts. */
export type BudgetUnit = "USD" | "TOKENS" | "REQUESTS";

/** A budget's window; calendar windows reset at 00:00 UTC (day), Monday (week), the 1st (month). */
export type BudgetWindow = "DAY" | "WEEK" | "MONTH" | "TOTAL";

/** HARD refuses when spent; SOFT only alerts. */
export type BudgetMode = "HARD" | "SOFT";

/** How a hard budget meets a request whose cost is not known in advance (contract §3). */
export type BudgetEnforcement = "CAP_OUTPUT" | "STRICT" | "ESTIMATE";

/** A virtual key's lifecycle state. EXPIRED is derived from `expiresAt` at decision time. */
export type KeyStatus = "ACTIVE" | "PAUSED" | "REVOKED" | "EXPIRED";

/** PERSONAL keys belong to a user; SERVICE keys to a team or the organization. */
export type KeyKind = "PERSONAL" | "SERVICE";

/** Allow and deny lists of public model names; entries may use `*` patterns. Empty allow = all. */
export interface ModelAccess {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** An organization as a node needs it. */
export interface OrganizationPolicy {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly access: ModelAccess;
  /** Price charged for models that have none; null = unpriced models are refused. */
  readonly fallbackPrice: ModelPrice | null;
}

/** A team as a node needs it. */
export interface TeamPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly slug: string;
  readonly name: string;
  readonly access: ModelAccess;
}

/** A user as a node needs it. An inactive user's personal keys are refused. */
export interface UserPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly email: string;
  readonly active: boolean;
  readonly teamIds: readonly string[];
  readonly access: ModelAccess;
}

/** One accepted secret of a key: its HMAC (hex) and, for a rotated-out secret, when it stops working. */
export interface KeySecret {
  readonly hmac: string;
  /** Epoch ms after which this secret is refused; null = no end (the current secret). */
  readonly validUntil: number | null;
}

/** A virtual key as a node needs it. Secrets are HMACs only. */
export interface VirtualKeyPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly name: string;
  readonly kind: KeyKind;
  readonly teamId: string | null;
  readonly userId: string | null;
  readonly status: Exclude<KeyStatus, "EXPIRED">;
  readonly secrets: readonly KeySecret[];
  readonly access: ModelAccess;
  /** Per-request spend cap in pico-dollars; null = none. */
  readonly maxCostPerRequest: bigint | null;
  /** Epoch ms; null = never. */
  readonly expiresAt: number | null;
}

/** Prices in micro-dollars per million tokens. */
export interface ModelPrice {
  readonly inputPerMillion: bigint;
  readonly outputPerMillion: bigint;
  /** Price of cached input tokens; null = same as input. */
  readonly cachedInputPerMillion: bigint | null;
  /**
   * Price of input tokens written to the provider's prompt cache (Anthropic's 5-minute cache
   * writes); absent or null = the input price. The control plane fills in the provider's default.
   */
  readonly cacheWriteInputPerMillion?: bigint | null;
  /** Price of 1-hour cache writes (Anthropic); absent or null = the cache-write price. */
  readonly cacheWrite1hInputPerMillion?: bigint | null;
  /**
   * Prices of audio input and output tokens. A model without both takes no audio: a request that
   * sends or asks for audio is refused (model_not_priced) rather than billed at the text price.
   */
  readonly audioInputPerMillion?: bigint | null;
  readonly audioOutputPerMillion?: bigint | null;
}

/** A model an organization exposes, routed to one provider account. */
export interface ModelPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly providerAccountId: string;
  /** Public name callers use (`gpt-4o-mini`); also callable as `<account name>/<name>`. */
  readonly name: string;
  /** The model id sent upstream. */
  readonly upstreamModel: string;
  /** null = unpriced: refused unless the organization has a fallback price. */
  readonly price: ModelPrice | null;
  /** Largest output the model may produce; the reservation bound for requests without max_tokens. */
  readonly maxOutputTokens: number;
  /**
   * Routing among the models sharing `name` in the organization (a route group, one per account):
   * the share of traffic within its priority (absent = 1; 0 = standby, tried after the others).
   */
  readonly weight?: number;
  /** Route group order: lower is tried first (absent = 0). */
  readonly priority?: number;
  /**
   * Input bounds of what the gateway cannot size from the body (see `input-attachments.ts`):
   * tokens one image may count (absent = the provider's default, `DEFAULT_IMAGE_INPUT_TOKENS`),
   * and tokens one unsizable part (file by id or URI, document, cached content, audio, video,
   * server-side tool) may count (absent or null = not set: such parts are refused under a hard limit).
   */
  readonly imageInputTokens?: number;
  readonly maxInputTokensPerAttachment?: number | null;
}

/** An upstream account. The credential is plaintext only in memory and on the authenticated channel. */
export interface ProviderAccountPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly name: string;
  readonly provider: ProviderKind;
  readonly baseUrl: string;
  readonly apiKey: string;
}

/** A budget at one scope. `limit` is pico-dollars (USD), tokens (TOKENS) or requests (REQUESTS). */
export interface BudgetPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly unit: BudgetUnit;
  readonly window: BudgetWindow;
  readonly limit: bigint;
  readonly mode: BudgetMode;
  readonly enforcement: BudgetEnforcement;
  /** Display name of the scope (`team "search"`) for error messages. */
  readonly scopeLabel: string;
}

/** A rate limit at one scope: at most `limit` requests or tokens per `windowSeconds`. */
export interface RateLimitPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly unit: "REQUESTS" | "TOKENS";
  readonly limit: number;
  readonly windowSeconds: number;
  readonly scopeLabel: string;
}

/** What a guardrail rule checks. */
export type GuardrailKind = "BLOCK_REGEX" | "BLOCK_KEYWORDS" | "MAX_INPUT_TOKENS";

/** One guardrail rule; which fields matter depends on `kind`. */
export interface GuardrailRule {
  readonly name: string;
  readonly kind: GuardrailKind;
  /** BLOCK_REGEX: a regular expression in RE2 syntax (run in linear time), with `flags`. */
  readonly pattern: string;
  readonly flags: string;
  /** BLOCK_KEYWORDS: case-insensitive whole words. */
  readonly keywords: readonly string[];
  /** MAX_INPUT_TOKENS: the largest allowed prompt token upper bound. */
  readonly limit: number;
}

/** The guardrail rules set at one scope (ORGANIZATION or VIRTUAL_KEY). */
export interface GuardrailsPolicy {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly rules: readonly GuardrailRule[];
  readonly scopeLabel: string;
}

/** A public key JWT-format virtual keys are verified with. `id` is the JWT `kid`. */
export interface SigningKeyPolicy {
  readonly id: string;
  readonly algorithm: "EdDSA";
  /** The public key as a JWK JSON string. */
  readonly publicJwk: string;
  /** Epoch ms after which tokens signed with it are refused; null = no end. */
  readonly notAfter: number | null;
}

/**
 * Everything a node needs to decide alone, at one policy version.
 * `hmacPepper` is the server secret keys are hashed with (hex); it travels only on the
 * authenticated channel, like provider credentials.
 */
export interface PolicySnapshot {
  readonly version: bigint;
  readonly hmacPepper: string;
  readonly organizations: readonly OrganizationPolicy[];
  readonly teams: readonly TeamPolicy[];
  readonly users: readonly UserPolicy[];
  readonly virtualKeys: readonly VirtualKeyPolicy[];
  readonly providerAccounts: readonly ProviderAccountPolicy[];
  readonly models: readonly ModelPolicy[];
  readonly budgets: readonly BudgetPolicy[];
  readonly rateLimits: readonly RateLimitPolicy[];
  readonly guardrails: readonly GuardrailsPolicy[];
  readonly signingKeys: readonly SigningKeyPolicy[];
}
