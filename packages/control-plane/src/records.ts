/**
 * Rows of the control plane's tables as services see them (ids, bigint money, epoch-ms times).
 */
import type { BudgetEnforcement, BudgetMode, BudgetUnit, BudgetWindow, KeyKind, KeyStatus, ProviderKind, Scope } from "@tollgate/policy";

/** An organization. */
export interface OrganizationRecord {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A team of an organization. */
export interface TeamRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly slug: string;
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A user's role in their organization. */
export type UserRole = "ADMIN" | "MEMBER";

/** A user of an organization. */
export interface UserRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly email: string;
  readonly name: string;
  readonly role: UserRole;
  readonly active: boolean;
  readonly teamIds: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A provider account without its credential (the credential is write-only). */
export interface ProviderAccountRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly name: string;
  readonly provider: ProviderKind;
  readonly baseUrl: string;
  readonly apiKeyHint: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A model; prices in micro-dollars per million tokens, null = unpriced. */
export interface ModelRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly providerAccountId: string;
  readonly name: string;
  readonly upstreamModel: string;
  readonly inputPricePerMillion: bigint | null;
  readonly outputPricePerMillion: bigint | null;
  readonly cachedInputPricePerMillion: bigint | null;
  /** Cache-write price as set; null = the provider's default (see `cacheWritePricesOf`). */
  readonly cacheWriteInputPricePerMillion: bigint | null;
  /** Audio token prices; null = the model serves no audio. */
  readonly audioInputPricePerMillion: bigint | null;
  readonly audioOutputPricePerMillion: bigint | null;
  readonly maxOutputTokens: number;
  /** Route-group share within its priority (0 = standby). */
  readonly weight: number;
  /** Route-group order: lower is tried first. */
  readonly priority: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Tokens one image may count; null = the provider's default (policy `DEFAULT_IMAGE_INPUT_TOKENS`). */
  readonly imageInputTokens: number | null;
  /** Tokens one part the gateway cannot size may count; null = not set (refused under hard limits). */
  readonly maxInputTokensPerAttachment: number | null;
}

/** How a key's secret is made. */
export type KeyFormat = "OPAQUE" | "JWT";

/** A virtual key (its secrets are stored apart, as HMACs). */
export interface VirtualKeyRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly name: string;
  readonly kind: KeyKind;
  readonly teamId: string | null;
  readonly userId: string | null;
  readonly status: Exclude<KeyStatus, "EXPIRED">;
  readonly format: KeyFormat;
  readonly prefix: string;
  readonly last4: string;
  readonly allowedModels: readonly string[];
  readonly deniedModels: readonly string[];
  readonly maxCostPerRequest: bigint | null;
  readonly expiresAt: number | null;
  readonly metadata: Record<string, unknown>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A budget; `limit` in the unit (micro-dollars, tokens or requests). */
export interface BudgetRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly unit: BudgetUnit;
  readonly window: BudgetWindow;
  readonly limit: bigint;
  readonly mode: BudgetMode;
  readonly enforcement: BudgetEnforcement;
  readonly alertThresholds: readonly number[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A rate limit. */
export interface RateLimitRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly unit: "REQUESTS" | "TOKENS";
  readonly limit: number;
  readonly windowSeconds: number;
  readonly createdAt: number;
}

/** One audit row. */
export interface AuditRecord {
  readonly id: string;
  readonly organizationId: string | null;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  /** State before the change, secrets redacted; null when not recorded. */
  readonly before: Record<string, unknown> | null;
  /** State after the change, secrets redacted; null when not recorded. */
  readonly after: Record<string, unknown> | null;
  readonly createdAt: number;
}

/** A data-plane node as last seen. */
export interface NodeRecord {
  readonly id: string;
  readonly bootId: string;
  readonly connected: boolean;
  readonly policyVersion: bigint;
  readonly appliedAt: number | null;
  readonly lastSeenAt: number;
  readonly address: string;
}
