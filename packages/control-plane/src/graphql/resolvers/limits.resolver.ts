/** Resolvers of limits at every level: model access, rate limits, guardrails, organization settings, budget alerts, simulate. */
import type { Scope } from "@tollgate/policy";
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { actorOf, type GraphQLContext } from "../context.js";
import { ScopeEnum } from "../enums.js";
import { DecimalScalar } from "../scalars.js";
import {
  RemoveRateLimitInput,
  RemoveRateLimitPayload,
  SetGuardrailsInput,
  SetGuardrailsPayload,
  SetModelAccessInput,
  SetModelAccessPayload,
  SetRateLimitInput,
  SetRateLimitPayload,
  SimulateInput,
  UpdateOrganizationInput,
  UpdateOrganizationPayload,
} from "../types/limits.input.js";
import { BudgetAlert, Guardrails, ModelAccess, Simulation, toBudgetAlert, toGuardrails, toModelAccess, toSimulation } from "../types/limits.type.js";
import { Organization, Team, User, toOrganization } from "../types/tenancy.type.js";
import { RateLimit, toRateLimit } from "../types/virtual-key.type.js";

/** Mutations and queries of limits. */
@Resolver()
export class LimitsResolver {
  @Mutation(() => SetModelAccessPayload, { description: "Replaces the allow/deny lists of an organization, team, user or key." })
  async setModelAccess(@Arg("input", () => SetModelAccessInput) input: SetModelAccessInput, @Ctx() ctx: GraphQLContext): Promise<SetModelAccessPayload> {
    return { modelAccess: toModelAccess(await ctx.services.limits.setModelAccess(actorOf(ctx), input.scope, input.scopeId, input.allow, input.deny)) };
  }

  @Query(() => ModelAccess, { description: "The allow/deny lists of an organization, team, user or key." })
  async modelAccess(@Arg("scope", () => ScopeEnum) scope: Scope, @Arg("scopeId", () => ID) scopeId: string, @Ctx() ctx: GraphQLContext): Promise<ModelAccess> {
    return toModelAccess(await ctx.services.limits.getModelAccess(actorOf(ctx), scope, scopeId));
  }

  @Mutation(() => SetRateLimitPayload, { description: "One rate limit per (scope, scopeId, unit, windowSeconds): setting it again updates it." })
  async setRateLimit(@Arg("input", () => SetRateLimitInput) input: SetRateLimitInput, @Ctx() ctx: GraphQLContext): Promise<SetRateLimitPayload> {
    return { rateLimit: toRateLimit(await ctx.services.limits.setRateLimit(actorOf(ctx), { ...input })) };
  }

  @Mutation(() => RemoveRateLimitPayload)
  async removeRateLimit(@Arg("input", () => RemoveRateLimitInput) input: RemoveRateLimitInput, @Ctx() ctx: GraphQLContext): Promise<RemoveRateLimitPayload> {
    return { rateLimit: toRateLimit(await ctx.services.limits.removeRateLimit(actorOf(ctx), input.id)) };
  }

  @Query(() => [RateLimit], { description: "The rate limits attached to an organization, team, user or key." })
  async rateLimits(@Arg("scope", () => ScopeEnum) scope: Scope, @Arg("scopeId", () => ID) scopeId: string, @Ctx() ctx: GraphQLContext): Promise<RateLimit[]> {
    return (await ctx.services.limits.listRateLimits(actorOf(ctx), scope, scopeId)).map(toRateLimit);
  }

  @Mutation(() => SetGuardrailsPayload, { description: "Replaces the guardrails of an organization or a key (patterns are validated for the linear-time RE2 engine)." })
  async setGuardrails(@Arg("input", () => SetGuardrailsInput) input: SetGuardrailsInput, @Ctx() ctx: GraphQLContext): Promise<SetGuardrailsPayload> {
    return { guardrails: toGuardrails(await ctx.services.limits.setGuardrails(actorOf(ctx), input.scope, input.scopeId, input.rules)) };
  }

  @Query(() => Guardrails, { description: "The guardrails of an organization or a key (empty rules when none)." })
  async guardrails(@Arg("scope", () => ScopeEnum) scope: Scope, @Arg("scopeId", () => ID) scopeId: string, @Ctx() ctx: GraphQLContext): Promise<Guardrails> {
    return toGuardrails(await ctx.services.limits.getGuardrails(actorOf(ctx), scope, scopeId));
  }

  @Mutation(() => UpdateOrganizationPayload, { description: "Name, fallback prices and the budget-alert webhook of an organization." })
  async updateOrganization(@Arg("input", () => UpdateOrganizationInput) input: UpdateOrganizationInput, @Ctx() ctx: GraphQLContext): Promise<UpdateOrganizationPayload> {
    const actor = actorOf(ctx);
    const { id, ...fields } = input;
    const updated = await ctx.services.organizationSettings.updateOrganization(actor, id, fields);
    return { organization: toOrganization(await ctx.services.organizations.getOrganization(actor, id)), webhookSecret: updated.generatedWebhookSecret };
  }

  @Query(() => [BudgetAlert], { description: "Budget threshold alerts of an organization, newest first." })
  async budgetAlerts(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("first", () => Int, { nullable: true, description: "How many, 1-500 (default 100)." }) first: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BudgetAlert[]> {
    return (await ctx.services.budgetAlerts.list(actorOf(ctx), organizationId, first ?? 100)).map(toBudgetAlert);
  }

  @Query(() => Simulation, { description: "What the data plane would answer to a request with this key, on the control plane's current policy; nothing is consumed." })
  async simulate(@Arg("input", () => SimulateInput) input: SimulateInput, @Ctx() ctx: GraphQLContext): Promise<Simulation> {
    return toSimulation(await ctx.services.simulation.simulate(actorOf(ctx), input));
  }
}

/** Limits fields of an organization. */
@Resolver(() => Organization)
export class OrganizationLimitsResolver {
  @FieldResolver(() => ModelAccess)
  async modelAccess(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<ModelAccess> {
    return toModelAccess(await ctx.services.limits.getModelAccess(actorOf(ctx), "ORGANIZATION", org.id));
  }

  @FieldResolver(() => String, { nullable: true, description: "Where budget alerts are POSTed; the secret is write-only." })
  async webhookUrl(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<string | null> {
    return (await ctx.services.organizationSettings.getSettings(actorOf(ctx), org.id)).webhookUrl;
  }

  @FieldResolver(() => DecimalScalar, { nullable: true, description: "US dollars per million input tokens for models without a price; null = unpriced models are refused." })
  async fallbackInputPricePerMillion(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<bigint | null> {
    return (await ctx.services.organizationSettings.getSettings(actorOf(ctx), org.id)).fallbackInputPricePerMillion;
  }

  @FieldResolver(() => DecimalScalar, { nullable: true })
  async fallbackOutputPricePerMillion(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<bigint | null> {
    return (await ctx.services.organizationSettings.getSettings(actorOf(ctx), org.id)).fallbackOutputPricePerMillion;
  }
}

/** Limits fields of a team. */
@Resolver(() => Team)
export class TeamLimitsResolver {
  @FieldResolver(() => ModelAccess)
  async modelAccess(@Root() team: Team, @Ctx() ctx: GraphQLContext): Promise<ModelAccess> {
    return toModelAccess(await ctx.services.limits.getModelAccess(actorOf(ctx), "TEAM", team.id));
  }
}

/** Limits fields of a user. */
@Resolver(() => User)
export class UserLimitsResolver {
  @FieldResolver(() => ModelAccess)
  async modelAccess(@Root() user: User, @Ctx() ctx: GraphQLContext): Promise<ModelAccess> {
    return toModelAccess(await ctx.services.limits.getModelAccess(actorOf(ctx), "USER", user.id));
  }
}
