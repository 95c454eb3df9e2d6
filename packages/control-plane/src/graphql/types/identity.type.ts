/** GraphQL object types of admin-API tokens. */
import { Field, ID, ObjectType } from "type-graphql";
import type { ApiTokenRecord } from "../../repositories/api-token.repository.js";
import { DateTimeScalar } from "../scalars.js";

/** An admin-API token bound to a user (its secret is shown once, at creation). */
@ObjectType({ description: "An admin-API token bound to a user: it carries that user's rights. The secret is shown once, at creation." })
export class ApiToken {
  @Field(() => ID) id: string;
  @Field(() => String) name: string;
  @Field(() => ID) userId: string;
  @Field(() => ID) organizationId: string;
  @Field(() => String, { description: "First 12 characters of the secret (tg_api_...)." }) prefix: string;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: "Last use, to the minute." }) lastUsedAt: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) revokedAt: Date | null;
}

/** Maps a record to its GraphQL object. */
export function toApiToken(r: ApiTokenRecord): ApiToken {
  return {
    id: r.id,
    name: r.name,
    userId: r.userId,
    organizationId: r.organizationId,
    prefix: r.prefix,
    createdAt: new Date(r.createdAt),
    lastUsedAt: r.lastUsedAt === null ? null : new Date(r.lastUsedAt),
    revokedAt: r.revokedAt === null ? null : new Date(r.revokedAt),
  };
}
