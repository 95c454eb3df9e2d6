/** Budgets at every scope: setBudget (one per scope, unit and window), removeBudget, live usage views. */
import {
  formatUsdPicos,
  MAX_USD_BUDGET_PICOS,
  picosOfMicros,
  windowEndOf,
  windowStartOf,
  type BudgetEnforcement,
  type BudgetMode,
  type BudgetUnit,
  type BudgetWindow,
  type Scope,
} from "@tollgate/policy";
import type { Database, Queryable } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import type { BudgetRecord } from "../records.js";
import * as repo from "../repositories/budget.repository.js";
import { findOrganization, findTeam, findUser } from "../repositories/organization.repository.js";
import { findVirtualKey } from "../repositories/virtual-key.repository.js";
import { assertInTenancy, type Actor } from "./actor.js";
import { assertCanManageScope } from "./key-rights.js";
import { assertMemberTightens, budgetLoosening, type BudgetTerms } from "./member-limits.js";
import type { MutationContext, MutationRunner } from "./mutation-runner.js";

const MICROS = 1_000_000n;

/** A budget as asked for; `limitDecimal` is the written number in micro-units (Decimal scalar). */
export interface BudgetSpec {
  unit: BudgetUnit;
  window: BudgetWindow;
  limitDecimal: bigint;
  mode?: BudgetMode | null;
  enforcement?: BudgetEnforcement | null;
  alertThresholds?: readonly number[] | null;
}

/** A budget with its current window's usage. */
export interface BudgetView extends BudgetRecord {
  readonly used: bigint;
  readonly remaining: bigint;
  readonly windowStart: number;
  /** Epoch ms of the next reset; null for TOTAL. */
  readonly resetsAt: number | null;
}

/**
 * The limit in the budget's unit: pico-dollars for USD (at most `MAX_USD_BUDGET_PICOS`, so every
 * grant and ledger amount of the budget fits the wire's int64), a whole count for TOKENS/REQUESTS.
 */
export function limitInUnit(unit: BudgetUnit, limitDecimal: bigint): bigint {
  switch (unit) {
    case "USD": {
      const picos = picosOfMicros(limitDecimal);
      if (picos > MAX_USD_BUDGET_PICOS) throw badInput(`limit of a USD budget must be at most ${formatUsdPicos(MAX_USD_BUDGET_PICOS)}`);
      return picos;
    }
    case "TOKENS":
    case "REQUESTS":
      if (limitDecimal % MICROS !== 0n) throw badInput(`limit of a ${unit} budget must be a whole number`);
      return limitDecimal / MICROS;
  }
}

/**
 * Alert thresholds are fractions of the limit (0.5, 0.8, 1.0; up to 10 for soft budgets run over)
 * in hundredths; stored as whole percents, sorted, without duplicates.
 */
export function requireThresholds(v: readonly number[] | null | undefined): number[] {
  const percents = (v ?? []).map((t) => {
    const percent = Math.round(t * 100);
    if (!Number.isFinite(t) || Math.abs(t * 100 - percent) > 1e-6 || percent < 1 || percent > 1000) {
      throw badInput(`alertThresholds are fractions of the limit from 0.01 to 10 in hundredths (0.5, 0.8, 1.0), got ${t}`);
    }
    return percent;
  });
  return [...new Set(percents)].sort((a, b) => a - b);
}

/** Resolves a scope object to its organization; NOT_FOUND when missing. */
export async function resolveScopeOrganization(q: Queryable, scope: Scope, scopeId: string): Promise<string> {
  const found = await (async (): Promise<{ organizationId: string } | null> => {
    switch (scope) {
      case "ORGANIZATION": {
        const o = await findOrganization(q, scopeId);
        return o ? { organizationId: o.id } : null;
      }
      case "TEAM":
        return findTeam(q, scopeId);
      case "USER":
        return findUser(q, scopeId);
      case "VIRTUAL_KEY":
        return findVirtualKey(q, scopeId);
    }
  })();
  if (!found) throw notFound(scope.toLowerCase().replace("_", " "), scopeId);
  return found.organizationId;
}

/** A spec as it would be stored: the limit in the budget's unit and the defaults applied. */
export function budgetTerms(spec: BudgetSpec): BudgetTerms {
  return {
    unit: spec.unit,
    window: spec.window,
    limit: limitInUnit(spec.unit, spec.limitDecimal),
    mode: spec.mode ?? "HARD",
    enforcement: spec.enforcement ?? "CAP_OUTPUT",
    alertThresholds: requireThresholds(spec.alertThresholds),
  };
}

/** Writes the budget of a spec at a scope inside a mutation (insert or update by natural key). */
export async function writeBudget(m: MutationContext, organizationId: string, scope: Scope, scopeId: string, spec: BudgetSpec): Promise<BudgetRecord> {
  return repo.upsertBudget(m.tx, { id: m.newId("bgt"), organizationId, scope, scopeId, ...budgetTerms(spec) }, m.nowMs);
}

/** Checks a list of specs for duplicate (unit, window) pairs and bad values before any write. */
export function checkBudgetSpecs(specs: readonly BudgetSpec[]): void {
  const seen = new Set<string>();
  for (const s of specs) {
    const k = `${s.unit}/${s.window}`;
    if (seen.has(k)) throw badInput(`budgets: two budgets with unit ${s.unit} and window ${s.window}`);
    seen.add(k);
    limitInUnit(s.unit, s.limitDecimal);
    requireThresholds(s.alertThresholds);
  }
}

/** Budget operations and views. */
export class BudgetService {
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
    private readonly now: () => number,
  ) {}

  /** Sets the budget of (scope, scopeId, unit, window): creates it or updates the existing one. */
  setBudget(actor: Actor, scope: Scope, scopeId: string, spec: BudgetSpec): Promise<BudgetView> {
    checkBudgetSpecs([spec]);
    return this.runner.run(actor, true, async (m) => {
      const organizationId = await resolveScopeOrganization(m.tx, scope, scopeId);
      await assertCanManageScope(m.tx, actor, organizationId, scope, scopeId);
      const existing = (await repo.listBudgetsOf(m.tx, scope, scopeId)).find((b) => b.unit === spec.unit && b.window === spec.window);
      if (existing) assertMemberTightens(actor, [budgetLoosening(existing, budgetTerms(spec))]);
      const budget = await writeBudget(m, organizationId, scope, scopeId, spec);
      await m.audit({
        organizationId,
        action: "budget.set",
        target: budget.id,
        after: { scope, scopeId, unit: budget.unit, window: budget.window, limit: budget.limit.toString(), mode: budget.mode },
      });
      return this.viewOf(m.tx, budget, m.nowMs);
    });
  }

  /** Removes a budget; resolves to it as it was. */
  removeBudget(actor: Actor, id: string): Promise<BudgetView> {
    return this.runner.run(actor, true, async (m) => {
      const budget = await repo.findBudget(m.tx, id, true);
      if (!budget) throw notFound("budget", id);
      assertInTenancy(actor, budget.organizationId, "budget", id);
      await assertCanManageScope(m.tx, actor, budget.organizationId, budget.scope, budget.scopeId);
      assertMemberTightens(actor, [budgetLoosening(budget, null)]);
      const view = await this.viewOf(m.tx, budget, m.nowMs);
      await repo.deleteBudget(m.tx, id);
      await m.audit({ organizationId: budget.organizationId, action: "budget.remove", target: id, before: { unit: budget.unit, window: budget.window, limit: budget.limit.toString() } });
      return view;
    });
  }

  /** Budgets of a scope object with their current usage (the caller checked rights on the object). */
  async listBudgetViews(actor: Actor, organizationId: string, scope: Scope, scopeId: string): Promise<BudgetView[]> {
    await assertCanManageScope(this.db, actor, organizationId, scope, scopeId, true);
    const nowMs = this.now();
    const budgets = await repo.listBudgetsOf(this.db, scope, scopeId);
    return Promise.all(budgets.map((b) => this.viewOf(this.db, b, nowMs)));
  }

  private async viewOf(q: Queryable, b: BudgetRecord, nowMs: number): Promise<BudgetView> {
    const windowStart = windowStartOf(b.window, nowMs);
    const used = await repo.getBudgetUsed(q, b.id, windowStart);
    const remaining = b.limit > used ? b.limit - used : 0n;
    return { ...b, used, remaining, windowStart, resetsAt: windowEndOf(b.window, windowStart) };
  }
}
