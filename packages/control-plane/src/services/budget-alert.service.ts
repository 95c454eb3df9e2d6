/**
 * Budget threshold alerts. Usage ingest calls `recordThresholdAlerts` in its own transaction for
 * every budget window it added spend to: each threshold the window's `used` has reached is
 * recorded once per (budget, window, threshold) — the table's unique key makes replays and
 * concurrent ingests harmless — and, when the organization has a webhook, queued in the outbox in
 * the same transaction, so an alert is never lost nor delivered for spend that was rolled back.
 */
import { formatUsdPicos, windowEndOf } from "@tollgate/policy";
import type { Database, Queryable } from "../db/database.js";
import type { IdSource } from "../ids.js";
import { enqueueWebhook, insertBudgetAlert, listBudgetAlerts, type BudgetAlertRecord } from "../repositories/alert.repository.js";
import { findBudget, getBudgetUsed } from "../repositories/budget.repository.js";
import { findOrganizationSettings } from "../repositories/organization-settings.repository.js";
import type { BudgetRecord } from "../records.js";
import { assertCanSee, type Actor } from "./actor.js";
import { requireInt } from "./validate.js";

/** The webhook event type of a budget threshold alert. */
export const BUDGET_THRESHOLD_EVENT = "budget.threshold";

/** A budget window that usage ingest added spend to. */
export interface TouchedWindow {
  readonly budgetId: string;
  readonly windowStartMs: number;
}

/** What ingest calls after updating `used` (inside its transaction). */
export type UsageHook = (tx: Queryable, windows: readonly TouchedWindow[], nowMs: number) => Promise<void>;

/** An alert with its budget, for the API. */
export interface BudgetAlertView extends BudgetAlertRecord {
  readonly budget: BudgetRecord | null;
}

/** The thresholds (percents) `used` has reached of `limit`: used * 100 >= percent * limit. */
export function reachedThresholds(percents: readonly number[], used: bigint, limit: bigint): number[] {
  return percents.filter((p) => used * 100n >= BigInt(p) * limit);
}

/** The JSON body of a budget threshold webhook (signed as sent). */
export function budgetThresholdPayload(alertId: string, budget: BudgetRecord, windowStartMs: number, percent: number, used: bigint, createdAtMs: number): string {
  const amount = (v: bigint): string => (budget.unit === "USD" ? formatUsdPicos(v) : v.toString());
  const windowEnd = windowEndOf(budget.window, windowStartMs);
  return JSON.stringify({
    type: BUDGET_THRESHOLD_EVENT,
    id: alertId,
    organizationId: budget.organizationId,
    budget: { id: budget.id, scope: budget.scope, scopeId: budget.scopeId, unit: budget.unit, window: budget.window, mode: budget.mode, limit: amount(budget.limit) },
    threshold: percent / 100,
    used: amount(used),
    windowStart: new Date(windowStartMs).toISOString(),
    windowEnd: windowEnd === null ? null : new Date(windowEnd).toISOString(),
    createdAt: new Date(createdAtMs).toISOString(),
  });
}

/** Makes the ingest hook that records alerts and queues their webhooks. */
export function createThresholdAlertHook(newId: IdSource): UsageHook {
  return async (tx, windows, nowMs) => {
    for (const w of windows) {
      const budget = await findBudget(tx, w.budgetId);
      if (!budget || budget.alertThresholds.length === 0) continue;
      const used = await getBudgetUsed(tx, w.budgetId, w.windowStartMs);
      const reached = reachedThresholds(budget.alertThresholds, used, budget.limit);
      if (reached.length === 0) continue;
      let webhook: boolean | null = null;
      for (const percent of reached) {
        const id = newId("alrt");
        const inserted = await insertBudgetAlert(
          tx,
          { id, organizationId: budget.organizationId, budgetId: budget.id, windowStartMs: w.windowStartMs, thresholdPercent: percent, used, limit: budget.limit },
          nowMs,
        );
        if (!inserted) continue;
        webhook ??= (await findOrganizationSettings(tx, budget.organizationId))?.webhookUrl != null;
        if (!webhook) continue;
        await enqueueWebhook(
          tx,
          {
            id: newId("whd"),
            organizationId: budget.organizationId,
            alertId: id,
            eventType: BUDGET_THRESHOLD_EVENT,
            payload: budgetThresholdPayload(id, budget, w.windowStartMs, percent, used, nowMs),
          },
          nowMs,
        );
      }
    }
  };
}

/** Reads alerts. */
export class BudgetAlertService {
  constructor(private readonly db: Database) {}

  /** An organization's alerts, newest first (admins of the organization). */
  async list(actor: Actor, organizationId: string, first: number): Promise<BudgetAlertView[]> {
    assertCanSee(actor, organizationId);
    requireInt("first", first, 1, 500);
    const alerts = await listBudgetAlerts(this.db, organizationId, first);
    const budgets = new Map<string, BudgetRecord | null>();
    for (const a of alerts) if (!budgets.has(a.budgetId)) budgets.set(a.budgetId, await findBudget(this.db, a.budgetId));
    return alerts.map((a) => ({ ...a, budget: budgets.get(a.budgetId) ?? null }));
  }
}
