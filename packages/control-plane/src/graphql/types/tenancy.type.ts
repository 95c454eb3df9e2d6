/** GraphQL object types of organizations, teams, users and the caller. */
import { Field, ID, ObjectType } from "type-graphql";
import { ActorKindEnum, UserRoleEnum } from "../enums.js";
import { DateTimeScalar } from "../scalars.js";
import type { OrganizationRecord, TeamRecord, UserRecord, UserRole } from "../../records.js";

/** An organization (tenant). */
@ObjectType({ description: "An organization (tenant)." })
export class Organization {
  @Field(() => ID) id: string;
  @Field(() => String) name: string;
  @Field(() => String, { description: "Unique across the platform." }) slug: string;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** A team of an organization. */
@ObjectType({ description: "A team of an organization." })
export class Team {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => String) name: string;
  @Field(() => String, { description: "Unique in its organization." }) slug: string;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** A user of an organization. */
@ObjectType({ description: "A user of an organization." })
export class User {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => String, { description: "Unique in its organization (lowercased)." }) email: string;
  @Field(() => String) name: string;
  @Field(() => UserRoleEnum) role: UserRole;
  @Field(() => Boolean, { description: "false once deactivated: their personal keys stop working." }) active: boolean;
  @Field(() => [ID]) teamIds: string[];
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** The caller. */
@ObjectType({ description: "Who the bearer token belongs to." })
export class Me {
  @Field(() => ActorKindEnum) kind: keyof typeof ActorKindEnum;
  @Field(() => User, { nullable: true, description: "The user, for a user's API token." }) user: User | null;
  @Field(() => ID, { nullable: true }) organizationId: string | null;
}

/** Maps a record to its GraphQL object. */
export function toOrganization(r: OrganizationRecord): Organization {
  return { id: r.id, name: r.name, slug: r.slug, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) };
}

/** Maps a record to its GraphQL object. */
export function toTeam(r: TeamRecord): Team {
  return { id: r.id, organizationId: r.organizationId, name: r.name, slug: r.slug, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) };
}

/** Maps a record to its GraphQL object. */
export function toUser(r: UserRecord): User {
  return {
    id: r.id,
    organizationId: r.organizationId,
    email: r.email,
    name: r.name,
    role: r.role,
    active: r.active,
    teamIds: [...r.teamIds],
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}
