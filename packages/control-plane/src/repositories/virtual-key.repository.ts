/** SQL of `virtual_keys` and `key_secrets` (secrets are stored only as HMACs). */
import type { KeyKind, KeyStatus } from "@tollgate/policy";
import { isoOf, toBigIntOrNull, toMsOrNull, type Queryable } from "../db/database.js";
import type { KeyFormat, VirtualKeyRecord } from "../records.js";

interface KeyRow {
  id: string;
  organization_id: string;
  name: string;
  kind: KeyKind;
  team_id: string | null;
  user_id: string | null;
  status: Exclude<KeyStatus, "EXPIRED">;
  format: KeyFormat;
  prefix: string;
  last4: string;
  allowed_models: string[];
  denied_models: string[];
  max_cost_per_request_micros: string | null;
  expires_at: Date | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, organization_id, name, kind, team_id, user_id, status, format, prefix, last4, allowed_models, denied_models,
  max_cost_per_request_micros, expires_at, metadata, created_at, updated_at`;

const toKey = (r: KeyRow): VirtualKeyRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  kind: r.kind,
  teamId: r.team_id,
  userId: r.user_id,
  status: r.status,
  format: r.format,
  prefix: r.prefix,
  last4: r.last4,
  allowedModels: r.allowed_models ?? [],
  deniedModels: r.denied_models ?? [],
  maxCostPerRequest: toBigIntOrNull(r.max_cost_per_request_micros),
  expiresAt: toMsOrNull(r.expires_at),
  metadata: r.metadata ?? {},
  createdAt: toMsOrNull(r.created_at) ?? 0,
  updatedAt: toMsOrNull(r.updated_at) ?? 0,
});

/** Fields written when a key is created. */
export interface KeyInsert {
  id: string;
  organizationId: string;
  name: string;
  kind: KeyKind;
  teamId: string | null;
  userId: string | null;
  format: KeyFormat;
  prefix: string;
  last4: string;
  allowedModels: readonly string[];
  deniedModels: readonly string[];
  maxCostPerRequest: bigint | null;
  expiresAt: number | null;
  metadata: Record<string, unknown>;
}

/** Inserts an ACTIVE key. */
export async function insertVirtualKey(q: Queryable, k: KeyInsert, nowMs: number): Promise<VirtualKeyRecord> {
  const rows = await q.query<KeyRow>(
    `INSERT INTO virtual_keys (id, organization_id, name, kind, team_id, user_id, status, format, prefix, last4, allowed_models, denied_models,
       max_cost_per_request_micros, expires_at, metadata, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', $7, $8, $9, $10::text[], $11::text[], $12, $13, $14::jsonb, $15, $15) RETURNING ${COLUMNS}`,
    [
      k.id,
      k.organizationId,
      k.name,
      k.kind,
      k.teamId,
      k.userId,
      k.format,
      k.prefix,
      k.last4,
      [...k.allowedModels],
      [...k.deniedModels],
      k.maxCostPerRequest?.toString() ?? null,
      k.expiresAt === null ? null : isoOf(k.expiresAt),
      JSON.stringify(k.metadata),
      isoOf(nowMs),
    ],
  );
  return toKey(rows[0] as KeyRow);
}

/** Fields an update may change (all required: the service merges the current values). */
export interface KeyUpdate {
  name: string;
  teamId: string | null;
  allowedModels: readonly string[];
  deniedModels: readonly string[];
  maxCostPerRequest: bigint | null;
  expiresAt: number | null;
  metadata: Record<string, unknown>;
}

/** Writes a key's editable fields. */
export async function updateVirtualKeyRow(q: Queryable, id: string, u: KeyUpdate, nowMs: number): Promise<VirtualKeyRecord> {
  const rows = await q.query<KeyRow>(
    `UPDATE virtual_keys SET name = $2, team_id = $3, allowed_models = $4::text[], denied_models = $5::text[], max_cost_per_request_micros = $6,
       expires_at = $7, metadata = $8::jsonb, updated_at = $9 WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      u.name,
      u.teamId,
      [...u.allowedModels],
      [...u.deniedModels],
      u.maxCostPerRequest?.toString() ?? null,
      u.expiresAt === null ? null : isoOf(u.expiresAt),
      JSON.stringify(u.metadata),
      isoOf(nowMs),
    ],
  );
  return toKey(rows[0] as KeyRow);
}

/** Sets a key's status (and its display prefix/last4 after a rotation when given). */
export async function setVirtualKeyStatus(q: Queryable, id: string, status: Exclude<KeyStatus, "EXPIRED">, nowMs: number, pausedByAdmin = false): Promise<VirtualKeyRecord> {
  const rows = await q.query<KeyRow>(`UPDATE virtual_keys SET status = $2, updated_at = $3, paused_by_admin = $4 WHERE id = $1 RETURNING ${COLUMNS}`, [id, status, isoOf(nowMs), pausedByAdmin]);
  return toKey(rows[0] as KeyRow);
}

/** Whether the key's current pause was set by an admin (members may not resume it). */
export async function isPausedByAdmin(q: Queryable, id: string): Promise<boolean> {
  const rows = await q.query<{ paused_by_admin: boolean }>("SELECT paused_by_admin FROM virtual_keys WHERE id = $1", [id]);
  return rows[0]?.paused_by_admin === true;
}

/** Records a rotated secret's display prefix and last 4. */
export async function setVirtualKeyDisplay(q: Queryable, id: string, prefix: string, last4: string, nowMs: number): Promise<VirtualKeyRecord> {
  const rows = await q.query<KeyRow>(`UPDATE virtual_keys SET prefix = $2, last4 = $3, updated_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`, [id, prefix, last4, isoOf(nowMs)]);
  return toKey(rows[0] as KeyRow);
}

/** One key, or null; `forUpdate` locks the row. */
export async function findVirtualKey(q: Queryable, id: string, forUpdate = false): Promise<VirtualKeyRecord | null> {
  const rows = await q.query<KeyRow>(`SELECT ${COLUMNS} FROM virtual_keys WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return rows[0] ? toKey(rows[0]) : null;
}

/** Filter of a key listing. */
export interface KeyFilter {
  status?: KeyStatus | null;
  kind?: KeyKind | null;
  teamId?: string | null;
  userId?: string | null;
  nameContains?: string | null;
}

/** A page of an organization's keys ordered by id, after `afterId`; fetches `limit` rows. */
export async function listVirtualKeys(q: Queryable, organizationId: string, filter: KeyFilter, afterId: string | null, limit: number, nowMs: number): Promise<VirtualKeyRecord[]> {
  const where = ["organization_id = $1"];
  const params: unknown[] = [organizationId];
  const add = (sql: string, v: unknown): void => {
    params.push(v);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (afterId) add("id > ?", afterId);
  if (filter.kind) add("kind = ?", filter.kind);
  if (filter.teamId) add("team_id = ?", filter.teamId);
  if (filter.userId) add("user_id = ?", filter.userId);
  if (filter.nameContains) add("position(lower(?) in lower(name)) > 0", filter.nameContains);
  if (filter.status) {
    const expired = `status <> 'REVOKED' AND expires_at IS NOT NULL AND expires_at <= $${params.length + 1}`;
    params.push(isoOf(nowMs));
    if (filter.status === "EXPIRED") where.push(`(${expired})`);
    else {
      params.push(filter.status);
      where.push(`status = $${params.length} AND NOT (${expired})`);
    }
  }
  params.push(limit);
  const rows = await q.query<KeyRow>(`SELECT ${COLUMNS} FROM virtual_keys WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${params.length}`, params);
  return rows.map(toKey);
}

/** Every key (snapshot). */
export async function listAllVirtualKeys(q: Queryable): Promise<VirtualKeyRecord[]> {
  const rows = await q.query<KeyRow>(`SELECT ${COLUMNS} FROM virtual_keys ORDER BY id`);
  return rows.map(toKey);
}

/** Stores a secret's HMAC for a key; `validUntilMs` null = no end. */
export async function insertKeySecret(q: Queryable, keyId: string, hmac: string, validUntilMs: number | null, nowMs: number): Promise<void> {
  await q.query("INSERT INTO key_secrets (hmac, key_id, created_at, valid_until) VALUES ($1, $2, $3, $4)", [hmac, keyId, isoOf(nowMs), validUntilMs === null ? null : isoOf(validUntilMs)]);
}

/** Ends every secret of a key that would outlive `untilMs` at `untilMs`. */
export async function endKeySecrets(q: Queryable, keyId: string, untilMs: number): Promise<void> {
  await q.query("UPDATE key_secrets SET valid_until = $2 WHERE key_id = $1 AND (valid_until IS NULL OR valid_until > $2)", [keyId, isoOf(untilMs)]);
}

/** Secrets still valid at `nowMs`, grouped by key id. */
export async function listLiveKeySecrets(q: Queryable, nowMs: number): Promise<Map<string, Array<{ hmac: string; validUntil: number | null }>>> {
  const rows = await q.query<{ key_id: string; hmac: string; valid_until: Date | null }>(
    "SELECT key_id, hmac, valid_until FROM key_secrets WHERE valid_until IS NULL OR valid_until > $1 ORDER BY key_id, created_at, hmac",
    [isoOf(nowMs)],
  );
  const out = new Map<string, Array<{ hmac: string; validUntil: number | null }>>();
  for (const r of rows) {
    const list = out.get(r.key_id) ?? [];
    list.push({ hmac: r.hmac, validUntil: toMsOrNull(r.valid_until) });
    out.set(r.key_id, list);
  }
  return out;
}
