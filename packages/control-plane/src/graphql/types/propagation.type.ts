/** GraphQL object types of policy propagation. */
import { Field, Int, ObjectType } from "type-graphql";

/** How far one policy revision has spread to the data-plane nodes. */
@ObjectType({ description: "How far a policy revision has spread: nodes that applied it (ACKed it or a later one) and nodes still pending." })
export class PolicyPropagation {
  @Field(() => String, { description: "The policy revision (a 64-bit integer as a string)." }) revision: string;
  @Field(() => Int, { description: "Connected nodes that applied this revision or a later one." }) nodesApplied: number;
  @Field(() => Int, { description: "Connected nodes that have not applied it yet." }) nodesPending: number;
  @Field(() => Int, { description: "Known nodes not connected now; they apply it when they reconnect." }) nodesDisconnected: number;
  @Field(() => [String], { description: "Ids of the pending nodes (platform admins only; empty otherwise)." }) pendingNodeIds: string[];
  @Field(() => Int, { description: "How long the answer waited for pending nodes (ms)." }) waitedMs: number;
}
