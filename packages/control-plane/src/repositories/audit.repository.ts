/** SQL of `audit_log`. */
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";
import type { AuditRecord } from "../records.js";

/** One audit entry to write (before/after already redacted). */
export interface AuditWrite {
  id: string;
  organizationId: string | null;
  actor: string;
  action: string;
  target: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** Appends an audit row. */
export async function insertAudit(q: Queryable, a: AuditWrite, nowMs: number): Promise<void> {
  await q.query("INSERT INTO audit_log (id, organization_id, actor, action, target, before, after, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)", [
    a.id,
    a.organizationId,
    a.actor,
    a.action,
    a.target,
    a.before === null ? null : JSON.stringify(a.before),
    a.after === null ? null : JSON.stringify(a.after),
    isoOf(nowMs),
  ]);
}

/** A page of an organization's audit rows, newest first, strictly older than `beforeId`. */
export async function listAudit(q: Queryable, organizationId: string, beforeId: string | null, limit: number): Promise<AuditRecord[]> {
  const rows = await q.query<{
    id: string;
    organization_id: string | null;
    actor: string;
    action: string;
    target: string;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    created_at: Date;
  }>(
    `SELECT id, organization_id, actor, action, target, before, after, created_at FROM audit_log
     WHERE organization_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [organizationId, beforeId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    organizationId: r.organization_id,
    actor: r.actor,
    action: r.action,
    target: r.target,
    before: r.before ?? null,
    after: r.after ?? null,
    createdAt: toMsOrNull(r.created_at) ?? 0,
  }));
}
