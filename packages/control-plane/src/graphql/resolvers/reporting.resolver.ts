/** Resolvers of budgets (setBudget/removeBudget), usage, the audit log, nodes and the policy revision. */
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { UsageRecordSchema } from "@tollgate/proto";
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { badInput } from "../../errors.js";
import type { DeadLetterRecord } from "../../repositories/usage-dead-letter.repository.js";
import type { UsageDimension } from "../../repositories/usage.repository.js";
import { actorOf, type GraphQLContext } from "../context.js";
import { UsageGroupByEnum } from "../enums.js";
import { DateTimeScalar, PicoAmount } from "../scalars.js";
import { AuditLogConnection, DataPlaneNode, UsageDeadLetter, UsageDeadLetterConnection, UsageRow } from "../types/reporting.type.js";
import { RemoveBudgetInput, RemoveBudgetPayload, SetBudgetInput, SetBudgetPayload, UsageFilter } from "../types/virtual-key.input.js";
import { decodeCursor, encodeCursor, toBudget } from "../types/virtual-key.type.js";

/** The API view of a dead letter: the bytes kept, and their decoded form when they decode. */
function toDeadLetter(e: DeadLetterRecord): UsageDeadLetter {
  let record: Record<string, unknown> | null = null;
  try {
    record = toJson(UsageRecordSchema, fromBinary(UsageRecordSchema, e.record)) as Record<string, unknown>;
  } catch {
    record = null;
  }
  return {
    id: e.id,
    reason: e.reason,
    detail: e.detail,
    nodeId: e.nodeId,
    requestId: e.requestId,
    organizationId: e.organizationId,
    receivedAt: new Date(e.receivedAt),
    recordBytes: e.recordBytes,
    recordBase64: e.record.toString("base64"),
    record,
  };
}

/** Budget mutations and reporting queries. */
@Resolver()
export class ReportingResolver {
  @Mutation(() => SetBudgetPayload, { description: "One budget per (scope, scopeId, unit, window): setting it again updates it." })
  async setBudget(@Arg("input", () => SetBudgetInput) input: SetBudgetInput, @Ctx() ctx: GraphQLContext): Promise<SetBudgetPayload> {
    const view = await ctx.services.budgets.setBudget(actorOf(ctx), input.scope, input.scopeId, {
      unit: input.unit,
      window: input.window,
      limitDecimal: input.limit,
      mode: input.mode ?? null,
      enforcement: input.enforcement ?? null,
      alertThresholds: input.alertThresholds ?? null,
    });
    return { budget: toBudget(view) };
  }

  @Mutation(() => RemoveBudgetPayload)
  async removeBudget(@Arg("input", () => RemoveBudgetInput) input: RemoveBudgetInput, @Ctx() ctx: GraphQLContext): Promise<RemoveBudgetPayload> {
    return { budget: toBudget(await ctx.services.budgets.removeBudget(actorOf(ctx), input.id)) };
  }

  @Query(() => [UsageRow], {
    description: "Usage in [from, to) at hour granularity (from is rounded down to the hour), grouped and filtered. Defaults: from the start of this month (UTC) to the end of this hour.",
  })
  async usage(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("from", () => DateTimeScalar, { nullable: true }) from: Date | null,
    @Arg("to", () => DateTimeScalar, { nullable: true }) to: Date | null,
    @Arg("groupBy", () => [UsageGroupByEnum], { nullable: true }) groupBy: UsageDimension[] | null,
    @Arg("filter", () => UsageFilter, { nullable: true }) filter: UsageFilter | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageRow[]> {
    const rows = await ctx.services.reporting.usage(actorOf(ctx), {
      organizationId,
      fromMs: from?.getTime() ?? null,
      toMs: to?.getTime() ?? null,
      groupBy: groupBy ?? [],
      filter: filter ?? {},
    });
    return rows.map((r) => ({
      group: {
        virtualKeyId: r.virtualKeyId,
        virtualKeyName: r.virtualKeyName,
        userId: r.userId,
        teamId: r.teamId,
        model: r.model,
        providerAccountId: r.providerAccountId,
        day: r.dayMs === null ? null : new Date(r.dayMs),
        hour: r.hourMs === null ? null : new Date(r.hourMs),
      },
      requests: Number(r.requests),
      inputTokens: Number(r.inputTokens),
      outputTokens: Number(r.outputTokens),
      cost: new PicoAmount(r.costPicos),
      blocked: Number(r.blocked),
    }));
  }

  @Query(() => AuditLogConnection, { description: "Audited changes of an organization, newest first." })
  async auditLog(
    @Arg("organizationId", () => ID) organizationId: string,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1-500 (default 50)." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuditLogConnection> {
    const afterId = after ? decodeCursor(after) : null;
    if (after && afterId === null) throw badInput("after is not a valid cursor");
    const page = await ctx.services.reporting.auditLog(actorOf(ctx), organizationId, first ?? 50, afterId);
    const edges = page.entries.map((e) => ({ cursor: encodeCursor(e.id), node: { ...e, createdAt: new Date(e.createdAt) } }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  @Query(() => UsageDeadLetterConnection, { description: "Usage records the control plane could not store, newest first (platform admins only)." })
  async usageDeadLetters(
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1-100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageDeadLetterConnection> {
    const afterId = after ? decodeCursor(after) : null;
    if (after && afterId === null) throw badInput("after is not a valid cursor");
    const page = await ctx.services.reporting.usageDeadLetters(actorOf(ctx), first ?? 20, afterId);
    const edges = page.entries.map((e) => ({ cursor: encodeCursor(e.id), node: toDeadLetter(e) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  @Query(() => [DataPlaneNode], { description: "Data-plane nodes and the policy version each applied." })
  async dataPlaneNodes(@Ctx() ctx: GraphQLContext): Promise<DataPlaneNode[]> {
    return (await ctx.services.reporting.nodes(actorOf(ctx))).map((n) => ({
      id: n.id,
      bootId: n.bootId,
      connected: n.connected,
      policyVersion: n.policyVersion.toString(),
      appliedAt: n.appliedAt === null ? null : new Date(n.appliedAt),
      lastSeenAt: new Date(n.lastSeenAt),
      address: n.address,
    }));
  }

  @Query(() => String, { description: "The current policy revision (a 64-bit integer as a string)." })
  async policyRevision(@Ctx() ctx: GraphQLContext): Promise<string> {
    return (await ctx.services.reporting.policyRevision(actorOf(ctx))).toString();
  }
}
