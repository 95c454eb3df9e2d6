/** Inputs and payloads of API token, user-management and upsertVirtualKey mutations. */
import { Field, ID, InputType, ObjectType } from "type-graphql";
import type { UserRole } from "../../records.js";
import { UserRoleEnum } from "../enums.js";
import { ApiToken } from "./identity.type.js";
import { User } from "./tenancy.type.js";
import { CreateVirtualKeyInput } from "./virtual-key.input.js";
import { VirtualKey } from "./virtual-key.type.js";

/** Input of createApiToken. */
@InputType()
export class CreateApiTokenInput {
  @Field(() => ID) organizationId: string;
  @Field(() => ID, { description: "The user whose rights the token carries (an active user of the organization)." }) userId: string;
  @Field(() => String) name: string;
}
/** Payload of createApiToken. */
@ObjectType()
export class CreateApiTokenPayload {
  @Field(() => ApiToken) apiToken: ApiToken;
  @Field(() => String, { description: "The bearer token; shown only this once." }) secret: string;
}

/** Input of revokeApiToken. */
@InputType()
export class RevokeApiTokenInput {
  @Field(() => ID) id: string;
}
/** Payload of revokeApiToken. */
@ObjectType()
export class RevokeApiTokenPayload {
  @Field(() => ApiToken) apiToken: ApiToken;
}

/** Input of updateUser: omitted fields are unchanged. */
@InputType()
export class UpdateUserInput {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => UserRoleEnum, { nullable: true }) role?: UserRole | null;
  @Field(() => [ID], { nullable: true, description: "Replaces the user's team memberships." }) teamIds?: string[] | null;
}
/** Payload of updateUser. */
@ObjectType()
export class UpdateUserPayload {
  @Field(() => User) user: User;
}

/** Input of removeUser. */
@InputType()
export class RemoveUserInput {
  @Field(() => ID) id: string;
}
/** Payload of removeUser. */
@ObjectType()
export class RemoveUserPayload {
  @Field(() => User, { description: "The user as they were." }) user: User;
  @Field(() => [ID], { description: "Their personal keys, revoked with them." }) revokedVirtualKeyIds: string[];
}

/** Input of upsertVirtualKey (keyed by organizationId + name among keys not revoked). */
@InputType({
  description: "Keyed by (organizationId, name) among the organization's keys that are not revoked. When the key exists, omitted fields are unchanged; kind, userId and format cannot change.",
})
export class UpsertVirtualKeyInput extends CreateVirtualKeyInput {}
/** Payload of upsertVirtualKey. */
@ObjectType()
export class UpsertVirtualKeyPayload {
  @Field(() => VirtualKey) virtualKey: VirtualKey;
  @Field(() => String, { nullable: true, description: "The secret when the key was created now (shown only this once); null when it already existed." }) secret: string | null;
  @Field(() => Boolean, { description: "true when the key was created by this call." }) created: boolean;
}
