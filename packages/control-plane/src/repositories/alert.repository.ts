/** SQL of budget threshold alerts (one per budget, window and threshold) and the webhook outbox. */
import { isoOf, toBigInt, toMsOrNull, type Queryable } from "../db/database.js";

/** A recorded alert. */
export interface BudgetAlertRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly budgetId: string;
  readonly windowStartMs: number;
  readonly thresholdPercent: number;
  readonly used: bigint;
  readonly limit: bigint;
  readonly createdAt: number;
  /** When its webhook delivery succeeded; null = pending, failed, or no webhook. */
  readonly deliveredAt: number | null;
  readonly deliveryAttempts: number;
}

/** Inserts an alert unless (budget, window, threshold) already has one; resolves true when inserted now. */
export async function insertBudgetAlert(
  q: Queryable,
  a: { id: string; organizationId: string; budgetId: string; windowStartMs: number; thresholdPercent: number; used: bigint; limit: bigint },
  nowMs: number,
): Promise<boolean> {
  const rows = await q.query<{ id: string }>(
    `INSERT INTO budget_alerts (id, organization_id, budget_id, window_start_ms, threshold_percent, used, limit_amount, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (budget_id, window_start_ms, threshold_percent) DO NOTHING RETURNING id`,
    [a.id, a.organizationId, a.budgetId, a.windowStartMs, a.thresholdPercent, a.used.toString(), a.limit.toString(), isoOf(nowMs)],
  );
  return rows.length > 0;
}

/** An organization's alerts, newest first, with their delivery state. */
export async function listBudgetAlerts(q: Queryable, organizationId: string, limit: number): Promise<BudgetAlertRecord[]> {
  const rows = await q.query<{
    id: string;
    organization_id: string;
    budget_id: string;
    window_start_ms: string;
    threshold_percent: number;
    used: string;
    limit_amount: string;
    created_at: Date;
    delivered_at: Date | null;
    attempts: number | null;
  }>(
    `SELECT a.id, a.organization_id, a.budget_id, a.window_start_ms, a.threshold_percent, a.used, a.limit_amount, a.created_at,
       o.delivered_at, o.attempts
     FROM budget_alerts a LEFT JOIN webhook_outbox o ON o.alert_id = a.id
     WHERE a.organization_id = $1 ORDER BY a.id DESC LIMIT $2`,
    [organizationId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    organizationId: r.organization_id,
    budgetId: r.budget_id,
    windowStartMs: Number(r.window_start_ms),
    thresholdPercent: Number(r.threshold_percent),
    used: toBigInt(r.used),
    limit: toBigInt(r.limit_amount),
    createdAt: toMsOrNull(r.created_at) ?? 0,
    deliveredAt: toMsOrNull(r.delivered_at),
    deliveryAttempts: Number(r.attempts ?? 0),
  }));
}

/** Queues a webhook delivery, due at once. */
export async function enqueueWebhook(q: Queryable, e: { id: string; organizationId: string; alertId: string | null; eventType: string; payload: string }, nowMs: number): Promise<void> {
  await q.query(
    `INSERT INTO webhook_outbox (id, organization_id, alert_id, event_type, payload, attempts, next_attempt_at_ms, created_at)
     VALUES ($1, $2, $3, $4, $5, 0, $6, $7)`,
    [e.id, e.organizationId, e.alertId, e.eventType, e.payload, nowMs, isoOf(nowMs)],
  );
}

/** A delivery claimed for one attempt. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly organizationId: string;
  readonly payload: string;
  /** Attempts including this one. */
  readonly attempts: number;
}

/**
 * Claims up to `limit` due deliveries for one attempt each: their next attempt moves to
 * `nowMs + leaseMs` (so another replica, or this one after a crash, retries them only then) and
 * their attempt count goes up. Rows locked by another claimer are skipped.
 */
export async function claimDueWebhooks(q: Queryable, nowMs: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
  const rows = await q.query<{ id: string; organization_id: string; payload: string; attempts: number }>(
    `UPDATE webhook_outbox SET next_attempt_at_ms = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at_ms <= $1
                  ORDER BY next_attempt_at_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, organization_id, payload, attempts`,
    [nowMs, nowMs + leaseMs, limit],
  );
  return rows.map((r) => ({ id: r.id, organizationId: r.organization_id, payload: r.payload, attempts: Number(r.attempts) }));
}

/** Marks a delivery done. */
export async function markWebhookDelivered(q: Queryable, id: string, nowMs: number): Promise<void> {
  await q.query("UPDATE webhook_outbox SET delivered_at = $2, last_error = NULL WHERE id = $1", [id, isoOf(nowMs)]);
}

/** Schedules the next attempt of a failed delivery, or gives up (`nextAttemptAtMs` null). */
export async function rescheduleWebhook(q: Queryable, id: string, error: string, nextAttemptAtMs: number | null, nowMs: number): Promise<void> {
  if (nextAttemptAtMs === null) {
    await q.query("UPDATE webhook_outbox SET failed_at = $2, last_error = $3 WHERE id = $1", [id, isoOf(nowMs), error.slice(0, 500)]);
    return;
  }
  await q.query("UPDATE webhook_outbox SET next_attempt_at_ms = $2, last_error = $3 WHERE id = $1", [id, nextAttemptAtMs, error.slice(0, 500)]);
}
