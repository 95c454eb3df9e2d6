/** GraphQL types of JWT signing keys (public parts only) and of rotateSigningKey. */
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import type { SigningKeyRecord } from "../../repositories/signing-key.repository.js";
import { DateTimeScalar } from "../scalars.js";

/** A key JWT-format virtual keys are signed with; its private part is never readable. */
@ObjectType({ description: "An Ed25519 key that signs JWT-format virtual keys (EdDSA). Nodes verify tokens with its public key until `notAfter`." })
export class SigningKey {
  @Field(() => ID, { description: "The JWT header `kid`." }) kid: string;
  @Field(() => String, { description: 'Always "EdDSA" (Ed25519).' }) algorithm: string;
  @Field(() => String, { description: "The public key as a JWK (JSON)." }) publicJwk: string;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: "When tokens signed with it stop being accepted; null for the active key." }) notAfter: Date | null;
  @Field(() => Boolean, { description: "True for the one key that signs new tokens." }) active: boolean;
}

/** Input of rotateSigningKey. */
@InputType()
export class RotateSigningKeyInput {
  @Field(() => Int, { description: "How long tokens signed with the current key keep working (0 = refused at once). Rotate JWT virtual keys within this time to re-sign them." })
  retireAfterSeconds: number;
}

/** Payload of rotateSigningKey. */
@ObjectType()
export class RotateSigningKeyPayload {
  @Field(() => SigningKey, { description: "The new active key." }) signingKey: SigningKey;
  @Field(() => SigningKey, { nullable: true, description: "The key it replaced, now retiring at its notAfter." }) previous: SigningKey | null;
}

/** Maps a signing key record to its GraphQL object. */
export function toSigningKey(r: SigningKeyRecord): SigningKey {
  return { kid: r.id, algorithm: r.algorithm, publicJwk: r.publicJwk, createdAt: new Date(r.createdAt), notAfter: r.notAfter === null ? null : new Date(r.notAfter), active: r.active };
}
