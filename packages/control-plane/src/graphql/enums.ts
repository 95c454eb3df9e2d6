/** GraphQL enums, registered with type-graphql when this module loads. Values equal the policy model's string unions. */
import { registerEnumType } from "type-graphql";

/** Provider protocol kinds. */
export const ProviderKindEnum = { OPENAI: "OPENAI", ANTHROPIC: "ANTHROPIC", GOOGLE: "GOOGLE", AZURE_OPENAI: "AZURE_OPENAI", OPENAI_COMPATIBLE: "OPENAI_COMPATIBLE" } as const;
/** Where a budget or rate limit is attached. */
export const ScopeEnum = { ORGANIZATION: "ORGANIZATION", TEAM: "TEAM", USER: "USER", VIRTUAL_KEY: "VIRTUAL_KEY" } as const;
/** What a budget counts. */
export const BudgetUnitEnum = { USD: "USD", TOKENS: "TOKENS", REQUESTS: "REQUESTS" } as const;
/** Budget windows (UTC calendar, or TOTAL). */
export const BudgetWindowEnum = { DAY: "DAY", WEEK: "WEEK", MONTH: "MONTH", TOTAL: "TOTAL" } as const;
/** HARD refuses when spent; SOFT only alerts. */
export const BudgetModeEnum = { HARD: "HARD", SOFT: "SOFT" } as const;
/** How a hard budget meets a request of unknown cost. */
export const BudgetEnforcementEnum = { CAP_OUTPUT: "CAP_OUTPUT", STRICT: "STRICT", ESTIMATE: "ESTIMATE" } as const;
/** What a rate limit counts. */
export const RateLimitUnitEnum = { REQUESTS: "REQUESTS", TOKENS: "TOKENS" } as const;
/** Key kinds. */
export const VirtualKeyKindEnum = { PERSONAL: "PERSONAL", SERVICE: "SERVICE" } as const;
/** Key states (EXPIRED is derived from expiresAt). */
export const VirtualKeyStatusEnum = { ACTIVE: "ACTIVE", PAUSED: "PAUSED", REVOKED: "REVOKED", EXPIRED: "EXPIRED" } as const;
/** Secret formats. */
export const VirtualKeyFormatEnum = { OPAQUE: "OPAQUE", JWT: "JWT" } as const;
/** User roles in their organization. */
export const UserRoleEnum = { ADMIN: "ADMIN", MEMBER: "MEMBER" } as const;
/** Usage grouping dimensions. */
export const UsageGroupByEnum = { VIRTUAL_KEY: "VIRTUAL_KEY", USER: "USER", TEAM: "TEAM", MODEL: "MODEL", PROVIDER_ACCOUNT: "PROVIDER_ACCOUNT", DAY: "DAY", HOUR: "HOUR" } as const;
/** Kinds of callers. */
export const ActorKindEnum = { PLATFORM_ADMIN: "PLATFORM_ADMIN", USER: "USER" } as const;

// type-graphql keeps decorator metadata globally: enums are registered once, when this module loads.
registerEnumType(ProviderKindEnum, { name: "ProviderKind", description: "The protocol an upstream provider account speaks." });
registerEnumType(ScopeEnum, { name: "Scope", description: "Where a budget, rate limit or model-access rule is attached." });
registerEnumType(BudgetUnitEnum, { name: "BudgetUnit", description: "What a budget counts." });
registerEnumType(BudgetWindowEnum, { name: "BudgetWindow", description: "Calendar windows reset at 00:00 UTC (day), Monday (week), the 1st (month); TOTAL never resets." });
registerEnumType(BudgetModeEnum, { name: "BudgetMode", description: "HARD refuses when exhausted; SOFT only alerts." });
registerEnumType(BudgetEnforcementEnum, { name: "BudgetEnforcement", description: "How a hard budget meets a request whose cost is not known in advance." });
registerEnumType(RateLimitUnitEnum, { name: "RateLimitUnit", description: "What a rate limit counts." });
registerEnumType(VirtualKeyKindEnum, { name: "VirtualKeyKind", description: "PERSONAL keys belong to a user; SERVICE keys to a team or the organization." });
registerEnumType(VirtualKeyStatusEnum, { name: "VirtualKeyStatus", description: "A key's state; EXPIRED is derived from expiresAt." });
registerEnumType(VirtualKeyFormatEnum, {
  name: "VirtualKeyFormat",
  description: "How a key's secret is made: OPAQUE (tg_live_ + random + checksum) or JWT (EdDSA-signed by the control plane, verified on the node).",
});
registerEnumType(UserRoleEnum, { name: "UserRole", description: "A user's role in their organization." });
registerEnumType(UsageGroupByEnum, { name: "UsageGroupBy", description: "Usage grouping dimensions (DAY and HOUR in UTC)." });
registerEnumType(ActorKindEnum, { name: "ActorKind", description: "Who is calling." });
