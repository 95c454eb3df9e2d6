/**
 * SQL behind user management and members' rights: editing and removing users, their personal
 * keys, the allow/deny lists on a member's path, and live keys by name (upsertVirtualKey).
 */
import type { ModelAccess } from "@tollgate/policy";
import { isoOf, type Queryable } from "../db/database.js";
import type { UserRole } from "../records.js";

/** Writes a user's name and role. */
export async function updateUserRow(q: Queryable, id: string, u: { name: string; role: UserRole }, nowMs: number): Promise<void> {
  await q.query("UPDATE users SET name = $2, role = $3, updated_at = $4 WHERE id = $1", [id, u.name, u.role, isoOf(nowMs)]);
}

/** Locks a user's row for the rest of the transaction; false when it does not exist. */
export async function lockUser(q: Queryable, id: string): Promise<boolean> {
  return (await q.query("SELECT id FROM users WHERE id = $1 FOR UPDATE", [id])).length > 0;
}

/** Revokes every live PERSONAL key of a user and ends their secrets now; resolves to the keys' ids. */
export async function revokePersonalKeysOf(q: Queryable, userId: string, nowMs: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(`UPDATE virtual_keys SET status = 'REVOKED', updated_at = $2 WHERE user_id = $1 AND kind = 'PERSONAL' AND status <> 'REVOKED' RETURNING id`, [
    userId,
    isoOf(nowMs),
  ]);
  const ids = rows.map((r) => r.id).sort();
  await q.query(
    `UPDATE key_secrets SET valid_until = $2 WHERE key_id IN (SELECT id FROM virtual_keys WHERE user_id = $1 AND kind = 'PERSONAL')
       AND (valid_until IS NULL OR valid_until > $2)`,
    [userId, isoOf(nowMs)],
  );
  return ids;
}

/** Deletes the budgets (with their grants) and rate limits attached to a user. */
export async function deleteUserScopedLimits(q: Queryable, userId: string): Promise<void> {
  await q.query("DELETE FROM budget_grants WHERE budget_id IN (SELECT id FROM budgets WHERE scope = 'USER' AND scope_id = $1)", [userId]);
  await q.query("DELETE FROM budgets WHERE scope = 'USER' AND scope_id = $1", [userId]);
  await q.query("DELETE FROM rate_limits WHERE scope = 'USER' AND scope_id = $1", [userId]);
}

/** Deletes a user (memberships and API tokens go with it; their keys stay, owner cleared). */
export async function deleteUserRow(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM users WHERE id = $1", [id]);
}

/** The allow/deny lists on a user's path: organization, each of their teams, the user. */
export interface MemberAccessPath {
  readonly organization: ModelAccess;
  readonly teams: readonly ModelAccess[];
  readonly user: ModelAccess;
}

/** Reads the allow/deny lists a user's personal key passes through; null when the user is missing. */
export async function readMemberAccessPath(q: Queryable, userId: string): Promise<MemberAccessPath | null> {
  const users = await q.query<{ organization_id: string; allowed_models: string[]; denied_models: string[] }>("SELECT organization_id, allowed_models, denied_models FROM users WHERE id = $1", [
    userId,
  ]);
  const user = users[0];
  if (!user) return null;
  const orgs = await q.query<{ allowed_models: string[]; denied_models: string[] }>("SELECT allowed_models, denied_models FROM organizations WHERE id = $1", [user.organization_id]);
  const teams = await q.query<{ allowed_models: string[]; denied_models: string[] }>(
    `SELECT t.allowed_models, t.denied_models FROM teams t JOIN user_teams ut ON ut.team_id = t.id
     WHERE ut.user_id = $1 AND t.organization_id = $2 ORDER BY t.id`,
    [userId, user.organization_id],
  );
  const access = (r: { allowed_models: string[] | null; denied_models: string[] | null } | undefined): ModelAccess => ({ allow: r?.allowed_models ?? [], deny: r?.denied_models ?? [] });
  return { organization: access(orgs[0]), teams: teams.map(access), user: access(user) };
}

/** Every model of an organization with the names it is callable by (`name`, `<account>/<name>`). */
export async function listModelNames(q: Queryable, organizationId: string): Promise<Array<{ name: string; names: string[] }>> {
  const rows = await q.query<{ name: string; account: string }>(
    `SELECT m.name, a.name AS account FROM models m JOIN provider_accounts a ON a.id = m.provider_account_id AND a.organization_id = m.organization_id
     WHERE m.organization_id = $1 ORDER BY m.name, m.id`,
    [organizationId],
  );
  return rows.map((r) => ({ name: r.name, names: [r.name, `${r.account}/${r.name}`] }));
}

/** Ids of an organization's keys with this name that are not revoked. */
export async function findLiveKeyIdsByName(q: Queryable, organizationId: string, name: string): Promise<string[]> {
  const rows = await q.query<{ id: string }>("SELECT id FROM virtual_keys WHERE organization_id = $1 AND name = $2 AND status <> 'REVOKED' ORDER BY id", [organizationId, name]);
  return rows.map((r) => r.id);
}
