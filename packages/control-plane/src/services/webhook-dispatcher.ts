/**
 * Delivers the webhook outbox: polls for due deliveries, POSTs each JSON body to its
 * organization's webhook signed with `x-tollgate-signature: sha256=<hex HMAC-SHA256 of the body
 * with the webhook secret>` and `x-tollgate-timestamp` (unix seconds), and marks it delivered on a
 * 2xx. Anything else is retried with exponential backoff (base * 2^(attempt-1), capped), up to
 * `maxAttempts`. At-least-once: a claimed delivery is leased, so a crash mid-send retries it
 * after the lease; receivers dedupe by `x-tollgate-event-id` (the body's `id`).
 */
import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import type { Database } from "../db/database.js";
import { claimDueWebhooks, markWebhookDelivered, rescheduleWebhook, type ClaimedDelivery } from "../repositories/alert.repository.js";

/** Resolves an organization's webhook URL and secret; null when it has none. */
export type WebhookLookup = (organizationId: string) => Promise<{ url: string; secret: string } | null>;

/** What the dispatcher depends on. */
export interface WebhookDispatcherDeps {
  readonly db: Database;
  readonly webhookOf: WebhookLookup;
  readonly now: () => number;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Poll period (default 1000 ms). */
  readonly pollMs?: number;
  /** Delay after the first failure (default 5000 ms); doubles each attempt. */
  readonly retryBaseMs?: number;
  /** Longest delay between attempts (default 1 h). */
  readonly retryMaxMs?: number;
  /** Attempts before giving up (default 15). */
  readonly maxAttempts?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
}

/** `sha256=<hex>` of `body` under `secret`. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** The delay before attempt `attempts + 1` after `attempts` failed ones. */
export function webhookRetryDelay(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
}

/** Polls and delivers the outbox until stopped. */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: WebhookDispatcherDeps) {}

  /** Starts polling. */
  start(): void {
    this.timer = setInterval(() => this.poke(), this.deps.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Stops polling and waits for the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Runs a round now unless one is running. */
  poke(): void {
    if (this.stopped || this.running) return;
    this.running = this.deliverDue()
      .then(() => undefined)
      .catch((e: unknown) => this.deps.logger.warn({ err: e instanceof Error ? e.message : String(e) }, "webhook round failed"))
      .finally(() => {
        this.running = null;
      });
  }

  /** Claims and attempts every due delivery once; resolves to how many were delivered. */
  async deliverDue(): Promise<number> {
    const timeoutMs = this.deps.timeoutMs ?? 10_000;
    const claimed = await this.deps.db.transaction((tx) => claimDueWebhooks(tx, this.deps.now(), timeoutMs * 2, 20));
    let delivered = 0;
    for (const d of claimed) if (await this.attempt(d, timeoutMs)) delivered += 1;
    return delivered;
  }

  private async attempt(d: ClaimedDelivery, timeoutMs: number): Promise<boolean> {
    const { db, now, logger } = this.deps;
    let error: string;
    try {
      const hook = await this.deps.webhookOf(d.organizationId);
      if (hook === null) {
        await rescheduleWebhook(db, d.id, "the organization has no webhook", null, now());
        return false;
      }
      const res = await (this.deps.fetch ?? fetch)(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "tollgate-webhooks/1",
          "x-tollgate-event-id": eventIdOf(d),
          "x-tollgate-timestamp": String(Math.floor(now() / 1000)),
          "x-tollgate-signature": signWebhookBody(hook.secret, d.payload),
        },
        body: d.payload,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        await markWebhookDelivered(db, d.id, now());
        return true;
      }
      error = `HTTP ${res.status}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const maxAttempts = this.deps.maxAttempts ?? 15;
    const next = d.attempts >= maxAttempts ? null : now() + webhookRetryDelay(d.attempts, this.deps.retryBaseMs ?? 5_000, this.deps.retryMaxMs ?? 3_600_000);
    logger.warn({ delivery: d.id, attempts: d.attempts, error, giveUp: next === null }, "webhook delivery failed");
    await rescheduleWebhook(db, d.id, error, next, now());
    return false;
  }
}

function eventIdOf(d: ClaimedDelivery): string {
  try {
    const id = (JSON.parse(d.payload) as { id?: unknown }).id;
    return typeof id === "string" ? id : d.id;
  } catch {
    return d.id;
  }
}
