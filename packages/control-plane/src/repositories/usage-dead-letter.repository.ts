/** SQL of `usage_dead_letters`: usage records the control plane could not store, kept with the reason. */
import { createHash } from "node:crypto";
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";

/** Bytes of a received record kept at most (the full size is recorded beside them). */
export const DEAD_LETTER_MAX_RECORD_BYTES = 256 * 1024;

/** A dead letter to write; text is already storable (bounded, no NUL). */
export interface DeadLetterWrite {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly nodeId: string;
  readonly requestId: string;
  readonly organizationId: string;
  /** The record's bytes as received. */
  readonly received: Uint8Array;
}

/** A stored dead letter. */
export interface DeadLetterRecord {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly nodeId: string;
  readonly requestId: string;
  readonly organizationId: string;
  /** The bytes kept (at most `DEAD_LETTER_MAX_RECORD_BYTES`). */
  readonly record: Buffer;
  /** The size of the record as received. */
  readonly recordBytes: number;
  readonly receivedAt: number;
}

/** Writes a dead letter unless the same bytes were dead-lettered before; resolves true when written now. */
export async function insertDeadLetter(q: Queryable, d: DeadLetterWrite, nowMs: number): Promise<boolean> {
  // The same record dead-lettered for the same reason (a replayed batch) is one row.
  const fingerprint = createHash("sha256").update(`${d.reason}\u0000${d.requestId}\u0000`).update(d.received).digest();
  const kept = Buffer.from(d.received.buffer, d.received.byteOffset, Math.min(d.received.byteLength, DEAD_LETTER_MAX_RECORD_BYTES));
  const rows = await q.query<{ id: string }>(
    `INSERT INTO usage_dead_letters (id, fingerprint, reason, detail, node_id, request_id, organization_id, record, record_bytes, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (fingerprint) DO NOTHING RETURNING id`,
    [d.id, fingerprint, d.reason, d.detail, d.nodeId, d.requestId, d.organizationId, kept, d.received.byteLength, isoOf(nowMs)],
  );
  return rows.length > 0;
}

/** A page of dead letters, newest first, strictly older than `beforeId`. */
export async function listDeadLetters(q: Queryable, beforeId: string | null, limit: number): Promise<DeadLetterRecord[]> {
  const rows = await q.query<{
    id: string;
    reason: string;
    detail: string;
    node_id: string;
    request_id: string;
    organization_id: string;
    record: Uint8Array;
    record_bytes: number;
    received_at: Date;
  }>(
    `SELECT id, reason, detail, node_id, request_id, organization_id, record, record_bytes, received_at FROM usage_dead_letters
     WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2`,
    [beforeId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    reason: r.reason,
    detail: r.detail,
    nodeId: r.node_id,
    requestId: r.request_id,
    organizationId: r.organization_id,
    record: Buffer.from(r.record),
    recordBytes: Number(r.record_bytes),
    receivedAt: toMsOrNull(r.received_at) ?? 0,
  }));
}
