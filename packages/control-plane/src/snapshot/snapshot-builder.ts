/**
 * Builds the policy snapshot nodes decide from, in one consistent read of the tables:
 * secrets as HMACs (expired ones omitted), provider credentials decrypted (they travel only on
 * the authenticated channel), budgets and rate limits labelled with their scope's name.
 */
import {
  cacheWritePricesOf,
  formatScopeLabel,
  picosOfMicros,
  type BudgetPolicy,
  type CacheWritePrices,
  type GuardrailsPolicy,
  type PolicySnapshot,
  type RateLimitPolicy,
  type Scope,
  type SigningKeyPolicy,
} from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { listAllBudgets, listAllRateLimits } from "../repositories/budget.repository.js";
import { listAllGuardrails } from "../repositories/limits.repository.js";
import { listModels, listSealedProviderAccounts } from "../repositories/provider.repository.js";
import { getPolicyRevision, getSetting } from "../repositories/settings.repository.js";
import { listPublishedSigningKeys } from "../repositories/signing-key.repository.js";
import { beginSnapshotRead, listOrganizationPolicies, listTeamPolicies, listUserPolicies } from "../repositories/snapshot.repository.js";
import { listAllVirtualKeys, listLiveKeySecrets } from "../repositories/virtual-key.repository.js";
import { SETTING_HMAC_PEPPER } from "../security/bootstrap.service.js";
import { openSecret, providerKeyAssociatedData } from "../security/crypto.js";

/** What the builder needs besides the database. */
export interface SnapshotKeys {
  readonly masterKey: Buffer;
  readonly nowMs: number;
}

/** The cache-write prices that are set (a null price is left out: the policy model reads it as the input price). */
function setPricesOf(p: CacheWritePrices): Partial<CacheWritePrices> {
  return {
    ...(p.cacheWriteInputPerMillion === null ? {} : { cacheWriteInputPerMillion: p.cacheWriteInputPerMillion }),
    ...(p.cacheWrite1hInputPerMillion === null ? {} : { cacheWrite1hInputPerMillion: p.cacheWrite1hInputPerMillion }),
  };
}

/** Reads every table and assembles the snapshot at the current policy revision. */
export async function buildSnapshot(db: Database, keys: SnapshotKeys): Promise<PolicySnapshot> {
  return db.transaction(async (tx) => {
    await beginSnapshotRead(tx);
    const version = await getPolicyRevision(tx);
    const hmacPepper = (await getSetting(tx, SETTING_HMAC_PEPPER)) ?? "";
    const organizations = await listOrganizationPolicies(tx);
    const teams = await listTeamPolicies(tx);
    const users = await listUserPolicies(tx);
    const keyRows = await listAllVirtualKeys(tx);
    const secrets = await listLiveKeySecrets(tx, keys.nowMs);
    const accounts = await listSealedProviderAccounts(tx);
    const providerOf = new Map(accounts.map((a) => [a.id, a.provider] as const));
    const models = await listModels(tx, null);
    const budgets = await listAllBudgets(tx);
    const rateLimits = await listAllRateLimits(tx);
    const guardrails = await listAllGuardrails(tx);
    const signingKeys = await listPublishedSigningKeys(tx, keys.nowMs);

    const names = new Map<string, string>();
    for (const o of organizations) names.set(`ORGANIZATION/${o.id}`, o.slug);
    for (const t of teams) names.set(`TEAM/${t.id}`, t.slug);
    for (const u of users) names.set(`USER/${u.id}`, u.email);
    for (const k of keyRows) names.set(`VIRTUAL_KEY/${k.id}`, k.name);
    const labelOf = (scope: Scope, id: string): string => formatScopeLabel(scope, names.get(`${scope}/${id}`) ?? id);

    return {
      version,
      hmacPepper,
      organizations,
      teams,
      users,
      virtualKeys: keyRows.map((k) => ({
        id: k.id,
        organizationId: k.organizationId,
        name: k.name,
        kind: k.kind,
        teamId: k.teamId,
        userId: k.userId,
        status: k.status,
        secrets: secrets.get(k.id) ?? [],
        access: { allow: [...k.allowedModels], deny: [...k.deniedModels] },
        maxCostPerRequest: k.maxCostPerRequest === null ? null : picosOfMicros(k.maxCostPerRequest),
        expiresAt: k.expiresAt,
      })),
      providerAccounts: accounts.map((a) => ({
        id: a.id,
        organizationId: a.organizationId,
        name: a.name,
        provider: a.provider,
        baseUrl: a.baseUrl,
        apiKey: openSecret(keys.masterKey, a.sealed, providerKeyAssociatedData(a.organizationId, a.id)),
      })),
      models: models.map((m) => ({
        id: m.id,
        organizationId: m.organizationId,
        providerAccountId: m.providerAccountId,
        name: m.name,
        upstreamModel: m.upstreamModel,
        price:
          m.inputPricePerMillion === null || m.outputPricePerMillion === null
            ? null
            : {
                inputPerMillion: m.inputPricePerMillion,
                outputPerMillion: m.outputPricePerMillion,
                cachedInputPerMillion: m.cachedInputPricePerMillion,
                ...setPricesOf(cacheWritePricesOf(providerOf.get(m.providerAccountId) ?? "OPENAI_COMPATIBLE", m.inputPricePerMillion, m.cacheWriteInputPricePerMillion)),
                ...(m.audioInputPricePerMillion === null || m.audioOutputPricePerMillion === null
                  ? {}
                  : { audioInputPerMillion: m.audioInputPricePerMillion, audioOutputPerMillion: m.audioOutputPricePerMillion }),
              },
        maxOutputTokens: m.maxOutputTokens,
        weight: m.weight,
        priority: m.priority,
        ...(m.imageInputTokens === null ? {} : { imageInputTokens: m.imageInputTokens }),
        ...(m.maxInputTokensPerAttachment === null ? {} : { maxInputTokensPerAttachment: m.maxInputTokensPerAttachment }),
      })),
      budgets: budgets.map(
        (b): BudgetPolicy => ({
          id: b.id,
          organizationId: b.organizationId,
          scope: b.scope,
          scopeId: b.scopeId,
          unit: b.unit,
          window: b.window,
          limit: b.limit,
          mode: b.mode,
          enforcement: b.enforcement,
          scopeLabel: labelOf(b.scope, b.scopeId),
        }),
      ),
      rateLimits: rateLimits.map(
        (r): RateLimitPolicy => ({
          id: r.id,
          organizationId: r.organizationId,
          scope: r.scope,
          scopeId: r.scopeId,
          unit: r.unit,
          limit: r.limit,
          windowSeconds: r.windowSeconds,
          scopeLabel: labelOf(r.scope, r.scopeId),
        }),
      ),
      guardrails: guardrails.map(
        (g): GuardrailsPolicy => ({
          id: g.id,
          organizationId: g.organizationId,
          scope: g.scope,
          scopeId: g.scopeId,
          rules: g.rules,
          scopeLabel: labelOf(g.scope, g.scopeId),
        }),
      ),
      // Public keys only: the private JWK never leaves the signing_keys table in clear.
      signingKeys: signingKeys.map((k): SigningKeyPolicy => ({ id: k.id, algorithm: k.algorithm, publicJwk: k.publicJwk, notAfter: k.notAfter })),
    };
  });
}
