/** Inputs and payloads of virtual key and budget mutations, and key/usage filters. */
import type { BudgetEnforcement, BudgetMode, BudgetUnit, BudgetWindow, KeyKind, KeyStatus, Scope } from "@tollgate/policy";
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import type { KeyFormat } from "../../records.js";
import { BudgetEnforcementEnum, BudgetModeEnum, BudgetUnitEnum, BudgetWindowEnum, RateLimitUnitEnum, ScopeEnum, VirtualKeyFormatEnum, VirtualKeyKindEnum, VirtualKeyStatusEnum } from "../enums.js";
import { DateTimeScalar, DecimalScalar, JSONObjectScalar } from "../scalars.js";
import { Budget, VirtualKey } from "./virtual-key.type.js";

/** A budget of a key. */
@InputType({ description: "A budget. `limit` is in the unit: dollars for USD, a whole number for TOKENS and REQUESTS." })
export class BudgetInput {
  @Field(() => BudgetUnitEnum) unit: BudgetUnit;
  @Field(() => BudgetWindowEnum) window: BudgetWindow;
  @Field(() => DecimalScalar) limit: bigint;
  @Field(() => BudgetModeEnum, { nullable: true, description: "Default HARD." }) mode?: BudgetMode | null;
  @Field(() => BudgetEnforcementEnum, { nullable: true, description: "Default CAP_OUTPUT." }) enforcement?: BudgetEnforcement | null;
  @Field(() => [Float], { nullable: true, description: "Alert thresholds as fractions of the limit (0.5, 0.8, 1.0), in hundredths." }) alertThresholds?: number[] | null;
}

/** A rate limit of a key. */
@InputType()
export class RateLimitInput {
  @Field(() => RateLimitUnitEnum) unit: "REQUESTS" | "TOKENS";
  @Field(() => Int) limit: number;
  @Field(() => Int) windowSeconds: number;
}

/** Input of createVirtualKey. */
@InputType()
export class CreateVirtualKeyInput {
  @Field(() => ID) organizationId: string;
  @Field(() => String) name: string;
  @Field(() => VirtualKeyKindEnum) kind: KeyKind;
  @Field(() => ID, { nullable: true, description: "Owning team of a SERVICE key." }) teamId?: string | null;
  @Field(() => ID, { nullable: true, description: "Owner of a PERSONAL key (required for PERSONAL)." }) userId?: string | null;
  @Field(() => [String], { nullable: true, description: "Model names or * patterns; empty = all. A MEMBER may only allow models they may use themselves (FORBIDDEN otherwise)." }) allowedModels?:
    | string[]
    | null;
  @Field(() => [String], { nullable: true }) deniedModels?: string[] | null;
  @Field(() => [BudgetInput], { nullable: true }) budgets?: BudgetInput[] | null;
  @Field(() => [RateLimitInput], { nullable: true }) rateLimits?: RateLimitInput[] | null;
  @Field(() => DecimalScalar, { nullable: true, description: "Per-request spend cap in USD." }) maxCostPerRequest?: bigint | null;
  @Field(() => DateTimeScalar, { nullable: true }) expiresAt?: Date | null;
  @Field(() => VirtualKeyFormatEnum, {
    nullable: true,
    description: "Default OPAQUE. JWT: the secret is an EdDSA-signed token (header kid) with claims iss, sub (the key id), org, jti, iat and exp (when expiresAt is set).",
  })
  format?: KeyFormat | null;
  @Field(() => JSONObjectScalar, { nullable: true }) metadata?: Record<string, unknown> | null;
}

/** Payload of createVirtualKey. */
@ObjectType()
export class CreateVirtualKeyPayload {
  @Field(() => VirtualKey) virtualKey: VirtualKey;
  @Field(() => String, { description: "The secret; shown only this once." }) secret: string;
}

/** Input of updateVirtualKey: omitted fields are unchanged; budgets/rateLimits replace the key's own. */
@InputType()
export class UpdateVirtualKeyInput {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => ID, { nullable: true }) teamId?: string | null;
  @Field(() => [String], { nullable: true }) allowedModels?: string[] | null;
  @Field(() => [String], { nullable: true }) deniedModels?: string[] | null;
  @Field(() => [BudgetInput], { nullable: true }) budgets?: BudgetInput[] | null;
  @Field(() => [RateLimitInput], { nullable: true }) rateLimits?: RateLimitInput[] | null;
  @Field(() => DecimalScalar, { nullable: true, description: "null clears the cap." }) maxCostPerRequest?: bigint | null;
  @Field(() => DateTimeScalar, { nullable: true, description: "null clears the expiry." }) expiresAt?: Date | null;
  @Field(() => JSONObjectScalar, { nullable: true }) metadata?: Record<string, unknown> | null;
}

/** Payload of mutations answering with one key. */
@ObjectType()
export class UpdateVirtualKeyPayload {
  @Field(() => VirtualKey) virtualKey: VirtualKey;
}

/** Input of pauseVirtualKey. */
@InputType()
export class PauseVirtualKeyInput {
  @Field(() => ID) id: string;
}
/** Input of resumeVirtualKey. */
@InputType()
export class ResumeVirtualKeyInput extends PauseVirtualKeyInput {}
/** Input of revokeVirtualKey. */
@InputType()
export class RevokeVirtualKeyInput extends PauseVirtualKeyInput {}
/** Payload of pauseVirtualKey. */
@ObjectType()
export class PauseVirtualKeyPayload extends UpdateVirtualKeyPayload {}
/** Payload of resumeVirtualKey. */
@ObjectType()
export class ResumeVirtualKeyPayload extends UpdateVirtualKeyPayload {}
/** Payload of revokeVirtualKey. */
@ObjectType()
export class RevokeVirtualKeyPayload extends UpdateVirtualKeyPayload {}

/** Input of rotateVirtualKey. */
@InputType()
export class RotateVirtualKeyInput {
  @Field(() => ID) id: string;
  @Field(() => Int, { nullable: true, description: "How long the old secret keeps working (default 0)." }) gracePeriodSeconds?: number | null;
}
/** Payload of rotateVirtualKey. */
@ObjectType()
export class RotateVirtualKeyPayload extends CreateVirtualKeyPayload {}

/** Input of setBudget: one budget per (scope, scopeId, unit, window); setting again updates it. */
@InputType()
export class SetBudgetInput {
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => ID) scopeId: string;
  @Field(() => BudgetUnitEnum) unit: BudgetUnit;
  @Field(() => BudgetWindowEnum) window: BudgetWindow;
  @Field(() => DecimalScalar, { description: "In the unit: dollars for USD, a whole number for TOKENS and REQUESTS." }) limit: bigint;
  @Field(() => BudgetModeEnum, { nullable: true, description: "Default HARD." }) mode?: BudgetMode | null;
  @Field(() => BudgetEnforcementEnum, { nullable: true, description: "Default CAP_OUTPUT." }) enforcement?: BudgetEnforcement | null;
  @Field(() => [Float], { nullable: true, description: "Fractions of the limit (0.5, 0.8, 1.0): each fires once per window, delivered to the organization's webhook." }) alertThresholds?:
    | number[]
    | null;
}
/** Payload of setBudget. */
@ObjectType()
export class SetBudgetPayload {
  @Field(() => Budget) budget: Budget;
}
/** Input of removeBudget. */
@InputType()
export class RemoveBudgetInput {
  @Field(() => ID) id: string;
}
/** Payload of removeBudget. */
@ObjectType()
export class RemoveBudgetPayload extends SetBudgetPayload {}

/** Filter of the key listing. */
@InputType()
export class VirtualKeyFilter {
  @Field(() => VirtualKeyStatusEnum, { nullable: true }) status?: KeyStatus | null;
  @Field(() => VirtualKeyKindEnum, { nullable: true }) kind?: KeyKind | null;
  @Field(() => ID, { nullable: true }) teamId?: string | null;
  @Field(() => ID, { nullable: true }) userId?: string | null;
  @Field(() => String, { nullable: true, description: "Case-insensitive substring of the name." }) nameContains?: string | null;
}

/** Filter of the usage query. */
@InputType()
export class UsageFilter {
  @Field(() => ID, { nullable: true }) virtualKeyId?: string | null;
  @Field(() => ID, { nullable: true }) userId?: string | null;
  @Field(() => ID, { nullable: true }) teamId?: string | null;
  @Field(() => String, { nullable: true }) model?: string | null;
  @Field(() => ID, { nullable: true }) providerAccountId?: string | null;
}
