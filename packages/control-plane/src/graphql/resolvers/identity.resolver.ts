/** Resolvers of admin-API tokens, user edits and removal, and upsertVirtualKey. */
import { Arg, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import { actorOf, type GraphQLContext } from "../context.js";
import {
  CreateApiTokenInput,
  CreateApiTokenPayload,
  RemoveUserInput,
  RemoveUserPayload,
  RevokeApiTokenInput,
  RevokeApiTokenPayload,
  UpdateUserInput,
  UpdateUserPayload,
  UpsertVirtualKeyInput,
  UpsertVirtualKeyPayload,
} from "../types/identity.input.js";
import { ApiToken, toApiToken } from "../types/identity.type.js";
import { toUser } from "../types/tenancy.type.js";
import { toVirtualKey } from "../types/virtual-key.type.js";
import { toBudgetSpec } from "./virtual-key.resolver.js";

/** Token, user-management and key-upsert operations. */
@Resolver()
export class IdentityResolver {
  @Query(() => [ApiToken], { description: "Admin-API tokens of an organization (of one user when userId is given)." })
  async apiTokens(@Arg("organizationId", () => ID) organizationId: string, @Arg("userId", () => ID, { nullable: true }) userId: string | null, @Ctx() ctx: GraphQLContext): Promise<ApiToken[]> {
    return (await ctx.services.apiTokens.list(actorOf(ctx), organizationId, userId ?? null)).map(toApiToken);
  }

  @Mutation(() => CreateApiTokenPayload, { description: "Issues an admin-API token carrying the user's rights. The secret is returned only here." })
  async createApiToken(@Arg("input", () => CreateApiTokenInput) input: CreateApiTokenInput, @Ctx() ctx: GraphQLContext): Promise<CreateApiTokenPayload> {
    const { token, secret } = await ctx.services.apiTokens.create(actorOf(ctx), input);
    return { apiToken: toApiToken(token), secret };
  }

  @Mutation(() => RevokeApiTokenPayload, { description: "The token stops working at once." })
  async revokeApiToken(@Arg("input", () => RevokeApiTokenInput) input: RevokeApiTokenInput, @Ctx() ctx: GraphQLContext): Promise<RevokeApiTokenPayload> {
    return { apiToken: toApiToken(await ctx.services.apiTokens.revoke(actorOf(ctx), input.id)) };
  }

  @Mutation(() => UpdateUserPayload, { description: "Changes a user's name, role or teams." })
  async updateUser(@Arg("input", () => UpdateUserInput) input: UpdateUserInput, @Ctx() ctx: GraphQLContext): Promise<UpdateUserPayload> {
    const { id, ...fields } = input;
    return { user: toUser(await ctx.services.memberships.updateUser(actorOf(ctx), id, fields)) };
  }

  @Mutation(() => RemoveUserPayload, { description: "Removes the user from the organization; their personal keys are revoked at once and their API tokens deleted." })
  async removeUser(@Arg("input", () => RemoveUserInput) input: RemoveUserInput, @Ctx() ctx: GraphQLContext): Promise<RemoveUserPayload> {
    const { user, revokedKeyIds } = await ctx.services.memberships.removeUser(actorOf(ctx), input.id);
    return { user: toUser(user), revokedVirtualKeyIds: [...revokedKeyIds] };
  }

  @Mutation(() => UpsertVirtualKeyPayload, { description: "Creates the key with this name (the secret is returned only then) or updates it in place." })
  async upsertVirtualKey(@Arg("input", () => UpsertVirtualKeyInput) input: UpsertVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<UpsertVirtualKeyPayload> {
    const { key, secret, created } = await ctx.services.keyUpserts.upsert(actorOf(ctx), {
      ...input,
      budgets: input.budgets === undefined || input.budgets === null ? input.budgets : input.budgets.map(toBudgetSpec),
      expiresAt: input.expiresAt === undefined || input.expiresAt === null ? input.expiresAt : input.expiresAt.getTime(),
    });
    return { virtualKey: toVirtualKey(key, ctx.now()), secret, created };
  }
}
