/** GraphQL object types of usage rows, the audit log and data-plane nodes. */
import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { DateTimeScalar, DecimalScalar, JSONObjectScalar, PicoAmount } from "../scalars.js";
import { PageInfo } from "./virtual-key.type.js";

/** The group a usage row belongs to; fields not grouped by are null. */
@ObjectType({ description: "The group of a usage row; only the fields named in groupBy are set." })
export class UsageGroup {
  @Field(() => ID, { nullable: true }) virtualKeyId: string | null;
  @Field(() => String, { nullable: true }) virtualKeyName: string | null;
  @Field(() => ID, { nullable: true }) userId: string | null;
  @Field(() => ID, { nullable: true }) teamId: string | null;
  @Field(() => String, { nullable: true }) model: string | null;
  @Field(() => ID, { nullable: true }) providerAccountId: string | null;
  @Field(() => DateTimeScalar, { nullable: true, description: "Start of the UTC day." }) day: Date | null;
  @Field(() => DateTimeScalar, { nullable: true, description: "Start of the UTC hour." }) hour: Date | null;
}

/** Aggregated usage of one group. */
@ObjectType({ description: "Aggregated usage. Counts are whole numbers (Float only for range)." })
export class UsageRow {
  @Field(() => UsageGroup) group: UsageGroup;
  @Field(() => Float, { description: "Requests served (not refused)." }) requests: number;
  @Field(() => Float) inputTokens: number;
  @Field(() => Float) outputTokens: number;
  @Field(() => DecimalScalar, { description: "The exact cost in US dollars (up to 12 decimals)." }) cost: PicoAmount;
  @Field(() => Float, { description: "Requests refused by policy (key, model, budget, rate limit...)." }) blocked: number;
}

/** One audit row. */
@ObjectType({ description: "One audited change." })
export class AuditLogEntry {
  @Field(() => ID) id: string;
  @Field(() => ID, { nullable: true }) organizationId: string | null;
  @Field(() => String, { description: 'Who did it ("platform-admin", "user:usr_...").' }) actor: string;
  @Field(() => String, { description: 'What was done ("virtual_key.revoke").' }) action: string;
  @Field(() => String, { description: "The id of the changed object." }) target: string;
  @Field(() => JSONObjectScalar, { nullable: true, description: "The object before the change (secrets redacted)." }) before: Record<string, unknown> | null;
  @Field(() => JSONObjectScalar, { nullable: true, description: "The object after the change (secrets redacted)." }) after: Record<string, unknown> | null;
  @Field(() => DateTimeScalar) createdAt: Date;
}

/** An edge of the audit connection. */
@ObjectType()
export class AuditLogEdge {
  @Field(() => String) cursor: string;
  @Field(() => AuditLogEntry) node: AuditLogEntry;
}

/** A page of audit rows, newest first. */
@ObjectType()
export class AuditLogConnection {
  @Field(() => [AuditLogEdge]) edges: AuditLogEdge[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

/** A data-plane node as last seen. */
@ObjectType({ description: "A data-plane node and the policy version it applied." })
export class DataPlaneNode {
  @Field(() => ID) id: string;
  @Field(() => String) bootId: string;
  @Field(() => Boolean) connected: boolean;
  @Field(() => String, { description: "The policy revision the node ACKed (a 64-bit integer as a string)." }) policyVersion: string;
  @Field(() => DateTimeScalar, { nullable: true }) appliedAt: Date | null;
  @Field(() => DateTimeScalar) lastSeenAt: Date;
  @Field(() => String) address: string;
}

/** A usage record the control plane could not store. */
@ObjectType({ description: "A usage record the control plane could not store, set aside with the reason (platform admins only)." })
export class UsageDeadLetter {
  @Field(() => ID) id: string;
  @Field(() => String, { description: "missing_field, invalid_text, too_long, out_of_range or store_failed." }) reason: string;
  @Field(() => String, { description: 'What was wrong ("model contains NUL").' }) detail: string;
  @Field(() => String, { description: "The node that sent it." }) nodeId: string;
  @Field(() => String, { description: "Its request id, made storable (empty when it had none)." }) requestId: string;
  @Field(() => String, { description: "Its organization id, made storable (empty when it had none)." }) organizationId: string;
  @Field(() => DateTimeScalar) receivedAt: Date;
  @Field(() => Int, { description: "Size of the record as received, in bytes." }) recordBytes: number;
  @Field(() => String, { description: "The record as received (protobuf tollgate.v1.UsageRecord), base64; at most its first 256 KiB." }) recordBase64: string;
  @Field(() => JSONObjectScalar, { nullable: true, description: "The record decoded (protobuf JSON form); null when the bytes kept do not decode." }) record: Record<string, unknown> | null;
}

/** An edge of the dead-letter connection. */
@ObjectType()
export class UsageDeadLetterEdge {
  @Field(() => String) cursor: string;
  @Field(() => UsageDeadLetter) node: UsageDeadLetter;
}

/** A page of dead letters, newest first. */
@ObjectType()
export class UsageDeadLetterConnection {
  @Field(() => [UsageDeadLetterEdge]) edges: UsageDeadLetterEdge[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}
