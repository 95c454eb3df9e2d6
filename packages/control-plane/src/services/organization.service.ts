/** Organizations, teams and users: rights, rules and natural-key upserts. */
import { isUniqueViolation, type Database, type Queryable } from "../db/database.js";
import { conflict, notFound, badInput } from "../errors.js";
import type { OrganizationRecord, TeamRecord, UserRecord, UserRole } from "../records.js";
import * as repo from "../repositories/organization.repository.js";
import { assertCanManage, assertCanSee, assertInTenancy, assertPlatformAdmin, visibleOrganizationIds, type Actor } from "./actor.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireEmail, requireName, requireSlug } from "./validate.js";

/** Input of createUser/upsertUser. */
export interface UserInput {
  organizationId: string;
  email: string;
  name: string;
  role: UserRole;
  teamIds: readonly string[];
}

/** Runs `write`, turning a unique violation into CONFLICT with `message`. */
export async function withConflict<T>(message: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(message, e);
    throw e;
  }
}

/** Loads an organization within the actor's tenancy, or throws NOT_FOUND (rights are checked by the caller). */
export async function requireOrganization(q: Queryable, actor: Actor, id: string): Promise<OrganizationRecord> {
  assertInTenancy(actor, id);
  const org = await repo.findOrganization(q, id);
  if (!org) throw notFound("organization", id);
  return org;
}

/** Organization, team and user operations. */
export class OrganizationService {
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
  ) {}

  /** Creates an organization; CONFLICT when the slug exists. */
  createOrganization(actor: Actor, input: { name: string; slug: string }): Promise<OrganizationRecord> {
    assertPlatformAdmin(actor);
    const name = requireName("name", input.name);
    const slug = requireSlug("slug", input.slug);
    return this.runner.run(actor, true, async (m) => {
      const org = await withConflict(`organization slug "${slug}" already exists`, () => repo.insertOrganization(m.tx, { id: m.newId("org"), slug, name }, m.nowMs));
      await m.audit({ organizationId: org.id, action: "organization.create", target: org.id, after: { slug, name } });
      return org;
    });
  }

  /** Creates or updates the organization with this slug. */
  upsertOrganization(actor: Actor, input: { name: string; slug: string }): Promise<OrganizationRecord> {
    assertPlatformAdmin(actor);
    const name = requireName("name", input.name);
    const slug = requireSlug("slug", input.slug);
    return this.runner.run(actor, true, async (m) => {
      const org = await repo.upsertOrganizationBySlug(m.tx, { id: m.newId("org"), slug, name }, m.nowMs);
      await m.audit({ organizationId: org.id, action: "organization.upsert", target: org.id, after: { slug, name } });
      return org;
    });
  }

  /** Organizations the actor may see. */
  listOrganizations(actor: Actor): Promise<OrganizationRecord[]> {
    return repo.listOrganizations(this.db, visibleOrganizationIds(actor));
  }

  /** One organization the actor may see. */
  getOrganization(actor: Actor, id: string): Promise<OrganizationRecord> {
    assertCanSee(actor, id);
    return requireOrganization(this.db, actor, id);
  }

  /** Creates a team; CONFLICT when the slug exists in the organization. */
  createTeam(actor: Actor, input: { organizationId: string; name: string; slug: string }): Promise<TeamRecord> {
    return this.writeTeam(actor, input, false);
  }

  /** Creates or updates the team with this slug in the organization. */
  upsertTeam(actor: Actor, input: { organizationId: string; name: string; slug: string }): Promise<TeamRecord> {
    return this.writeTeam(actor, input, true);
  }

  private writeTeam(actor: Actor, input: { organizationId: string; name: string; slug: string }, upsert: boolean): Promise<TeamRecord> {
    assertCanManage(actor, input.organizationId);
    const name = requireName("name", input.name);
    const slug = requireSlug("slug", input.slug);
    return this.runner.run(actor, true, async (m) => {
      await requireOrganization(m.tx, actor, input.organizationId);
      const row = { id: m.newId("team"), organizationId: input.organizationId, slug, name };
      const team = upsert ? await repo.upsertTeamBySlug(m.tx, row, m.nowMs) : await withConflict(`team slug "${slug}" already exists in this organization`, () => repo.insertTeam(m.tx, row, m.nowMs));
      await m.audit({ organizationId: team.organizationId, action: upsert ? "team.upsert" : "team.create", target: team.id, after: { slug, name } });
      return team;
    });
  }

  /** Teams of an organization. */
  async listTeams(actor: Actor, organizationId: string): Promise<TeamRecord[]> {
    assertCanSee(actor, organizationId);
    return repo.listTeams(this.db, organizationId);
  }

  /** Users of an organization. */
  async listUsers(actor: Actor, organizationId: string): Promise<UserRecord[]> {
    assertCanSee(actor, organizationId);
    return repo.listUsers(this.db, organizationId);
  }

  /** Creates a user; CONFLICT when the email exists in the organization. */
  createUser(actor: Actor, input: UserInput): Promise<UserRecord> {
    return this.writeUser(actor, input, false);
  }

  /** Creates or updates the user with this email in the organization (team memberships replaced). */
  upsertUser(actor: Actor, input: UserInput): Promise<UserRecord> {
    return this.writeUser(actor, input, true);
  }

  private writeUser(actor: Actor, input: UserInput, upsert: boolean): Promise<UserRecord> {
    assertCanManage(actor, input.organizationId);
    const email = requireEmail(input.email);
    const name = requireName("name", input.name);
    return this.runner.run(actor, true, async (m) => {
      await requireOrganization(m.tx, actor, input.organizationId);
      for (const teamId of input.teamIds) {
        const team = await repo.findTeam(m.tx, teamId);
        if (!team || team.organizationId !== input.organizationId) throw badInput(`teamIds: team ${teamId} not found in this organization`);
      }
      const row = { id: m.newId("usr"), organizationId: input.organizationId, email, name, role: input.role };
      const id = upsert ? await repo.upsertUserByEmail(m.tx, row, m.nowMs) : await withConflict(`user email "${email}" already exists in this organization`, () => repo.insertUser(m.tx, row, m.nowMs));
      await repo.setUserTeams(m.tx, id, input.teamIds);
      const user = await repo.findUser(m.tx, id);
      if (!user) throw notFound("user", id);
      await m.audit({ organizationId: user.organizationId, action: upsert ? "user.upsert" : "user.create", target: id, after: { email, name, role: input.role, teamIds: user.teamIds } });
      return user;
    });
  }

  /** Deactivates a user: their personal keys stop working at once (through the snapshot). */
  deactivateUser(actor: Actor, id: string): Promise<UserRecord> {
    return this.runner.run(actor, true, async (m) => {
      const before = await repo.findUser(m.tx, id);
      if (!before) throw notFound("user", id);
      assertCanManage(actor, before.organizationId, "user", id);
      await repo.deactivateUserRow(m.tx, id, m.nowMs);
      await m.audit({ organizationId: before.organizationId, action: "user.deactivate", target: id, before: { active: before.active }, after: { active: false } });
      return { ...before, active: false, updatedAt: m.nowMs };
    });
  }

  /** One user the actor may see (admins of its organization, or the user themselves). */
  async getUser(actor: Actor, id: string): Promise<UserRecord> {
    const user = await repo.findUser(this.db, id);
    if (!user) throw notFound("user", id);
    if (!(actor.kind === "user" && actor.userId === id)) assertCanSee(actor, user.organizationId, "user", id);
    return user;
  }
}
