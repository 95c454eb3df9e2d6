/**
 * Test fixtures for the policy package's tests (not exported from the package): one organization
 * "acme" with a team, two users, an account, models and keys, plus builders for budgets and limits.
 */
import type { DecideInput, RequestShape } from "./decision.js";
import type { BudgetEnforcement, BudgetMode, BudgetPolicy, BudgetUnit, BudgetWindow, ModelAccess, ModelPolicy, PolicySnapshot, RateLimitPolicy, Scope, VirtualKeyPolicy } from "./model.js";

/** Every list open. */
export const OPEN: ModelAccess = { allow: [], deny: [] };

/** HMACs of the fixture keys' secrets. */
export const HMAC = { ci: "aa01", personal: "bb02", old: "cc03" } as const;

/** A service key of team "search". */
export const CI_KEY: VirtualKeyPolicy = {
  id: "vk_ci",
  organizationId: "org_acme",
  name: "ci",
  kind: "SERVICE",
  teamId: "team_search",
  userId: null,
  status: "ACTIVE",
  secrets: [
    { hmac: HMAC.ci, validUntil: null },
    { hmac: HMAC.old, validUntil: 1_000_000 },
  ],
  access: OPEN,
  maxCostPerRequest: null,
  expiresAt: null,
};

/** A personal key of alice (teams search and infra). */
export const PERSONAL_KEY: VirtualKeyPolicy = {
  ...CI_KEY,
  id: "vk_alice",
  name: "alice-laptop",
  kind: "PERSONAL",
  teamId: null,
  userId: "usr_alice",
  secrets: [{ hmac: HMAC.personal, validUntil: null }],
};

/** gpt-4o-mini: $0.15 in, $0.60 out, $0.075 cached per million tokens; max output 1000. */
export const MINI: ModelPolicy = {
  id: "mdl_mini",
  organizationId: "org_acme",
  providerAccountId: "pa_openai",
  name: "gpt-4o-mini",
  upstreamModel: "gpt-4o-mini-2024-07-18",
  price: { inputPerMillion: 150_000n, outputPerMillion: 600_000n, cachedInputPerMillion: 75_000n },
  maxOutputTokens: 1000,
};

/** The fixture snapshot; override any list with `patch`. */
export function makeSnapshot(patch: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return {
    version: 7n,
    hmacPepper: "00",
    organizations: [{ id: "org_acme", slug: "acme", name: "Acme", access: OPEN, fallbackPrice: null }],
    teams: [
      { id: "team_search", organizationId: "org_acme", slug: "search", name: "Search", access: OPEN },
      { id: "team_infra", organizationId: "org_acme", slug: "infra", name: "Infra", access: OPEN },
    ],
    users: [{ id: "usr_alice", organizationId: "org_acme", email: "alice@acme.test", active: true, teamIds: ["team_search", "team_infra"], access: OPEN }],
    virtualKeys: [CI_KEY, PERSONAL_KEY],
    providerAccounts: [{ id: "pa_openai", organizationId: "org_acme", name: "openai-main", provider: "OPENAI", baseUrl: "https://api.openai.com/v1", apiKey: "sk-test" }],
    models: [
      MINI,
      { ...MINI, id: "mdl_big", name: "gpt-4o", upstreamModel: "gpt-4o", price: { inputPerMillion: 2_500_000n, outputPerMillion: 10_000_000n, cachedInputPerMillion: null }, maxOutputTokens: 4000 },
      { ...MINI, id: "mdl_free", name: "unpriced", upstreamModel: "unpriced", price: null },
      { ...MINI, id: "mdl_emb", name: "embed", upstreamModel: "text-embedding-3-small", price: { inputPerMillion: 20_000n, outputPerMillion: 0n, cachedInputPerMillion: null }, maxOutputTokens: 0 },
    ],
    budgets: [],
    rateLimits: [],
    guardrails: [],
    signingKeys: [],
    ...patch,
  };
}

const LABELS: Record<string, string> = {
  org_acme: 'organization "acme"',
  team_search: 'team "search"',
  team_infra: 'team "infra"',
  usr_alice: 'user "alice@acme.test"',
  vk_ci: 'virtual key "ci"',
  vk_alice: 'virtual key "alice-laptop"',
};

/** A budget builder with sensible defaults (HARD, CAP_OUTPUT, MONTH, USD). */
export function budget(
  id: string,
  scope: Scope,
  scopeId: string,
  limit: bigint,
  opts: { unit?: BudgetUnit; window?: BudgetWindow; mode?: BudgetMode; enforcement?: BudgetEnforcement } = {},
): BudgetPolicy {
  return {
    id,
    organizationId: "org_acme",
    scope,
    scopeId,
    unit: opts.unit ?? "USD",
    window: opts.window ?? "MONTH",
    limit,
    mode: opts.mode ?? "HARD",
    enforcement: opts.enforcement ?? "CAP_OUTPUT",
    scopeLabel: LABELS[scopeId] ?? scopeId,
  };
}

/** A rate-limit builder. */
export function rateLimit(id: string, scope: Scope, scopeId: string, unit: "REQUESTS" | "TOKENS", limit: number, windowSeconds: number): RateLimitPolicy {
  return { id, organizationId: "org_acme", scope, scopeId, unit, limit, windowSeconds, scopeLabel: LABELS[scopeId] ?? scopeId };
}

/** 2024-03-15T12:00:00Z, a Friday. */
export const T0 = Date.UTC(2024, 2, 15, 12);

/** Overrides of a decision input; `request` is merged field by field. */
export type InputPatch = Omit<Partial<DecideInput>, "request"> & { request?: Partial<RequestShape> };

/** A chat request for gpt-4o-mini by the CI key (1000 input tokens, no max); override any field. */
export function makeInput(patch: InputPatch = {}): DecideInput {
  const { request, ...rest } = patch;
  return {
    keyHmac: HMAC.ci,
    now: T0,
    dryRun: false,
    allowPartial: false,
    grantsUnavailable: false,
    ...rest,
    request: { model: "gpt-4o-mini", inputTokensUpperBound: 1000, requestedMaxOutputTokens: null, operation: "chat", ...request },
  };
}
