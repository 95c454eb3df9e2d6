/** Resolvers of virtual keys (queries, mutations, budgets and rate limits of a key). */
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { badInput } from "../../errors.js";
import type { BudgetSpec } from "../../services/budget.service.js";
import { actorOf, type GraphQLContext } from "../context.js";
import {
  BudgetInput,
  CreateVirtualKeyInput,
  CreateVirtualKeyPayload,
  PauseVirtualKeyInput,
  PauseVirtualKeyPayload,
  ResumeVirtualKeyInput,
  ResumeVirtualKeyPayload,
  RevokeVirtualKeyInput,
  RevokeVirtualKeyPayload,
  RotateVirtualKeyInput,
  RotateVirtualKeyPayload,
  UpdateVirtualKeyInput,
  UpdateVirtualKeyPayload,
  VirtualKeyFilter,
} from "../types/virtual-key.input.js";
import { Budget, RateLimit, VirtualKey, VirtualKeyConnection, decodeCursor, encodeCursor, toBudget, toRateLimit, toVirtualKey } from "../types/virtual-key.type.js";

/** Converts a GraphQL budget input to a service spec. */
export function toBudgetSpec(b: BudgetInput): BudgetSpec {
  return { unit: b.unit, window: b.window, limitDecimal: b.limit, mode: b.mode ?? null, enforcement: b.enforcement ?? null, alertThresholds: b.alertThresholds ?? null };
}

const msOrNullish = (d: Date | null | undefined): number | null | undefined => (d === undefined ? undefined : d === null ? null : d.getTime());

/** Virtual key queries and mutations. */
@Resolver(() => VirtualKey)
export class VirtualKeyResolver {
  @Query(() => VirtualKeyConnection, { description: "Keys of an organization in creation order." })
  async virtualKeys(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("filter", () => VirtualKeyFilter, { nullable: true }) filter: VirtualKeyFilter | null,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1-500 (default 50)." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<VirtualKeyConnection> {
    const afterId = after ? decodeCursor(after) : null;
    if (after && afterId === null) throw badInput("after is not a valid cursor");
    const page = await ctx.services.virtualKeys.list(actorOf(ctx), organizationId, filter ?? {}, first ?? 50, afterId);
    const nowMs = ctx.now();
    const edges = page.keys.map((k) => ({ cursor: encodeCursor(k.id), node: toVirtualKey(k, nowMs) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  @Query(() => VirtualKey, { description: "One key (NOT_FOUND when missing or not visible)." })
  async virtualKey(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<VirtualKey> {
    return toVirtualKey(await ctx.services.virtualKeys.get(actorOf(ctx), id), ctx.now());
  }

  @FieldResolver(() => [Budget], { description: "The key's own budgets with their current use." })
  async budgets(@Root() key: VirtualKey, @Ctx() ctx: GraphQLContext): Promise<Budget[]> {
    return (await ctx.services.budgets.listBudgetViews(actorOf(ctx), key.organizationId, "VIRTUAL_KEY", key.id)).map(toBudget);
  }

  @FieldResolver(() => [RateLimit])
  async rateLimits(@Root() key: VirtualKey, @Ctx() ctx: GraphQLContext): Promise<RateLimit[]> {
    return (await ctx.services.virtualKeys.rateLimitsOf(actorOf(ctx), key)).map(toRateLimit);
  }

  @Mutation(() => CreateVirtualKeyPayload, { description: "The secret is returned only here." })
  async createVirtualKey(@Arg("input", () => CreateVirtualKeyInput) input: CreateVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<CreateVirtualKeyPayload> {
    const { key, secret } = await ctx.services.virtualKeys.create(actorOf(ctx), {
      ...input,
      budgets: input.budgets?.map(toBudgetSpec) ?? null,
      expiresAt: msOrNullish(input.expiresAt) ?? null,
    });
    return { virtualKey: toVirtualKey(key, ctx.now()), secret };
  }

  @Mutation(() => UpdateVirtualKeyPayload)
  async updateVirtualKey(@Arg("input", () => UpdateVirtualKeyInput) input: UpdateVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<UpdateVirtualKeyPayload> {
    const { id, ...fields } = input;
    const key = await ctx.services.virtualKeys.update(actorOf(ctx), id, {
      ...fields,
      budgets: fields.budgets === undefined || fields.budgets === null ? fields.budgets : fields.budgets.map(toBudgetSpec),
      expiresAt: msOrNullish(fields.expiresAt),
    });
    return { virtualKey: toVirtualKey(key, ctx.now()) };
  }

  @Mutation(() => PauseVirtualKeyPayload, { description: "Requests with the key are refused (key_paused) until resumed." })
  async pauseVirtualKey(@Arg("input", () => PauseVirtualKeyInput) input: PauseVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<PauseVirtualKeyPayload> {
    return { virtualKey: toVirtualKey(await ctx.services.virtualKeys.pause(actorOf(ctx), input.id), ctx.now()) };
  }

  @Mutation(() => ResumeVirtualKeyPayload)
  async resumeVirtualKey(@Arg("input", () => ResumeVirtualKeyInput) input: ResumeVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<ResumeVirtualKeyPayload> {
    return { virtualKey: toVirtualKey(await ctx.services.virtualKeys.resume(actorOf(ctx), input.id), ctx.now()) };
  }

  @Mutation(() => RevokeVirtualKeyPayload, { description: "For good." })
  async revokeVirtualKey(@Arg("input", () => RevokeVirtualKeyInput) input: RevokeVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<RevokeVirtualKeyPayload> {
    return { virtualKey: toVirtualKey(await ctx.services.virtualKeys.revoke(actorOf(ctx), input.id), ctx.now()) };
  }

  @Mutation(() => RotateVirtualKeyPayload, { description: "Same key, same budgets and usage, new secret; the old secret works until the grace period ends." })
  async rotateVirtualKey(@Arg("input", () => RotateVirtualKeyInput) input: RotateVirtualKeyInput, @Ctx() ctx: GraphQLContext): Promise<RotateVirtualKeyPayload> {
    const { key, secret } = await ctx.services.virtualKeys.rotate(actorOf(ctx), input.id, input.gracePeriodSeconds ?? 0);
    return { virtualKey: toVirtualKey(key, ctx.now()), secret };
  }
}
