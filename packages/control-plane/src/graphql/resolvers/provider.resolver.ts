/** Resolvers of provider accounts and models. */
import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import { actorOf, type GraphQLContext } from "../context.js";
import {
  CreateModelInput,
  CreateModelPayload,
  CreateProviderAccountInput,
  CreateProviderAccountPayload,
  UpdateModelInput,
  UpdateModelPayload,
  UpsertModelInput,
  UpsertModelPayload,
  UpsertProviderAccountInput,
  UpsertProviderAccountPayload,
} from "../types/tenancy.input.js";
import { toModel, toProviderAccount } from "../types/provider.type.js";

/** Provider account and model mutations. */
@Resolver()
export class ProviderResolver {
  @Mutation(() => CreateProviderAccountPayload, { description: "CONFLICT when the name exists in the organization. apiKey is write-only." })
  async createProviderAccount(@Arg("input", () => CreateProviderAccountInput) input: CreateProviderAccountInput, @Ctx() ctx: GraphQLContext): Promise<CreateProviderAccountPayload> {
    return { providerAccount: toProviderAccount(await ctx.services.providers.createProviderAccount(actorOf(ctx), input)) };
  }

  @Mutation(() => UpsertProviderAccountPayload, { description: "Creates or updates the account with this name (the key is replaced)." })
  async upsertProviderAccount(@Arg("input", () => UpsertProviderAccountInput) input: UpsertProviderAccountInput, @Ctx() ctx: GraphQLContext): Promise<UpsertProviderAccountPayload> {
    return { providerAccount: toProviderAccount(await ctx.services.providers.upsertProviderAccount(actorOf(ctx), input)) };
  }

  @Mutation(() => CreateModelPayload, { description: "CONFLICT when the name exists on the provider account." })
  async createModel(@Arg("input", () => CreateModelInput) input: CreateModelInput, @Ctx() ctx: GraphQLContext): Promise<CreateModelPayload> {
    return { model: toModel(await ctx.services.providers.createModel(actorOf(ctx), input)) };
  }

  @Mutation(() => UpsertModelPayload, { description: "Creates or updates the model with this name on the account." })
  async upsertModel(@Arg("input", () => UpsertModelInput) input: UpsertModelInput, @Ctx() ctx: GraphQLContext): Promise<UpsertModelPayload> {
    return { model: toModel(await ctx.services.providers.upsertModel(actorOf(ctx), input)) };
  }

  @Mutation(() => UpdateModelPayload, { description: "Changes the given fields of a model (absent = unchanged, null = back to the default); NOT_FOUND for an unknown id." })
  async updateModel(@Arg("input", () => UpdateModelInput) input: UpdateModelInput, @Ctx() ctx: GraphQLContext): Promise<UpdateModelPayload> {
    return { model: toModel(await ctx.services.providers.updateModel(actorOf(ctx), input)) };
  }
}
