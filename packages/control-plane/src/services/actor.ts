/**
 * Who is calling, taken from the bearer token (never from arguments), and the tenancy rules.
 * An organization the caller may not see answers exactly like a missing one (NOT_FOUND).
 */
import { AppError, notFound } from "../errors.js";
import type { UserRole } from "../records.js";

/** The caller of an admin operation. */
export type Actor =
  | { readonly kind: "platformAdmin" }
  | { readonly kind: "user"; readonly userId: string; readonly organizationId: string; readonly role: UserRole };

/** How an actor is written in the audit log. */
export function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case "platformAdmin":
      return "platform-admin";
    case "user":
      return `user:${actor.userId}`;
  }
}

/** True when the actor may read the organization's data. */
export function canSeeOrganization(actor: Actor, organizationId: string): boolean {
  switch (actor.kind) {
    case "platformAdmin":
      return true;
    case "user":
      return actor.organizationId === organizationId;
  }
}

/** Throws NOT_FOUND unless the actor may read the organization. */
export function assertCanSee(actor: Actor, organizationId: string, what = "organization", id = organizationId): void {
  if (!canSeeOrganization(actor, organizationId)) throw notFound(what, id);
}

/** Throws unless the actor administers the organization (platform admin or organization ADMIN). */
export function assertCanManage(actor: Actor, organizationId: string, what = "organization", id = organizationId): void {
  assertCanSee(actor, organizationId, what, id);
  if (actor.kind === "user" && actor.role !== "ADMIN") throw new AppError("FORBIDDEN", "only organization admins may change this");
}

/** Throws unless the actor is the platform admin (creating organizations). */
export function assertPlatformAdmin(actor: Actor): void {
  if (actor.kind !== "platformAdmin") throw new AppError("FORBIDDEN", "only the platform admin may do this");
}

/** Organization ids the actor may list; null = all. */
export function visibleOrganizationIds(actor: Actor): string[] | null {
  switch (actor.kind) {
    case "platformAdmin":
      return null;
    case "user":
      return [actor.organizationId];
  }
}
