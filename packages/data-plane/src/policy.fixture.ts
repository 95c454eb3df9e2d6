/**
 * Test fixtures (used only by `*.test.ts`): a hand-built policy snapshot with keys in every
 * state, and a grant source that behaves like the control plane's grant sizing.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { generateOpaqueSecret, windowEndOf, type BudgetLedger, type BudgetPolicy, type GrantShortfall, type ModelAccess, type PolicySnapshot, type VirtualKeyPolicy } from "@tollgate/policy";
import { PolicyUpdateSchema, encodeSnapshotResources, type PolicyUpdate } from "@tollgate/proto";
import type { GrantSource } from "./grant-manager.js";
import { hashSecret } from "./key-auth.js";
import type { PolicyStore } from "./policy-store.js";

/** The provider credential of the fixture's account (must never reach a client or the disk in clear). */
export const PROVIDER_API_KEY = "sk-fixture-provider-credential-0123456789";

/** The fixture's key names. */
export type FixtureKeyName = "active" | "paused" | "revoked" | "denyGpt4o" | "requestBudget" | "usdBudget" | "rateLimited";

/** A snapshot plus the plaintext secrets of its keys. */
export interface PolicyFixture {
  readonly snapshot: PolicySnapshot;
  readonly secrets: Readonly<Record<FixtureKeyName, string>>;
  readonly keyIds: Readonly<Record<FixtureKeyName, string>>;
}

const NO_ACCESS: ModelAccess = { allow: [], deny: [] };

/** Builds the fixture snapshot whose provider account points at `baseUrl` (e.g. a mock provider's `/v1`). */
export function buildPolicyFixture(baseUrl: string, version = 1n): PolicyFixture {
  const pepper = randomBytes(32).toString("hex");
  const pepperKey = Buffer.from(pepper, "hex");
  const names: FixtureKeyName[] = ["active", "paused", "revoked", "denyGpt4o", "requestBudget", "usdBudget", "rateLimited"];
  const secrets = {} as Record<FixtureKeyName, string>;
  const keyIds = {} as Record<FixtureKeyName, string>;
  const keys: VirtualKeyPolicy[] = names.map((name) => {
    const secret = generateOpaqueSecret(randomBytes(32));
    secrets[name] = secret;
    keyIds[name] = `vk_${name}`;
    return {
      id: `vk_${name}`,
      organizationId: "org_1",
      name,
      kind: "SERVICE",
      teamId: "team_1",
      userId: null,
      status: name === "paused" ? "PAUSED" : name === "revoked" ? "REVOKED" : "ACTIVE",
      secrets: [{ hmac: hashSecret(secret, pepperKey), validUntil: null }],
      access: name === "denyGpt4o" ? { allow: [], deny: ["gpt-4o"] } : NO_ACCESS,
      maxCostPerRequest: null,
      expiresAt: null,
    };
  });
  const budget = (id: string, keyId: string, unit: BudgetPolicy["unit"], limit: bigint): BudgetPolicy => ({
    id,
    organizationId: "org_1",
    scope: "VIRTUAL_KEY",
    scopeId: keyId,
    unit,
    window: "DAY",
    limit,
    mode: "HARD",
    enforcement: "CAP_OUTPUT",
    scopeLabel: `virtual key "${keyId}"`,
  });
  const price = { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n, cachedInputPerMillion: null };
  const embedPrice = { inputPerMillion: 1_000_000n, outputPerMillion: 0n, cachedInputPerMillion: null };
  const snapshot: PolicySnapshot = {
    version,
    hmacPepper: pepper,
    organizations: [{ id: "org_1", slug: "acme", name: "Acme", access: NO_ACCESS, fallbackPrice: null }],
    teams: [{ id: "team_1", organizationId: "org_1", slug: "search", name: "Search", access: NO_ACCESS }],
    users: [],
    virtualKeys: keys,
    providerAccounts: [
      { id: "pa_1", organizationId: "org_1", name: "openai-main", provider: "OPENAI", baseUrl, apiKey: PROVIDER_API_KEY },
      { id: "pa_2", organizationId: "org_1", name: "anthropic-main", provider: "ANTHROPIC", baseUrl, apiKey: PROVIDER_API_KEY },
    ],
    models: [
      { id: "mdl_mini", organizationId: "org_1", providerAccountId: "pa_1", name: "gpt-4o-mini", upstreamModel: "gpt-4o-mini-2024-07-18", price, maxOutputTokens: 4096 },
      { id: "mdl_4o", organizationId: "org_1", providerAccountId: "pa_1", name: "gpt-4o", upstreamModel: "gpt-4o-2024-08-06", price, maxOutputTokens: 4096 },
      { id: "mdl_free", organizationId: "org_1", providerAccountId: "pa_1", name: "unpriced", upstreamModel: "unpriced-1", price: null, maxOutputTokens: 4096 },
      { id: "mdl_emb", organizationId: "org_1", providerAccountId: "pa_1", name: "embed-small", upstreamModel: "text-embedding-3-small", price: embedPrice, maxOutputTokens: 0 },
      { id: "mdl_claude", organizationId: "org_1", providerAccountId: "pa_2", name: "claude-haiku", upstreamModel: "claude-3-5-haiku-latest", price, maxOutputTokens: 4096 },
    ],
    budgets: [budget("bgt_requests", "vk_requestBudget", "REQUESTS", 2n), budget("bgt_usd", "vk_usdBudget", "USD", 600_000_000n)],
    rateLimits: [
      { id: "rl_requests", organizationId: "org_1", scope: "VIRTUAL_KEY", scopeId: "vk_rateLimited", unit: "REQUESTS", limit: 2, windowSeconds: 3600, scopeLabel: 'virtual key "rateLimited"' },
    ],
    guardrails: [],
    signingKeys: [],
  };
  return { snapshot, secrets, keyIds };
}

/** The fixture as the full PolicyUpdate a control plane would send. */
export function toFullUpdate(snapshot: PolicySnapshot, nonce = "n1"): PolicyUpdate {
  return create(PolicyUpdateSchema, { version: snapshot.version, nonce, full: true, upserts: encodeSnapshotResources(snapshot), hmacPepper: snapshot.hmacPepper, connectedNodes: 1 });
}

/**
 * A grant source that sizes grants like the control plane: per (budget, window) it gives `needed`
 * when free allows plus min(want - needed, (free - needed) / 2), never more than the limit.
 */
export function createFixtureGrantSource(ledger: BudgetLedger, store: PolicyStore, now: () => number): GrantSource & { calls: number } {
  const granted = new Map<string, bigint>();
  const source = {
    calls: 0,
    reachable: () => true,
    acquire: async (shortfalls: readonly GrantShortfall[]) => {
      source.calls += 1;
      const plans = ledger.planShortfalls(shortfalls, now());
      for (const p of plans) {
        const budget = store.current()?.index.budget(p.budgetId);
        if (!budget) continue;
        const key = `${p.budgetId}@${p.windowStart}`;
        const total = granted.get(key) ?? 0n;
        const free = budget.limit - total;
        const give = p.needed >= free ? free : p.needed + minBig(p.want - p.needed, (free - p.needed) / 2n);
        granted.set(key, total + give);
        ledger.applyGrant(p.budgetId, p.windowStart, total + give, now() + 300_000, free < p.want, windowEndOf(budget.window, p.windowStart));
      }
      return true;
    },
  };
  return source;
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
