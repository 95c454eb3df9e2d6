/**
 * Delivers the webhook outbox: polls for due deliveries, POSTs each JSON body to its
 * organization's webhook signed the Standard Webhooks way (`webhook-id` = the event's id, stable
 * across retries; `webhook-timestamp` = unix seconds of this attempt; `webhook-signature` =
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so receivers reject replays and forgeries,
 * and marks it delivered on a 2xx. Anything else is retried with exponential backoff
 * (base * 2^(attempt-1), capped), up to `maxAttempts`. At-least-once: a claimed delivery is
 * leased, so a crash mid-send retries it after the lease; receivers dedupe by `webhook-id`.
 * Connections go through a guarded resolver: a URL whose host resolves to a link-local or
 * cloud-metadata address is refused before any packet is sent (unless the operator allows it).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { guardLookup, OutboundAddressError, refuseLiteralHost, type LookupLike } from "@tollgate/policy";
import type { Logger } from "pino";
import { Webhook } from "standardwebhooks";
import { Agent, buildConnector } from "undici";
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
  /** Webhook hosts may resolve to link-local / cloud-metadata addresses (TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND). */
  readonly allowLinkLocal?: boolean;
  /** Resolver of webhook hosts (default `dns.lookup`; tests inject one). */
  readonly lookup?: LookupLike;
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

const CANONICAL_SECRET = /^whsec_[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * The HMAC key of a webhook secret: the base64 body of a `whsec_` secret (standard, or base64url
 * as generated before Standard Webhooks), else the UTF-8 bytes of an older admin-chosen secret,
 * so every stored secret keeps working without being entered again (docs/security/network.md
 * says which `whsec_` value a receiver uses for each).
 */
export function webhookSigningKey(secret: string): Buffer {
  if (CANONICAL_SECRET.test(secret)) {
    const key = Buffer.from(secret.slice(6), "base64");
    if (key.length >= 16) return key;
  }
  return Buffer.from(secret, "utf8");
}

/** The Standard Webhooks headers of one delivery attempt of `body` (`nowMs` = attempt time). */
export function signWebhook(secret: string, eventId: string, nowMs: number, body: string): Record<string, string> {
  const timestamp = new Date(Math.floor(nowMs / 1000) * 1000);
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(timestamp.getTime() / 1000),
    "webhook-signature": new Webhook(webhookSigningKey(secret), { format: "raw" }).sign(eventId, timestamp, body),
  };
}

/**
 * Wraps `inner` (the connector that opens sockets) so an IP-literal link-local / metadata host is
 * refused without calling it: no socket, no packet.
 */
export function guardConnector(inner: buildConnector.connector, allowLinkLocal: boolean): buildConnector.connector {
  return (options, callback) => {
    const refused = refuseLiteralHost(options.hostname, allowLinkLocal);
    if (refused !== null) return callback(refused, null);
    return inner(options, callback);
  };
}

/** The undici agent of webhook deliveries: literal hosts checked before connecting, resolved names in the lookup. */
export function createGuardedAgent(allowLinkLocal: boolean, lookup: LookupLike, connectTimeoutMs: number): Agent {
  const guarded = guardLookup(lookup, allowLinkLocal) as unknown as LookupFunction;
  return new Agent({ connect: guardConnector(buildConnector({ timeout: connectTimeoutMs, lookup: guarded }), allowLinkLocal) });
}

const defaultLookup: LookupLike = (hostname, options, callback) =>
  dnsLookup(hostname, { all: options.all === true, family: options.family as number | undefined, hints: options.hints }, (err, address, family) =>
    callback(err, address as string | LookupAddress[], family),
  );

/** The delay before attempt `attempts + 1` after `attempts` failed ones. */
export function webhookRetryDelay(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
}

/** Polls and delivers the outbox until stopped. */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly agent: Agent;

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.agent = createGuardedAgent(deps.allowLinkLocal ?? false, deps.lookup ?? defaultLookup, deps.timeoutMs ?? 10_000);
  }

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
    await this.agent.close();
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
      const url = new URL(hook.url);
      const res = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "tollgate-webhooks/2", ...signWebhook(hook.secret, eventIdOf(d), now(), d.payload) },
        body: d.payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) {
        await markWebhookDelivered(db, d.id, now());
        return true;
      }
      error = `HTTP ${res.statusCode}`;
    } catch (e) {
      error = e instanceof OutboundAddressError ? e.message : e instanceof Error ? errorText(e) : String(e);
    }
    const maxAttempts = this.deps.maxAttempts ?? 15;
    const next = d.attempts >= maxAttempts ? null : now() + webhookRetryDelay(d.attempts, this.deps.retryBaseMs ?? 5_000, this.deps.retryMaxMs ?? 3_600_000);
    logger.warn({ delivery: d.id, attempts: d.attempts, error, giveUp: next === null }, "webhook delivery failed");
    await rescheduleWebhook(db, d.id, error, next, now());
    return false;
  }
}

/** The message of `e`, with the cause undici wraps a connect failure in. */
function errorText(e: Error): string {
  const cause = e.cause instanceof Error ? e.cause : null;
  return cause instanceof OutboundAddressError ? cause.message : cause ? `${e.message}: ${cause.message}` : e.message;
}

function eventIdOf(d: ClaimedDelivery): string {
  try {
    const id = (JSON.parse(d.payload) as { id?: unknown }).id;
    return typeof id === "string" ? id : d.id;
  } catch {
    return d.id;
  }
}
