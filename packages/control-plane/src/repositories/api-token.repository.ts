/** SQL of `api_tokens`: admin-API tokens bound to a user, stored only as HMACs. */
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";
import type { UserRole } from "../records.js";

/** An API token (its secret is never stored). */
export interface ApiTokenRecord {
  readonly id: string;
  readonly organizationId: string;
  readonly userId: string;
  readonly name: string;
  readonly prefix: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** What a presented token resolves to: the token and its user's current standing. */
export interface TokenHolder {
  readonly tokenId: string;
  readonly organizationId: string;
  readonly userId: string;
  readonly role: UserRole;
  readonly active: boolean;
  readonly lastUsedAt: number | null;
}

interface TokenRow {
  id: string;
  organization_id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = "id, organization_id, user_id, name, prefix, created_at, last_used_at, revoked_at";
const toToken = (r: TokenRow): ApiTokenRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  userId: r.user_id,
  name: r.name,
  prefix: r.prefix,
  createdAt: toMsOrNull(r.created_at) ?? 0,
  lastUsedAt: toMsOrNull(r.last_used_at),
  revokedAt: toMsOrNull(r.revoked_at),
});

/** Fields written when a token is issued. */
export interface ApiTokenInsert {
  id: string;
  organizationId: string;
  userId: string;
  name: string;
  tokenHash: string;
  prefix: string;
}

/** Inserts a token. */
export async function insertApiToken(q: Queryable, t: ApiTokenInsert, nowMs: number): Promise<ApiTokenRecord> {
  const rows = await q.query<TokenRow>(`INSERT INTO api_tokens (id, organization_id, user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`, [
    t.id,
    t.organizationId,
    t.userId,
    t.name,
    t.tokenHash,
    t.prefix,
    isoOf(nowMs),
  ]);
  return toToken(rows[0] as TokenRow);
}

/** One token, or null; `forUpdate` locks the row. */
export async function findApiToken(q: Queryable, id: string, forUpdate = false): Promise<ApiTokenRecord | null> {
  const rows = await q.query<TokenRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return rows[0] ? toToken(rows[0]) : null;
}

/** Marks a token revoked at `nowMs` (kept when already revoked). */
export async function revokeApiTokenRow(q: Queryable, id: string, nowMs: number): Promise<ApiTokenRecord> {
  const rows = await q.query<TokenRow>(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`, [id, isoOf(nowMs)]);
  return toToken(rows[0] as TokenRow);
}

/** Tokens of an organization (of one user when `userId` is given), oldest first. */
export async function listApiTokens(q: Queryable, organizationId: string, userId: string | null): Promise<ApiTokenRecord[]> {
  const rows = await q.query<TokenRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE organization_id = $1 AND ($2::text IS NULL OR user_id = $2) ORDER BY id`, [organizationId, userId]);
  return rows.map(toToken);
}

/** The unrevoked token with this hash and its user's role and standing, or null. */
export async function findTokenHolder(q: Queryable, tokenHash: string): Promise<TokenHolder | null> {
  const rows = await q.query<{ id: string; organization_id: string; user_id: string; role: UserRole; active: boolean; last_used_at: Date | null }>(
    `SELECT t.id, u.organization_id, t.user_id, u.role, u.active, t.last_used_at
     FROM api_tokens t JOIN users u ON u.id = t.user_id AND u.organization_id = t.organization_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [tokenHash],
  );
  const r = rows[0];
  return r ? { tokenId: r.id, organizationId: r.organization_id, userId: r.user_id, role: r.role, active: r.active, lastUsedAt: toMsOrNull(r.last_used_at) } : null;
}

/** Records a token's use. */
export async function touchApiToken(q: Queryable, id: string, nowMs: number): Promise<void> {
  await q.query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", [id, isoOf(nowMs)]);
}
