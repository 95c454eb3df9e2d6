/** Resolvers of organizations, teams, users and `me`. */
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { actorOf, type GraphQLContext } from "../context.js";
import {
  CreateOrganizationInput,
  CreateOrganizationPayload,
  CreateTeamInput,
  CreateTeamPayload,
  CreateUserInput,
  CreateUserPayload,
  DeactivateUserInput,
  DeactivateUserPayload,
  UpsertOrganizationInput,
  UpsertOrganizationPayload,
  UpsertTeamInput,
  UpsertTeamPayload,
  UpsertUserInput,
  UpsertUserPayload,
} from "../types/tenancy.input.js";
import { Me, Organization, Team, User, toOrganization, toTeam, toUser } from "../types/tenancy.type.js";
import { Model, ProviderAccount, toModel, toProviderAccount } from "../types/provider.type.js";

const userInput = (i: CreateUserInput) => ({
  organizationId: i.organizationId,
  email: i.email,
  name: i.name,
  role: i.role ?? "MEMBER",
  teamIds: i.teamIds ?? [],
});

/** Organization queries, mutations and nested lists. */
@Resolver(() => Organization)
export class OrganizationResolver {
  @Query(() => Me, { description: "The caller." })
  async me(@Ctx() ctx: GraphQLContext): Promise<Me> {
    const actor = actorOf(ctx);
    switch (actor.kind) {
      case "platformAdmin":
        return { kind: "PLATFORM_ADMIN", user: null, organizationId: null };
      case "user":
        return { kind: "USER", user: toUser(await ctx.services.organizations.getUser(actor, actor.userId)), organizationId: actor.organizationId };
    }
  }

  @Query(() => [Organization], { description: "Organizations the caller may see, by slug." })
  async organizations(@Ctx() ctx: GraphQLContext): Promise<Organization[]> {
    return (await ctx.services.organizations.listOrganizations(actorOf(ctx))).map(toOrganization);
  }

  @Query(() => Organization, { description: "One organization (NOT_FOUND when missing or not visible)." })
  async organization(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Organization> {
    return toOrganization(await ctx.services.organizations.getOrganization(actorOf(ctx), id));
  }

  @FieldResolver(() => [Team])
  async teams(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<Team[]> {
    return (await ctx.services.organizations.listTeams(actorOf(ctx), org.id)).map(toTeam);
  }

  @FieldResolver(() => [User])
  async users(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<User[]> {
    return (await ctx.services.organizations.listUsers(actorOf(ctx), org.id)).map(toUser);
  }

  @FieldResolver(() => [ProviderAccount])
  async providerAccounts(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<ProviderAccount[]> {
    return (await ctx.services.providers.listProviderAccounts(actorOf(ctx), org.id)).map(toProviderAccount);
  }

  @FieldResolver(() => [Model])
  async models(@Root() org: Organization, @Ctx() ctx: GraphQLContext): Promise<Model[]> {
    return (await ctx.services.providers.listModels(actorOf(ctx), org.id)).map(toModel);
  }

  @Mutation(() => CreateOrganizationPayload, { description: "CONFLICT when the slug exists." })
  async createOrganization(@Arg("input", () => CreateOrganizationInput) input: CreateOrganizationInput, @Ctx() ctx: GraphQLContext): Promise<CreateOrganizationPayload> {
    return { organization: toOrganization(await ctx.services.organizations.createOrganization(actorOf(ctx), input)) };
  }

  @Mutation(() => UpsertOrganizationPayload, { description: "Creates or updates the organization with this slug." })
  async upsertOrganization(@Arg("input", () => UpsertOrganizationInput) input: UpsertOrganizationInput, @Ctx() ctx: GraphQLContext): Promise<UpsertOrganizationPayload> {
    return { organization: toOrganization(await ctx.services.organizations.upsertOrganization(actorOf(ctx), input)) };
  }

  @Mutation(() => CreateTeamPayload, { description: "CONFLICT when the slug exists in the organization." })
  async createTeam(@Arg("input", () => CreateTeamInput) input: CreateTeamInput, @Ctx() ctx: GraphQLContext): Promise<CreateTeamPayload> {
    return { team: toTeam(await ctx.services.organizations.createTeam(actorOf(ctx), input)) };
  }

  @Mutation(() => UpsertTeamPayload, { description: "Creates or updates the team with this slug." })
  async upsertTeam(@Arg("input", () => UpsertTeamInput) input: UpsertTeamInput, @Ctx() ctx: GraphQLContext): Promise<UpsertTeamPayload> {
    return { team: toTeam(await ctx.services.organizations.upsertTeam(actorOf(ctx), input)) };
  }

  @Mutation(() => CreateUserPayload, { description: "CONFLICT when the email exists in the organization." })
  async createUser(@Arg("input", () => CreateUserInput) input: CreateUserInput, @Ctx() ctx: GraphQLContext): Promise<CreateUserPayload> {
    return { user: toUser(await ctx.services.organizations.createUser(actorOf(ctx), userInput(input))) };
  }

  @Mutation(() => UpsertUserPayload, { description: "Creates or updates the user with this email." })
  async upsertUser(@Arg("input", () => UpsertUserInput) input: UpsertUserInput, @Ctx() ctx: GraphQLContext): Promise<UpsertUserPayload> {
    return { user: toUser(await ctx.services.organizations.upsertUser(actorOf(ctx), userInput(input))) };
  }

  @Mutation(() => DeactivateUserPayload, { description: "Their personal keys stop working at once." })
  async deactivateUser(@Arg("input", () => DeactivateUserInput) input: DeactivateUserInput, @Ctx() ctx: GraphQLContext): Promise<DeactivateUserPayload> {
    return { user: toUser(await ctx.services.organizations.deactivateUser(actorOf(ctx), input.id)) };
  }
}
