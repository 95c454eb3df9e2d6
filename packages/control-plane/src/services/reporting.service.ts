/** Read-only views: usage aggregates, the audit log, data-plane nodes and the policy revision. */
import { windowStartOf } from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { badInput } from "../errors.js";
import type { AuditRecord, NodeRecord } from "../records.js";
import { listAudit } from "../repositories/audit.repository.js";
import { listNodes } from "../repositories/node.repository.js";
import { getPolicyRevision } from "../repositories/settings.repository.js";
import { listDeadLetters, type DeadLetterRecord } from "../repositories/usage-dead-letter.repository.js";
import { queryUsage, type UsageAggregate, type UsageQuery } from "../repositories/usage.repository.js";
import { assertCanSee, assertInTenancy, assertPlatformAdmin, canManageOrganization, forbidden, memberUserId, type Actor } from "./actor.js";
import { requireInt } from "./validate.js";

/** A node counts as connected when seen within this long (streams refresh every 15 s). */
export const NODE_FRESHNESS_MS = 45_000;

/**
 * The usage query an actor may run: admins' as asked; a MEMBER's is forced to their own usage
 * (userId = self); asking for another user's usage is FORBIDDEN.
 */
export function scopeUsageQuery<Q extends { organizationId: string; filter: UsageQuery["filter"] }>(actor: Actor, q: Q): Q {
  assertInTenancy(actor, q.organizationId);
  if (canManageOrganization(actor, q.organizationId)) return q;
  const self = memberUserId(actor);
  if (self === null) throw forbidden();
  if ((q.filter.userId ?? null) !== null && q.filter.userId !== self) throw forbidden("members may read only their own usage");
  return { ...q, filter: { ...q.filter, userId: self } };
}

/** Usage, audit, nodes and revision queries. */
export class ReportingService {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  /**
   * Usage of an organization in [from, to), grouped and filtered (hour granularity). Without
   * `from` it starts at this calendar month (UTC); without `to` it runs to the end of this hour.
   */
  async usage(actor: Actor, query: Omit<UsageQuery, "fromMs" | "toMs"> & { fromMs: number | null; toMs: number | null }): Promise<UsageAggregate[]> {
    const q = scopeUsageQuery(actor, query);
    const now = this.now();
    const fromMs = q.fromMs ?? windowStartOf("MONTH", now);
    const toMs = q.toMs ?? (Math.floor(now / 3_600_000) + 1) * 3_600_000;
    if (toMs <= fromMs) throw badInput("to must be after from");
    return queryUsage(this.db, { ...q, fromMs, toMs });
  }

  /** A page of the audit log, newest first, after the row `afterId`. */
  async auditLog(actor: Actor, organizationId: string, first: number, afterId: string | null): Promise<{ entries: AuditRecord[]; hasNextPage: boolean }> {
    assertCanSee(actor, organizationId);
    requireInt("first", first, 1, 500);
    const rows = await listAudit(this.db, organizationId, afterId, first + 1);
    return { entries: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** A page of usage dead letters, newest first, after the row `afterId` (platform admin only; 1-100 a page). */
  async usageDeadLetters(actor: Actor, first: number, afterId: string | null): Promise<{ entries: DeadLetterRecord[]; hasNextPage: boolean }> {
    assertPlatformAdmin(actor);
    requireInt("first", first, 1, 100);
    const rows = await listDeadLetters(this.db, afterId, first + 1);
    return { entries: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** Every data-plane node with the policy version it applied (platform admin only). */
  async nodes(actor: Actor): Promise<NodeRecord[]> {
    assertPlatformAdmin(actor);
    return listNodes(this.db, this.now() - NODE_FRESHNESS_MS);
  }

  /** The current policy revision: a global counter any caller may read (members follow their own key changes with it). */
  policyRevision(_actor: Actor): Promise<bigint> {
    return getPolicyRevision(this.db);
  }
}
