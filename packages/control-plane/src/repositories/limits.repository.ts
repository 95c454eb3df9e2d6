/** SQL of model access (the allow/deny columns of each scope's table), rate limits by natural key, and guardrails. */
import type { GuardrailKind, GuardrailRule, ModelAccess, Scope } from "@tollgate/policy";
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";
import type { RateLimitRecord } from "../records.js";

const ACCESS_TABLE: Readonly<Record<Scope, string>> = {
  ORGANIZATION: "organizations",
  TEAM: "teams",
  USER: "users",
  VIRTUAL_KEY: "virtual_keys",
};

/** Writes the allow/deny lists of a scope object; resolves false when the object does not exist. */
export async function writeModelAccess(q: Queryable, scope: Scope, scopeId: string, access: ModelAccess, nowMs: number): Promise<boolean> {
  const rows = await q.query<{ id: string }>(`UPDATE ${ACCESS_TABLE[scope]} SET allowed_models = $2::text[], denied_models = $3::text[], updated_at = $4 WHERE id = $1 RETURNING id`, [
    scopeId,
    [...access.allow],
    [...access.deny],
    isoOf(nowMs),
  ]);
  return rows.length > 0;
}

/** The allow/deny lists of a scope object, or null when it does not exist. */
export async function readModelAccess(q: Queryable, scope: Scope, scopeId: string): Promise<ModelAccess | null> {
  const rows = await q.query<{ allowed_models: string[] | null; denied_models: string[] | null }>(`SELECT allowed_models, denied_models FROM ${ACCESS_TABLE[scope]} WHERE id = $1`, [scopeId]);
  const r = rows[0];
  return r ? { allow: [...(r.allowed_models ?? [])], deny: [...(r.denied_models ?? [])] } : null;
}

interface RateRow {
  id: string;
  organization_id: string;
  scope: Scope;
  scope_id: string;
  unit: "REQUESTS" | "TOKENS";
  limit_amount: number;
  window_seconds: number;
  created_at: Date;
}
const RATE_COLUMNS = "id, organization_id, scope, scope_id, unit, limit_amount, window_seconds, created_at";
const toRate = (r: RateRow): RateLimitRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  scope: r.scope,
  scopeId: r.scope_id,
  unit: r.unit,
  limit: Number(r.limit_amount),
  windowSeconds: Number(r.window_seconds),
  createdAt: toMsOrNull(r.created_at) ?? 0,
});

/** Inserts or updates the rate limit of (scope, scopeId, unit, windowSeconds); keeps the id of an existing one. */
export async function upsertRateLimit(
  q: Queryable,
  r: { id: string; organizationId: string; scope: Scope; scopeId: string; unit: "REQUESTS" | "TOKENS"; limit: number; windowSeconds: number },
  nowMs: number,
): Promise<RateLimitRecord> {
  const rows = await q.query<RateRow>(
    `INSERT INTO rate_limits (id, organization_id, scope, scope_id, unit, limit_amount, window_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (scope, scope_id, unit, window_seconds) DO UPDATE SET limit_amount = EXCLUDED.limit_amount
     RETURNING ${RATE_COLUMNS}`,
    [r.id, r.organizationId, r.scope, r.scopeId, r.unit, r.limit, r.windowSeconds, isoOf(nowMs)],
  );
  return toRate(rows[0] as RateRow);
}

/** One rate limit, or null. */
export async function findRateLimit(q: Queryable, id: string): Promise<RateLimitRecord | null> {
  const rows = await q.query<RateRow>(`SELECT ${RATE_COLUMNS} FROM rate_limits WHERE id = $1`, [id]);
  return rows[0] ? toRate(rows[0]) : null;
}

/** Deletes one rate limit. */
export async function deleteRateLimit(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM rate_limits WHERE id = $1", [id]);
}

/** A scope's guardrails as stored. */
export interface GuardrailsRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly scope: Scope;
  readonly scopeId: string;
  readonly rules: readonly GuardrailRule[];
  readonly updatedAt: number;
}

interface GuardrailsRow {
  id: string;
  organization_id: string;
  scope: Scope;
  scope_id: string;
  rules: unknown;
  updated_at: Date;
}

function toRules(v: unknown): GuardrailRule[] {
  const list = typeof v === "string" ? (JSON.parse(v) as unknown) : v;
  if (!Array.isArray(list)) return [];
  return list.map((raw) => {
    const r = raw as { name?: unknown; kind?: unknown; pattern?: unknown; flags?: unknown; keywords?: unknown; limit?: unknown };
    return {
      name: String(r.name ?? ""),
      kind: String(r.kind ?? "BLOCK_REGEX") as GuardrailKind,
      pattern: typeof r.pattern === "string" ? r.pattern : "",
      flags: typeof r.flags === "string" ? r.flags : "",
      keywords: Array.isArray(r.keywords) ? r.keywords.map(String) : [],
      limit: typeof r.limit === "number" ? r.limit : 0,
    };
  });
}

const toGuardrails = (r: GuardrailsRow): GuardrailsRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  scope: r.scope,
  scopeId: r.scope_id,
  rules: toRules(r.rules),
  updatedAt: toMsOrNull(r.updated_at) ?? 0,
});
const GUARDRAIL_COLUMNS = "id, organization_id, scope, scope_id, rules, updated_at";

/** Replaces the guardrails of a scope object (no rules: the row is deleted); resolves to the stored set. */
export async function replaceGuardrails(
  q: Queryable,
  g: { id: string; organizationId: string; scope: Scope; scopeId: string; rules: readonly GuardrailRule[] },
  nowMs: number,
): Promise<GuardrailsRecord | null> {
  if (g.rules.length === 0) {
    await q.query("DELETE FROM guardrails WHERE scope = $1 AND scope_id = $2", [g.scope, g.scopeId]);
    return null;
  }
  const rows = await q.query<GuardrailsRow>(
    `INSERT INTO guardrails (id, organization_id, scope, scope_id, rules, created_at, updated_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6)
     ON CONFLICT (scope, scope_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = EXCLUDED.updated_at
     RETURNING ${GUARDRAIL_COLUMNS}`,
    [g.id, g.organizationId, g.scope, g.scopeId, JSON.stringify(g.rules), isoOf(nowMs)],
  );
  return toGuardrails(rows[0] as GuardrailsRow);
}

/** The guardrails of one scope object, or null. */
export async function findGuardrails(q: Queryable, scope: Scope, scopeId: string): Promise<GuardrailsRecord | null> {
  const rows = await q.query<GuardrailsRow>(`SELECT ${GUARDRAIL_COLUMNS} FROM guardrails WHERE scope = $1 AND scope_id = $2`, [scope, scopeId]);
  return rows[0] ? toGuardrails(rows[0]) : null;
}

/** Every guardrails row (snapshot). */
export async function listAllGuardrails(q: Queryable): Promise<GuardrailsRecord[]> {
  const rows = await q.query<GuardrailsRow>(`SELECT ${GUARDRAIL_COLUMNS} FROM guardrails ORDER BY id`);
  return rows.map(toGuardrails);
}
