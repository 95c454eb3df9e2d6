/** SQL of `organizations`, `teams`, `users` and `user_teams`. */
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";
import type { OrganizationRecord, TeamRecord, UserRecord, UserRole } from "../records.js";

interface OrgRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}
interface TeamRow extends OrgRow {
  organization_id: string;
}
interface UserRow {
  id: string;
  organization_id: string;
  email: string;
  name: string;
  role: UserRole;
  active: boolean;
  team_ids: string[] | null;
  created_at: Date;
  updated_at: Date;
}

const ms = (d: Date): number => toMsOrNull(d) ?? 0;
const toOrg = (r: OrgRow): OrganizationRecord => ({ id: r.id, slug: r.slug, name: r.name, createdAt: ms(r.created_at), updatedAt: ms(r.updated_at) });
const toTeam = (r: TeamRow): TeamRecord => ({ ...toOrg(r), organizationId: r.organization_id });
const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  email: r.email,
  name: r.name,
  role: r.role,
  active: r.active,
  teamIds: [...(r.team_ids ?? [])].sort(),
  createdAt: ms(r.created_at),
  updatedAt: ms(r.updated_at),
});

/** Inserts an organization (unique slug: a duplicate throws a unique violation). */
export async function insertOrganization(q: Queryable, o: { id: string; slug: string; name: string }, nowMs: number): Promise<OrganizationRecord> {
  const rows = await q.query<OrgRow>("INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id, slug, name, created_at, updated_at", [
    o.id,
    o.slug,
    o.name,
    isoOf(nowMs),
  ]);
  return toOrg(rows[0] as OrgRow);
}

/** Inserts or updates (by slug) an organization. */
export async function upsertOrganizationBySlug(q: Queryable, o: { id: string; slug: string; name: string }, nowMs: number): Promise<OrganizationRecord> {
  const rows = await q.query<OrgRow>(
    `INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
     RETURNING id, slug, name, created_at, updated_at`,
    [o.id, o.slug, o.name, isoOf(nowMs)],
  );
  return toOrg(rows[0] as OrgRow);
}

/** One organization, or null. */
export async function findOrganization(q: Queryable, id: string): Promise<OrganizationRecord | null> {
  const rows = await q.query<OrgRow>("SELECT id, slug, name, created_at, updated_at FROM organizations WHERE id = $1", [id]);
  return rows[0] ? toOrg(rows[0]) : null;
}

/** Organizations ordered by slug; `ids` null = all. */
export async function listOrganizations(q: Queryable, ids: readonly string[] | null): Promise<OrganizationRecord[]> {
  const rows =
    ids === null
      ? await q.query<OrgRow>("SELECT id, slug, name, created_at, updated_at FROM organizations ORDER BY slug")
      : await q.query<OrgRow>("SELECT id, slug, name, created_at, updated_at FROM organizations WHERE id = ANY($1::text[]) ORDER BY slug", [ids]);
  return rows.map(toOrg);
}

const TEAM_COLUMNS = "id, organization_id, slug, name, created_at, updated_at";

/** Inserts a team (unique slug in its organization). */
export async function insertTeam(q: Queryable, t: { id: string; organizationId: string; slug: string; name: string }, nowMs: number): Promise<TeamRecord> {
  const rows = await q.query<TeamRow>(`INSERT INTO teams (id, organization_id, slug, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ${TEAM_COLUMNS}`, [
    t.id,
    t.organizationId,
    t.slug,
    t.name,
    isoOf(nowMs),
  ]);
  return toTeam(rows[0] as TeamRow);
}

/** Inserts or updates (by organization + slug) a team. */
export async function upsertTeamBySlug(q: Queryable, t: { id: string; organizationId: string; slug: string; name: string }, nowMs: number): Promise<TeamRecord> {
  const rows = await q.query<TeamRow>(
    `INSERT INTO teams (id, organization_id, slug, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (organization_id, slug) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
     RETURNING ${TEAM_COLUMNS}`,
    [t.id, t.organizationId, t.slug, t.name, isoOf(nowMs)],
  );
  return toTeam(rows[0] as TeamRow);
}

/** One team, or null. */
export async function findTeam(q: Queryable, id: string): Promise<TeamRecord | null> {
  const rows = await q.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE id = $1`, [id]);
  return rows[0] ? toTeam(rows[0]) : null;
}

/** Teams of an organization ordered by slug. */
export async function listTeams(q: Queryable, organizationId: string): Promise<TeamRecord[]> {
  const rows = await q.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE organization_id = $1 ORDER BY slug`, [organizationId]);
  return rows.map(toTeam);
}

const USER_SELECT = `SELECT u.id, u.organization_id, u.email, u.name, u.role, u.active, u.created_at, u.updated_at,
  ARRAY(SELECT ut.team_id FROM user_teams ut WHERE ut.user_id = u.id ORDER BY ut.team_id) AS team_ids FROM users u`;

/** Fields written for a user. */
export interface UserWrite {
  id: string;
  organizationId: string;
  email: string;
  name: string;
  role: UserRole;
}

/** Inserts a user (unique email in its organization). */
export async function insertUser(q: Queryable, u: UserWrite, nowMs: number): Promise<string> {
  const rows = await q.query<{ id: string }>("INSERT INTO users (id, organization_id, email, name, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id", [
    u.id,
    u.organizationId,
    u.email,
    u.name,
    u.role,
    isoOf(nowMs),
  ]);
  return (rows[0] as { id: string }).id;
}

/** Inserts or updates (by organization + email) a user; resolves to its id. */
export async function upsertUserByEmail(q: Queryable, u: UserWrite, nowMs: number): Promise<string> {
  const rows = await q.query<{ id: string }>(
    `INSERT INTO users (id, organization_id, email, name, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (organization_id, email) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, updated_at = EXCLUDED.updated_at
     RETURNING id`,
    [u.id, u.organizationId, u.email, u.name, u.role, isoOf(nowMs)],
  );
  return (rows[0] as { id: string }).id;
}

/** Replaces a user's team memberships. */
export async function setUserTeams(q: Queryable, userId: string, teamIds: readonly string[]): Promise<void> {
  await q.query("DELETE FROM user_teams WHERE user_id = $1", [userId]);
  if (teamIds.length > 0) {
    await q.query("INSERT INTO user_teams (user_id, team_id) SELECT $1, unnest($2::text[])", [userId, [...new Set(teamIds)]]);
  }
}

/** Marks a user inactive. */
export async function deactivateUserRow(q: Queryable, id: string, nowMs: number): Promise<void> {
  await q.query("UPDATE users SET active = false, updated_at = $2 WHERE id = $1", [id, isoOf(nowMs)]);
}

/** One user, or null. */
export async function findUser(q: Queryable, id: string): Promise<UserRecord | null> {
  const rows = await q.query<UserRow>(`${USER_SELECT} WHERE u.id = $1`, [id]);
  return rows[0] ? toUser(rows[0]) : null;
}

/** Users of an organization ordered by email. */
export async function listUsers(q: Queryable, organizationId: string): Promise<UserRecord[]> {
  const rows = await q.query<UserRow>(`${USER_SELECT} WHERE u.organization_id = $1 ORDER BY u.email`, [organizationId]);
  return rows.map(toUser);
}
