/** Inputs and payloads of organization, team, user, provider account and model mutations. */
import type { ProviderKind } from "@tollgate/policy";
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import type { UserRole } from "../../records.js";
import { ProviderKindEnum, UserRoleEnum } from "../enums.js";
import { DecimalScalar } from "../scalars.js";
import { Model, ProviderAccount } from "./provider.type.js";
import { Organization, Team, User } from "./tenancy.type.js";

/** Input of createOrganization. */
@InputType()
export class CreateOrganizationInput {
  @Field(() => String) name: string;
  @Field(() => String, { description: "1-64 lowercase letters, digits or dashes; unique." }) slug: string;
}
/** Input of upsertOrganization (keyed by slug). */
@InputType()
export class UpsertOrganizationInput extends CreateOrganizationInput {}
/** Payload of createOrganization. */
@ObjectType()
export class CreateOrganizationPayload {
  @Field(() => Organization) organization: Organization;
}
/** Payload of upsertOrganization. */
@ObjectType()
export class UpsertOrganizationPayload extends CreateOrganizationPayload {}

/** Input of createTeam. */
@InputType()
export class CreateTeamInput {
  @Field(() => ID) organizationId: string;
  @Field(() => String) name: string;
  @Field(() => String, { description: "Unique in the organization." }) slug: string;
}
/** Input of upsertTeam (keyed by organizationId + slug). */
@InputType()
export class UpsertTeamInput extends CreateTeamInput {}
/** Payload of createTeam. */
@ObjectType()
export class CreateTeamPayload {
  @Field(() => Team) team: Team;
}
/** Payload of upsertTeam. */
@ObjectType()
export class UpsertTeamPayload extends CreateTeamPayload {}

/** Input of createUser. */
@InputType()
export class CreateUserInput {
  @Field(() => ID) organizationId: string;
  @Field(() => String, { description: "Unique in the organization." }) email: string;
  @Field(() => String) name: string;
  @Field(() => UserRoleEnum, { nullable: true, description: "Default MEMBER." }) role?: UserRole | null;
  @Field(() => [ID], { nullable: true, description: "Teams of the organization (replaced on upsert)." }) teamIds?: string[] | null;
}
/** Input of upsertUser (keyed by organizationId + email). */
@InputType()
export class UpsertUserInput extends CreateUserInput {}
/** Payload of createUser. */
@ObjectType()
export class CreateUserPayload {
  @Field(() => User) user: User;
}
/** Payload of upsertUser. */
@ObjectType()
export class UpsertUserPayload extends CreateUserPayload {}

/** Input of deactivateUser. */
@InputType()
export class DeactivateUserInput {
  @Field(() => ID) id: string;
}
/** Payload of deactivateUser. */
@ObjectType()
export class DeactivateUserPayload extends CreateUserPayload {}

/** Input of createProviderAccount. */
@InputType()
export class CreateProviderAccountInput {
  @Field(() => ID) organizationId: string;
  @Field(() => String, { description: "Unique in the organization." }) name: string;
  @Field(() => ProviderKindEnum) provider: ProviderKind;
  @Field(() => String, { nullable: true, description: "Default per provider: https://api.openai.com/v1, https://api.anthropic.com, https://generativelanguage.googleapis.com." }) baseUrl?:
    | string
    | null;
  @Field(() => String, { description: "Write-only; stored encrypted." }) apiKey: string;
}
/** Input of upsertProviderAccount (keyed by organizationId + name). */
@InputType()
export class UpsertProviderAccountInput extends CreateProviderAccountInput {}
/** Payload of createProviderAccount. */
@ObjectType()
export class CreateProviderAccountPayload {
  @Field(() => ProviderAccount) providerAccount: ProviderAccount;
}
/** Payload of upsertProviderAccount. */
@ObjectType()
export class UpsertProviderAccountPayload extends CreateProviderAccountPayload {}

/** Input of createModel. */
@InputType()
export class CreateModelInput {
  @Field(() => ID) providerAccountId: string;
  @Field(() => String, { description: "Public name; unique per provider account." }) name: string;
  @Field(() => String, { nullable: true, description: "Default: name." }) upstreamModel?: string | null;
  @Field(() => DecimalScalar, { nullable: true, description: "USD per million input tokens; omit both prices for an unpriced model (refused)." }) inputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) outputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) cachedInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: "USD per million input tokens written to the prompt cache. Unset: 1.25x the input price for ANTHROPIC accounts (1-hour cache writes at 2x); none (the input price) elsewhere.",
  })
  cacheWriteInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: "USD per million audio input tokens (with audioOutputPricePerMillion). Unset: the model serves no audio; requests with audio are refused.",
  })
  audioInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) audioOutputPricePerMillion?: bigint | null;
  @Field(() => Int, { nullable: true, description: "Default 4096." }) maxOutputTokens?: number | null;
  @Field(() => Int, {
    nullable: true,
    description: "Share of traffic among the models with this name in the organization (its route group) at the same priority. Default 1; 0 = standby (tried after the others).",
  })
  weight?: number | null;
  @Field(() => Int, { nullable: true, description: "Route-group order: lower priorities are tried first, higher ones are fallbacks. Default 0." }) priority?: number | null;
  @Field(() => Int, { nullable: true, description: "Tokens one image may count in the input bound (1 to 10,000,000). Default: the provider's (1500 OpenAI-style, 1600 Anthropic and Google)." })
  imageInputTokens?: number | null;
  @Field(() => Int, {
    nullable: true,
    description:
      "Tokens one part the gateway cannot size may count (a file by id or URI, a document, cached content, inline audio or video, a server-side tool; 1 to 10,000,000). Default: not set, such requests are refused for keys under a hard USD or TOKENS budget or a per-request cost limit.",
  })
  maxInputTokensPerAttachment?: number | null;
}
/** Input of upsertModel (keyed by providerAccountId + name). */
@InputType()
export class UpsertModelInput extends CreateModelInput {}
/** Input of updateModel: the fields to change (absent = unchanged; null = back to the default). */
@InputType()
export class UpdateModelInput {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) upstreamModel?: string | null;
  @Field(() => DecimalScalar, { nullable: true, description: "null with outputPricePerMillion null = unpriced (refused)." }) inputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) outputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) cachedInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true, description: "null = the provider's default (1.25x input for ANTHROPIC accounts, 1-hour writes 2x; the input price elsewhere)." })
  cacheWriteInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: "USD per million audio input tokens (with audioOutputPricePerMillion). Unset: the model serves no audio; requests with audio are refused.",
  })
  audioInputPricePerMillion?: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) audioOutputPricePerMillion?: bigint | null;
  @Field(() => Int, { nullable: true }) maxOutputTokens?: number | null;
  @Field(() => Int, { nullable: true }) weight?: number | null;
  @Field(() => Int, { nullable: true }) priority?: number | null;
  @Field(() => Int, { nullable: true, description: "null = the provider's default." }) imageInputTokens?: number | null;
  @Field(() => Int, { nullable: true, description: "null = not set." }) maxInputTokensPerAttachment?: number | null;
}
/** Payload of updateModel. */
@ObjectType()
export class UpdateModelPayload {
  @Field(() => Model) model: Model;
}
/** Payload of createModel. */
@ObjectType()
export class CreateModelPayload {
  @Field(() => Model) model: Model;
}
/** Payload of upsertModel. */
@ObjectType()
export class UpsertModelPayload extends CreateModelPayload {}
