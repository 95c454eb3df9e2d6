/** GraphQL object types of provider accounts and models. */
import type { ProviderKind } from "@tollgate/policy";
import { Field, ID, Int, ObjectType } from "type-graphql";
import type { ModelRecord, ProviderAccountRecord } from "../../records.js";
import { ProviderKindEnum } from "../enums.js";
import { DateTimeScalar, DecimalScalar } from "../scalars.js";

/** An upstream account; its API key is write-only. */
@ObjectType({ description: "An upstream provider account. The API key is write-only: only a hint is readable." })
export class ProviderAccount {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => String) name: string;
  @Field(() => ProviderKindEnum) provider: ProviderKind;
  @Field(() => String) baseUrl: string;
  @Field(() => String, { description: 'Like "sk-...abcd".' }) apiKeyHint: string;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** A model routed to a provider account. */
@ObjectType({ description: "A model an organization exposes, routed to one provider account. Prices are US dollars per million tokens." })
export class Model {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => ID) providerAccountId: string;
  @Field(() => String, { description: "Public name callers use." }) name: string;
  @Field(() => String, { description: "Model id sent upstream." }) upstreamModel: string;
  @Field(() => DecimalScalar, { nullable: true, description: "null = unpriced (refused, never free)." }) inputPricePerMillion: bigint | null;
  @Field(() => DecimalScalar, { nullable: true }) outputPricePerMillion: bigint | null;
  @Field(() => DecimalScalar, { nullable: true, description: "null = same as input." }) cachedInputPricePerMillion: bigint | null;
  @Field(() => DecimalScalar, {
    nullable: true,
    description:
      "USD per million input tokens written to the prompt cache, as set; null = the provider's default (1.25x input for ANTHROPIC accounts, 1-hour writes at 2x; the input price elsewhere).",
  })
  cacheWriteInputPricePerMillion: bigint | null;
  @Field(() => DecimalScalar, { nullable: true, description: "USD per million audio input tokens; null = the model serves no audio." }) audioInputPricePerMillion: bigint | null;
  @Field(() => DecimalScalar, { nullable: true, description: "USD per million audio output tokens; null = the model serves no audio." }) audioOutputPricePerMillion: bigint | null;
  @Field(() => Boolean) priced: boolean;
  @Field(() => Int) maxOutputTokens: number;
  @Field(() => Int, { description: "Share of traffic within its route group and priority (0 = standby)." }) weight: number;
  @Field(() => Int, { description: "Route-group order: lower is tried first." }) priority: number;
  @Field(() => Int, { nullable: true, description: "Tokens one image may count in the input bound; null = the provider's default (1500 OpenAI-style, 1600 Anthropic and Google)." }) imageInputTokens:
    | number
    | null;
  @Field(() => Int, {
    nullable: true,
    description:
      "Tokens one part the gateway cannot size may count in the input bound (a file by id or URI, a document, cached content, inline audio or video, a server-side tool); null = not set: such requests are refused for keys under a hard USD or TOKENS budget or a per-request cost limit.",
  })
  maxInputTokensPerAttachment: number | null;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** Maps a record to its GraphQL object. */
export function toProviderAccount(r: ProviderAccountRecord): ProviderAccount {
  return {
    id: r.id,
    organizationId: r.organizationId,
    name: r.name,
    provider: r.provider,
    baseUrl: r.baseUrl,
    apiKeyHint: r.apiKeyHint,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}

/** Maps a record to its GraphQL object. */
export function toModel(r: ModelRecord): Model {
  return {
    id: r.id,
    organizationId: r.organizationId,
    providerAccountId: r.providerAccountId,
    name: r.name,
    upstreamModel: r.upstreamModel,
    inputPricePerMillion: r.inputPricePerMillion,
    outputPricePerMillion: r.outputPricePerMillion,
    cachedInputPricePerMillion: r.cachedInputPricePerMillion,
    cacheWriteInputPricePerMillion: r.cacheWriteInputPricePerMillion,
    audioInputPricePerMillion: r.audioInputPricePerMillion,
    audioOutputPricePerMillion: r.audioOutputPricePerMillion,
    priced: r.inputPricePerMillion !== null && r.outputPricePerMillion !== null,
    maxOutputTokens: r.maxOutputTokens,
    weight: r.weight,
    priority: r.priority,
    imageInputTokens: r.imageInputTokens,
    maxInputTokensPerAttachment: r.maxInputTokensPerAttachment,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}
