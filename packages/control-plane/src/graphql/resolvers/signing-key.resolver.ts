/** Resolvers of JWT signing keys (platform admin only). */
import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { actorOf, type GraphQLContext } from "../context.js";
import { RotateSigningKeyInput, RotateSigningKeyPayload, SigningKey, toSigningKey } from "../types/signing-key.type.js";

/** signingKeys query and rotateSigningKey mutation. */
@Resolver()
export class SigningKeyResolver {
  @Query(() => [SigningKey], { description: "Every JWT signing key, oldest first (platform admin only)." })
  async signingKeys(@Ctx() ctx: GraphQLContext): Promise<SigningKey[]> {
    return (await ctx.services.signingKeys.list(actorOf(ctx))).map(toSigningKey);
  }

  @Mutation(() => RotateSigningKeyPayload, { description: "A new key signs new JWT virtual keys; the previous one keeps verifying for retireAfterSeconds (platform admin only)." })
  async rotateSigningKey(@Arg("input", () => RotateSigningKeyInput) input: RotateSigningKeyInput, @Ctx() ctx: GraphQLContext): Promise<RotateSigningKeyPayload> {
    const { active, previous } = await ctx.services.signingKeys.rotate(actorOf(ctx), input.retireAfterSeconds);
    return { signingKey: toSigningKey(active), previous: previous === null ? null : toSigningKey(previous) };
  }
}
