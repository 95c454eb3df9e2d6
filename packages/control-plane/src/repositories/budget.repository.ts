/** SQL of `budgets`, `rate_limits` and the budget ledger reads (`budget_usage`). */
import type { BudgetEnforcement, BudgetMode, BudgetUnit, BudgetWindow, Scope } from "@tollgate/policy";
import { isoOf, toBigInt, toMsOrNull, type Queryable } from "../db/database.js";
import type { BudgetRecord, RateLimitRecord } from "../records.js";

interface BudgetRow {
  id: string;
  organization_id: string;
  scope: Scope;
  scope_id: string;
  unit: BudgetUnit;
  budget_window: BudgetWindow;
  limit_amount: string;
  mode: BudgetMode;
  enforcement: BudgetEnforcement;
  alert_thresholds: number[] | null;
  created_at: Date;
  updated_at: Date;
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

const BUDGET_COLUMNS = "id, organization_id, scope, scope_id, unit, budget_window, limit_amount, mode, enforcement, alert_thresholds, created_at, updated_at";
const toBudget = (r: BudgetRow): BudgetRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  scope: r.scope,
  scopeId: r.scope_id,
  unit: r.unit,
  window: r.budget_window,
  limit: toBigInt(r.limit_amount),
  mode: r.mode,
  enforcement: r.enforcement,
  alertThresholds: (r.alert_thresholds ?? []).map(Number),
  createdAt: toMsOrNull(r.created_at) ?? 0,
  updatedAt: toMsOrNull(r.updated_at) ?? 0,
});
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

/** Fields written for a budget. */
export interface BudgetWrite {
  id: string;
  organizationId: string;
  scope: Scope;
  scopeId: string;
  unit: BudgetUnit;
  window: BudgetWindow;
  limit: bigint;
  mode: BudgetMode;
  enforcement: BudgetEnforcement;
  alertThresholds: readonly number[];
}

/** Inserts or updates the budget of (scope, scopeId, unit, window); keeps the id of an existing one. */
export async function upsertBudget(q: Queryable, b: BudgetWrite, nowMs: number): Promise<BudgetRecord> {
  const rows = await q.query<BudgetRow>(
    `INSERT INTO budgets (id, organization_id, scope, scope_id, unit, budget_window, limit_amount, mode, enforcement, alert_thresholds, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::integer[], $11, $11)
     ON CONFLICT (scope, scope_id, unit, budget_window) DO UPDATE SET limit_amount = EXCLUDED.limit_amount, mode = EXCLUDED.mode,
       enforcement = EXCLUDED.enforcement, alert_thresholds = EXCLUDED.alert_thresholds, updated_at = EXCLUDED.updated_at
     RETURNING ${BUDGET_COLUMNS}`,
    [b.id, b.organizationId, b.scope, b.scopeId, b.unit, b.window, b.limit.toString(), b.mode, b.enforcement, [...b.alertThresholds], isoOf(nowMs)],
  );
  return toBudget(rows[0] as BudgetRow);
}

/** One budget, or null; `forUpdate` locks the row (grants serialize on it). */
export async function findBudget(q: Queryable, id: string, forUpdate = false): Promise<BudgetRecord | null> {
  const rows = await q.query<BudgetRow>(`SELECT ${BUDGET_COLUMNS} FROM budgets WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return rows[0] ? toBudget(rows[0]) : null;
}

/** Budgets attached to one scope object. */
export async function listBudgetsOf(q: Queryable, scope: Scope, scopeId: string): Promise<BudgetRecord[]> {
  const rows = await q.query<BudgetRow>(`SELECT ${BUDGET_COLUMNS} FROM budgets WHERE scope = $1 AND scope_id = $2 ORDER BY unit, budget_window, id`, [scope, scopeId]);
  return rows.map(toBudget);
}

/** Every budget (snapshot). */
export async function listAllBudgets(q: Queryable): Promise<BudgetRecord[]> {
  const rows = await q.query<BudgetRow>(`SELECT ${BUDGET_COLUMNS} FROM budgets ORDER BY id`);
  return rows.map(toBudget);
}

/** Deletes a budget with its grants (its ledger rows stay for history). */
export async function deleteBudget(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM budget_grants WHERE budget_id = $1", [id]);
  await q.query("DELETE FROM budgets WHERE id = $1", [id]);
}

/** What a budget has used in one window (0 when nothing was recorded). */
export async function getBudgetUsed(q: Queryable, budgetId: string, windowStartMs: number): Promise<bigint> {
  const rows = await q.query<{ used: string }>("SELECT used FROM budget_usage WHERE budget_id = $1 AND window_start_ms = $2", [budgetId, windowStartMs]);
  return toBigInt(rows[0]?.used);
}

const RATE_COLUMNS = "id, organization_id, scope, scope_id, unit, limit_amount, window_seconds, created_at";

/** Fields written for a rate limit. */
export interface RateLimitWrite {
  id: string;
  organizationId: string;
  scope: Scope;
  scopeId: string;
  unit: "REQUESTS" | "TOKENS";
  limit: number;
  windowSeconds: number;
}

/**
 * Replaces the rate limits of one scope object. A limit with the unit and window of an existing
 * one keeps that row's id (only its amount changes), so its current window's pooled allocation
 * (`rate_limit_windows`) and the nodes' counters carry over; the others are inserted or deleted.
 */
export async function replaceRateLimits(q: Queryable, scope: Scope, scopeId: string, limits: readonly RateLimitWrite[], nowMs: number): Promise<void> {
  const existing = await q.query<{ id: string; unit: string; window_seconds: number }>("SELECT id, unit, window_seconds FROM rate_limits WHERE scope = $1 AND scope_id = $2", [scope, scopeId]);
  const kept = new Set<string>();
  for (const r of limits) {
    const same = existing.find((e) => !kept.has(e.id) && e.unit === r.unit && Number(e.window_seconds) === r.windowSeconds);
    if (same !== undefined) {
      kept.add(same.id);
      await q.query("UPDATE rate_limits SET limit_amount = $2 WHERE id = $1", [same.id, r.limit]);
      continue;
    }
    await q.query("INSERT INTO rate_limits (id, organization_id, scope, scope_id, unit, limit_amount, window_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
      r.id,
      r.organizationId,
      r.scope,
      r.scopeId,
      r.unit,
      r.limit,
      r.windowSeconds,
      isoOf(nowMs),
    ]);
  }
  for (const e of existing) if (!kept.has(e.id)) await q.query("DELETE FROM rate_limits WHERE id = $1", [e.id]);
}

/** Rate limits of one scope object. */
export async function listRateLimitsOf(q: Queryable, scope: Scope, scopeId: string): Promise<RateLimitRecord[]> {
  const rows = await q.query<RateRow>(`SELECT ${RATE_COLUMNS} FROM rate_limits WHERE scope = $1 AND scope_id = $2 ORDER BY id`, [scope, scopeId]);
  return rows.map(toRate);
}

/** Every rate limit (snapshot). */
export async function listAllRateLimits(q: Queryable): Promise<RateLimitRecord[]> {
  const rows = await q.query<RateRow>(`SELECT ${RATE_COLUMNS} FROM rate_limits ORDER BY id`);
  return rows.map(toRate);
}
