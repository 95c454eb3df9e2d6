/**
 * What a MEMBER may do with keys: create PERSONAL keys for themselves only, never attribute them
 * to a team, and allow only models they may use themselves. Admins are not restricted here.
 *
 * Allowed models: every model of the organization matched by an `allowedModels` entry (by its
 * plain or `<account>/<name>` name) must pass the member's organization, team and user allow/deny
 * lists; otherwise the call is FORBIDDEN, naming the entry and the model. Entries that match no
 * model grant nothing (requests are checked against the whole chain anyway) and are accepted.
 */
import { findMatchingPattern, isModelAllowed, type KeyKind, type Scope } from "@tollgate/policy";
import type { Queryable } from "../db/database.js";
import { notFound } from "../errors.js";
import { listModelNames, readMemberAccessPath } from "../repositories/membership.repository.js";
import { findVirtualKey } from "../repositories/virtual-key.repository.js";
import { assertCanManage, assertCanManageKey, assertCanSee, assertInTenancy, canManageOrganization, forbidden, memberUserId, type Actor } from "./actor.js";

/** Throws unless the actor may create (or upsert) a key of this kind and owner in the organization. */
export function assertMayCreateKey(actor: Actor, input: { organizationId: string; kind: KeyKind; userId?: string | null; teamId?: string | null }): void {
  assertInTenancy(actor, input.organizationId);
  if (canManageOrganization(actor, input.organizationId)) return;
  const self = memberUserId(actor);
  if (self === null) throw forbidden();
  if (input.kind !== "PERSONAL") throw forbidden("only organization admins create SERVICE keys");
  if ((input.userId ?? null) !== self) throw forbidden("members create personal keys only for themselves");
  if ((input.teamId ?? null) !== null) throw forbidden("members cannot attribute a personal key to a team");
}

/** Throws FORBIDDEN when a MEMBER's `allowedModels` reaches a model they may not use (no-op for admins). */
export async function assertModelsWithinMemberAccess(q: Queryable, actor: Actor, organizationId: string, allowedModels: readonly string[]): Promise<void> {
  const self = memberUserId(actor);
  if (self === null || allowedModels.length === 0) return;
  const path = await readMemberAccessPath(q, self);
  if (path === null) throw notFound("user", self);
  const mayUse = (names: readonly string[]): boolean => isModelAllowed(path.organization, names) && path.teams.every((t) => isModelAllowed(t, names)) && isModelAllowed(path.user, names);
  for (const model of await listModelNames(q, organizationId)) {
    const entry = findMatchingPattern(allowedModels, model.names);
    if (entry !== null && !mayUse(model.names)) {
      throw forbidden(`allowedModels: "${entry}" includes model "${model.name}", which you may not use`);
    }
  }
}

/**
 * The key-listing filter an actor may use: admins' as given (after the read check); a MEMBER's is
 * forced to their own keys (asking for another user's keys is FORBIDDEN).
 */
export function scopeKeyFilter<F extends { userId?: string | null }>(actor: Actor, organizationId: string, filter: F): F {
  assertInTenancy(actor, organizationId);
  if (canManageOrganization(actor, organizationId)) return filter;
  const self = memberUserId(actor);
  if (self === null) throw forbidden();
  if ((filter.userId ?? null) !== null && filter.userId !== self) throw forbidden("members may list only their own keys");
  return { ...filter, userId: self };
}

/**
 * Throws unless the actor may change (or, with `read`, read) the limits attached to a scope object
 * of the organization: a key's limits follow the key's rights (its MEMBER owner included); every
 * other scope is for organization admins. A change locks the key's row, so a MEMBER's "only
 * tighten" comparison (`member-limits.ts`) and an admin's concurrent change are serialized.
 */
export async function assertCanManageScope(q: Queryable, actor: Actor, organizationId: string, scope: Scope, scopeId: string, read = false): Promise<void> {
  if (scope === "VIRTUAL_KEY") {
    const key = await findVirtualKey(q, scopeId, !read);
    if (!key) throw notFound("virtual key", scopeId);
    assertCanManageKey(actor, key);
    return;
  }
  const what = scope.toLowerCase().replace("_", " ");
  if (read) assertCanSee(actor, organizationId, what, scopeId);
  else assertCanManage(actor, organizationId, what, scopeId);
}
