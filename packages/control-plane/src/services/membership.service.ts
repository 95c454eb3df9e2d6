/**
 * Editing and removing users (organization admins only). Removing a user deletes their membership
 * (the user row, team memberships, API tokens, user-scoped limits) and revokes their personal keys
 * in the same transaction; the keys stay, REVOKED, for history and usage.
 */
import { badInput, notFound } from "../errors.js";
import type { UserRecord, UserRole } from "../records.js";
import { deleteUserRow, deleteUserScopedLimits, lockUser, revokePersonalKeysOf, updateUserRow } from "../repositories/membership.repository.js";
import { findTeam, findUser, setUserTeams } from "../repositories/organization.repository.js";
import type { Queryable } from "../db/database.js";
import { assertCanManage, type Actor } from "./actor.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireName } from "./validate.js";

/** Fields of updateUser; undefined or null = unchanged. */
export interface UpdateUserInput {
  name?: string | null;
  role?: UserRole | null;
  teamIds?: readonly string[] | null;
}

/** A removed user as they were, with the personal keys revoked with them. */
export interface RemovedUser {
  readonly user: UserRecord;
  readonly revokedKeyIds: readonly string[];
}

/** Checks that every team is a team of the organization (BAD_USER_INPUT otherwise). */
export async function checkTeamsOf(q: Queryable, organizationId: string, teamIds: readonly string[]): Promise<void> {
  for (const teamId of teamIds) {
    const team = await findTeam(q, teamId);
    if (!team || team.organizationId !== organizationId) throw badInput(`teamIds: team ${teamId} not found in this organization`);
  }
}

async function loadUserForChange(q: Queryable, actor: Actor, id: string): Promise<UserRecord> {
  if (!(await lockUser(q, id))) throw notFound("user", id);
  const user = await findUser(q, id);
  if (!user) throw notFound("user", id);
  assertCanManage(actor, user.organizationId, "user", id);
  return user;
}

const auditView = (u: UserRecord): Record<string, unknown> => ({ email: u.email, name: u.name, role: u.role, active: u.active, teamIds: [...u.teamIds] });

/** User edits and removal. */
export class MembershipService {
  constructor(private readonly runner: MutationRunner) {}

  /** Changes a user's name, role and/or team memberships (given teamIds replace the memberships). */
  updateUser(actor: Actor, id: string, input: UpdateUserInput): Promise<UserRecord> {
    const name = input.name === undefined || input.name === null ? null : requireName("name", input.name);
    return this.runner.run(actor, true, async (m) => {
      const before = await loadUserForChange(m.tx, actor, id);
      if (input.teamIds !== undefined && input.teamIds !== null) {
        await checkTeamsOf(m.tx, before.organizationId, input.teamIds);
        await setUserTeams(m.tx, id, input.teamIds);
      }
      await updateUserRow(m.tx, id, { name: name ?? before.name, role: input.role ?? before.role }, m.nowMs);
      const user = await findUser(m.tx, id);
      if (!user) throw notFound("user", id);
      await m.audit({ organizationId: user.organizationId, action: "user.update", target: id, before: auditView(before), after: auditView(user) });
      return user;
    });
  }

  /** Removes a user from their organization; their personal keys are revoked in the same transaction. */
  removeUser(actor: Actor, id: string): Promise<RemovedUser> {
    return this.runner.run(actor, true, async (m) => {
      const user = await loadUserForChange(m.tx, actor, id);
      const revokedKeyIds = await revokePersonalKeysOf(m.tx, id, m.nowMs);
      await deleteUserScopedLimits(m.tx, id);
      await deleteUserRow(m.tx, id);
      await m.audit({ organizationId: user.organizationId, action: "user.remove", target: id, before: auditView(user), after: { removed: true, revokedKeyIds } });
      return { user, revokedKeyIds };
    });
  }
}
