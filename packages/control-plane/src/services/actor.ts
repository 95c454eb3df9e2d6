/**
 * Who is calling, taken from the bearer token (never from arguments), and the rights rules.
 *
 * - The platform admin may do everything.
 * - An organization ADMIN may do everything inside their organization, nothing outside it.
 * - A MEMBER may read `me`, and manage and read only their own PERSONAL keys and their own usage.
 * - Tenancy first: an object of an organization the caller does not belong to answers exactly like
 *   a missing one (NOT_FOUND, same message); a right the caller lacks inside their own organization
 *   is FORBIDDEN.
 */
import { AppError, notFound } from "../errors.js";
import type { UserRole } from "../records.js";

/** The caller of an admin operation. */
export type Actor = { readonly kind: "platformAdmin" } | { readonly kind: "user"; readonly userId: string; readonly organizationId: string; readonly role: UserRole };

/** A key as far as rights are concerned. */
export interface KeyOwnership {
  readonly id: string;
  readonly organizationId: string;
  readonly kind: "PERSONAL" | "SERVICE";
  readonly userId: string | null;
}

/** How an actor is written in the audit log. */
export function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case "platformAdmin":
      return "platform-admin";
    case "user":
      return `user:${actor.userId}`;
  }
}

/** True when the organization is within the actor's tenancy (the platform admin's is every one). */
export function canSeeOrganization(actor: Actor, organizationId: string): boolean {
  switch (actor.kind) {
    case "platformAdmin":
      return true;
    case "user":
      return actor.organizationId === organizationId;
  }
}

/** True when the actor administers the organization (platform admin, or its ADMIN). */
export function canManageOrganization(actor: Actor, organizationId: string): boolean {
  switch (actor.kind) {
    case "platformAdmin":
      return true;
    case "user":
      return actor.organizationId === organizationId && actor.role === "ADMIN";
  }
}

/** The MEMBER's user id when the actor is an organization MEMBER; null for admins. */
export function memberUserId(actor: Actor): string | null {
  return actor.kind === "user" && actor.role === "MEMBER" ? actor.userId : null;
}

/** FORBIDDEN with the standard message for a right the caller lacks. */
export function forbidden(message = "only organization admins may do this"): AppError {
  return new AppError("FORBIDDEN", message);
}

/** Throws NOT_FOUND unless the organization is within the actor's tenancy (rights are not checked). */
export function assertInTenancy(actor: Actor, organizationId: string, what = "organization", id = organizationId): void {
  if (!canSeeOrganization(actor, organizationId)) throw notFound(what, id);
}

/**
 * Throws unless the actor may read the organization's data: NOT_FOUND outside their tenancy,
 * FORBIDDEN for a MEMBER (members read only their own keys and usage, through key/usage checks).
 */
export function assertCanSee(actor: Actor, organizationId: string, what = "organization", id = organizationId): void {
  assertInTenancy(actor, organizationId, what, id);
  if (!canManageOrganization(actor, organizationId)) throw forbidden("members may read only their own keys and usage");
}

/** Throws unless the actor administers the organization: NOT_FOUND outside their tenancy, else FORBIDDEN. */
export function assertCanManage(actor: Actor, organizationId: string, what = "organization", id = organizationId): void {
  assertInTenancy(actor, organizationId, what, id);
  if (!canManageOrganization(actor, organizationId)) throw forbidden("only organization admins may change this");
}

/** Throws FORBIDDEN unless the actor is the platform admin (organizations, data-plane nodes). */
export function assertPlatformAdmin(actor: Actor): void {
  if (actor.kind !== "platformAdmin") throw forbidden("only the platform admin may do this");
}

/** True when the key is a PERSONAL key of the actor. */
export function ownsKey(actor: Actor, key: KeyOwnership): boolean {
  return actor.kind === "user" && key.kind === "PERSONAL" && key.userId === actor.userId && key.organizationId === actor.organizationId;
}

/**
 * Throws unless the actor may read and manage this key: admins of its organization, or the MEMBER
 * whose PERSONAL key it is. NOT_FOUND outside the tenancy, FORBIDDEN for someone else's key.
 */
export function assertCanManageKey(actor: Actor, key: KeyOwnership): void {
  assertInTenancy(actor, key.organizationId, "virtual key", key.id);
  if (canManageOrganization(actor, key.organizationId) || ownsKey(actor, key)) return;
  throw forbidden("members may manage only their own personal keys");
}

/** Organization ids the actor may list; null = all. Members may not list organizations (FORBIDDEN). */
export function visibleOrganizationIds(actor: Actor): string[] | null {
  switch (actor.kind) {
    case "platformAdmin":
      return null;
    case "user":
      if (actor.role !== "ADMIN") throw forbidden("members may read only their own keys and usage");
      return [actor.organizationId];
  }
}
