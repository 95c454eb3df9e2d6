/**
 * Propagation of policy changes: the `policyPropagation` query, a `propagation` field on the
 * payloads of policy mutations (revoke, pause, resume, update of a key; setBudget, removeBudget),
 * and live fields on `DataPlaneNode` (connection state, snapshot age, lag, replica). The payload
 * field reports the revision current when it is resolved, i.e. after the mutation committed (a
 * later concurrent change only makes the answer stricter).
 */
import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root, type ClassType } from "type-graphql";
import { badInput } from "../../errors.js";
import type { NodeView, PolicyPropagation as Propagation } from "../../services/propagation.service.js";
import { actorOf, type GraphQLContext } from "../context.js";
import { DateTimeScalar } from "../scalars.js";
import { PolicyPropagation } from "../types/propagation.type.js";
import { DataPlaneNode } from "../types/reporting.type.js";
import { PauseVirtualKeyPayload, RemoveBudgetPayload, ResumeVirtualKeyPayload, RevokeVirtualKeyPayload, SetBudgetPayload, UpdateVirtualKeyPayload } from "../types/virtual-key.input.js";

const WAIT_DESCRIPTION = "Wait up to this many ms (0-10000, default 0) for every connected node to apply the change.";

function toGraphQL(p: Propagation): PolicyPropagation {
  return {
    revision: p.revision.toString(),
    nodesApplied: p.nodesApplied,
    nodesPending: p.nodesPending,
    nodesDisconnected: p.nodesDisconnected,
    pendingNodeIds: [...p.pendingNodeIds],
    waitedMs: p.waitedMs,
  };
}

function parseRevision(raw: string | null | undefined): bigint | null {
  if (raw === null || raw === undefined) return null;
  if (!/^\d{1,19}$/.test(raw)) throw badInput("revision must be a non-negative integer string");
  return BigInt(raw);
}

/** The `policyPropagation` query. */
@Resolver()
export class PropagationResolver {
  @Query(() => PolicyPropagation, { description: "Which connected data-plane nodes applied a policy revision (default: the current one)." })
  async policyPropagation(
    @Arg("revision", () => String, { nullable: true }) revision: string | null,
    @Arg("waitMs", () => Int, { nullable: true, description: WAIT_DESCRIPTION }) waitMs: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PolicyPropagation> {
    return toGraphQL(await ctx.services.propagation.propagation(actorOf(ctx), parseRevision(revision), waitMs ?? 0));
  }
}

/** Makes the resolver adding `propagation` to one mutation payload type. */
function propagationFieldFor(payload: ClassType): ClassType {
  @Resolver(() => payload)
  class PayloadPropagationResolver {
    @FieldResolver(() => PolicyPropagation, { description: "How far this change has spread to the data-plane nodes." })
    async propagation(@Arg("waitMs", () => Int, { nullable: true, description: WAIT_DESCRIPTION }) waitMs: number | null, @Ctx() ctx: GraphQLContext): Promise<PolicyPropagation> {
      return toGraphQL(await ctx.services.propagation.propagation(actorOf(ctx), null, waitMs ?? 0));
    }
  }
  return PayloadPropagationResolver;
}

/** One resolver per policy-mutation payload. */
export const PAYLOAD_PROPAGATION_RESOLVERS: readonly ClassType[] = [
  UpdateVirtualKeyPayload,
  PauseVirtualKeyPayload,
  ResumeVirtualKeyPayload,
  RevokeVirtualKeyPayload,
  SetBudgetPayload,
  RemoveBudgetPayload,
].map(propagationFieldFor);

async function viewOf(ctx: GraphQLContext, id: string): Promise<NodeView | null> {
  return (await ctx.services.propagation.nodes()).find((n) => n.id === id) ?? null;
}

/** Live fields of `DataPlaneNode`. */
@Resolver(() => DataPlaneNode)
export class DataPlaneNodeStatusResolver {
  @FieldResolver(() => String, { description: "CONNECTED (stream open and seen recently), STALE (stream open but silent) or DISCONNECTED." })
  async connectionState(@Root() node: DataPlaneNode, @Ctx() ctx: GraphQLContext): Promise<string> {
    return (await viewOf(ctx, node.id))?.connectionState ?? "DISCONNECTED";
  }

  @FieldResolver(() => Int, { nullable: true, description: "ms since the node last applied a policy update (its snapshot's age); null = never." })
  async snapshotAgeMs(@Root() node: DataPlaneNode, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return (await viewOf(ctx, node.id))?.snapshotAgeMs ?? null;
  }

  @FieldResolver(() => String, { description: "Policy revisions the node is behind the current one (a 64-bit integer as a string)." })
  async revisionsBehind(@Root() node: DataPlaneNode, @Ctx() ctx: GraphQLContext): Promise<string> {
    return ((await viewOf(ctx, node.id))?.revisionsBehind ?? 0n).toString();
  }

  @FieldResolver(() => String, { description: "The control-plane replica holding the node's policy stream (empty = unknown)." })
  async controlPlaneReplica(@Root() node: DataPlaneNode, @Ctx() ctx: GraphQLContext): Promise<string> {
    return (await viewOf(ctx, node.id))?.replicaId ?? "";
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true, description: "When the node's current (or last) policy stream opened." })
  async streamOpenedAt(@Root() node: DataPlaneNode, @Ctx() ctx: GraphQLContext): Promise<Date | null> {
    const at = (await viewOf(ctx, node.id))?.connectedAt ?? null;
    return at === null ? null : new Date(at);
  }
}
