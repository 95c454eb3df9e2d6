/** SQL reads of the tenancy tables in the shape of the policy model (for the snapshot builder). */
import type { ModelPrice, OrganizationPolicy, TeamPolicy, UserPolicy } from "@tollgate/policy";
import { toBigIntOrNull, type Queryable } from "../db/database.js";

/** Starts a consistent read: call first inside a transaction. */
export async function beginSnapshotRead(q: Queryable): Promise<void> {
  await q.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

function priceOf(input: unknown, output: unknown, cached: unknown): ModelPrice | null {
  const i = toBigIntOrNull(input);
  const o = toBigIntOrNull(output);
  if (i === null || o === null) return null;
  return { inputPerMillion: i, outputPerMillion: o, cachedInputPerMillion: toBigIntOrNull(cached) };
}

/** Every organization as policy. */
export async function listOrganizationPolicies(q: Queryable): Promise<OrganizationPolicy[]> {
  const rows = await q.query<{ id: string; slug: string; name: string; allowed_models: string[]; denied_models: string[]; fi: string | null; fo: string | null; fc: string | null }>(
    `SELECT id, slug, name, allowed_models, denied_models, fallback_input_price_micros AS fi, fallback_output_price_micros AS fo,
       fallback_cached_input_price_micros AS fc FROM organizations ORDER BY id`,
  );
  return rows.map((r) => ({ id: r.id, slug: r.slug, name: r.name, access: { allow: r.allowed_models, deny: r.denied_models }, fallbackPrice: priceOf(r.fi, r.fo, r.fc) }));
}

/** Every team as policy. */
export async function listTeamPolicies(q: Queryable): Promise<TeamPolicy[]> {
  const rows = await q.query<{ id: string; organization_id: string; slug: string; name: string; allowed_models: string[]; denied_models: string[] }>(
    "SELECT id, organization_id, slug, name, allowed_models, denied_models FROM teams ORDER BY id",
  );
  return rows.map((r) => ({ id: r.id, organizationId: r.organization_id, slug: r.slug, name: r.name, access: { allow: r.allowed_models, deny: r.denied_models } }));
}

/** Every user as policy (with team memberships). */
export async function listUserPolicies(q: Queryable): Promise<UserPolicy[]> {
  const rows = await q.query<{ id: string; organization_id: string; email: string; active: boolean; allowed_models: string[]; denied_models: string[]; team_ids: string[] }>(
    `SELECT u.id, u.organization_id, u.email, u.active, u.allowed_models, u.denied_models,
       ARRAY(SELECT ut.team_id FROM user_teams ut WHERE ut.user_id = u.id ORDER BY ut.team_id) AS team_ids
     FROM users u ORDER BY u.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    organizationId: r.organization_id,
    email: r.email,
    active: r.active,
    teamIds: r.team_ids ?? [],
    access: { allow: r.allowed_models, deny: r.denied_models },
  }));
}
