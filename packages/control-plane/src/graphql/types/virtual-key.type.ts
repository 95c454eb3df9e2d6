/** GraphQL object types of virtual keys, budgets, rate limits and the key connection. */
import { formatUsdPicos, type BudgetEnforcement, type BudgetMode, type BudgetUnit, type BudgetWindow, type KeyKind, type KeyStatus, type Scope } from "@tollgate/policy";
import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import type { KeyFormat, RateLimitRecord, VirtualKeyRecord } from "../../records.js";
import type { BudgetView } from "../../services/budget.service.js";
import { BudgetEnforcementEnum, BudgetModeEnum, BudgetUnitEnum, BudgetWindowEnum, RateLimitUnitEnum, ScopeEnum, VirtualKeyFormatEnum, VirtualKeyKindEnum, VirtualKeyStatusEnum } from "../enums.js";
import { DateTimeScalar, DecimalScalar, JSONObjectScalar } from "../scalars.js";

/** A budget with its current window's usage. */
@ObjectType({
  description: 'A budget and its use in the current window. `limit`, `used` and `remaining` are strings in the budget\'s unit: US dollars ("12.50") for USD, a whole number for TOKENS and REQUESTS.',
})
export class Budget {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => ID) scopeId: string;
  @Field(() => BudgetUnitEnum) unit: BudgetUnit;
  @Field(() => BudgetWindowEnum) window: BudgetWindow;
  @Field(() => String, { description: "In the budget's unit (dollars for USD)." }) limit: string;
  @Field(() => BudgetModeEnum) mode: BudgetMode;
  @Field(() => BudgetEnforcementEnum) enforcement: BudgetEnforcement;
  @Field(() => [Float], { description: "Alert thresholds as fractions of the limit (0.5 = 50%)." }) alertThresholds: number[];
  @Field(() => String, { description: "Used in the current window, in the budget's unit." }) used: string;
  @Field(() => String, { description: "max(limit - used, 0), in the budget's unit." }) remaining: string;
  @Field(() => DateTimeScalar, { description: "Start of the current window (epoch for TOTAL)." }) windowStart: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: "When the window resets; null for TOTAL." }) resetsAt: Date | null;
}

/** A rate limit. */
@ObjectType({ description: "At most `limit` requests or tokens per `windowSeconds`." })
export class RateLimit {
  @Field(() => ID) id: string;
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => ID) scopeId: string;
  @Field(() => RateLimitUnitEnum) unit: "REQUESTS" | "TOKENS";
  @Field(() => Int) limit: number;
  @Field(() => Int) windowSeconds: number;
}

/** A virtual key (its secret is never readable). */
@ObjectType({ description: "A virtual key. The secret is shown once, at creation or rotation." })
export class VirtualKey {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => String) name: string;
  @Field(() => VirtualKeyKindEnum) kind: KeyKind;
  @Field(() => VirtualKeyStatusEnum) status: KeyStatus;
  @Field(() => VirtualKeyFormatEnum) format: KeyFormat;
  @Field(() => String, { description: "First 12 characters of the current secret." }) prefix: string;
  @Field(() => String, { description: "Last 4 characters of the current secret." }) last4: string;
  @Field(() => ID, { nullable: true }) teamId: string | null;
  @Field(() => ID, { nullable: true }) userId: string | null;
  @Field(() => [String]) allowedModels: string[];
  @Field(() => [String]) deniedModels: string[];
  @Field(() => DecimalScalar, { nullable: true }) maxCostPerRequest: bigint | null;
  @Field(() => DateTimeScalar, { nullable: true }) expiresAt: Date | null;
  @Field(() => JSONObjectScalar) metadata: Record<string, unknown>;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar) updatedAt: Date;
}

/** An edge of the key connection. */
@ObjectType()
export class VirtualKeyEdge {
  @Field(() => String) cursor: string;
  @Field(() => VirtualKey) node: VirtualKey;
}

/** Relay page info. */
@ObjectType()
export class PageInfo {
  @Field(() => Boolean) hasNextPage: boolean;
  @Field(() => String, { nullable: true }) endCursor: string | null;
}

/** A page of keys. */
@ObjectType()
export class VirtualKeyConnection {
  @Field(() => [VirtualKeyEdge]) edges: VirtualKeyEdge[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

/** Formats an amount in a budget's unit. */
export function formatBudgetAmount(unit: BudgetUnit, v: bigint): string {
  switch (unit) {
    case "USD":
      return formatUsdPicos(v);
    case "TOKENS":
    case "REQUESTS":
      return v.toString();
  }
}

/** Maps a budget view to its GraphQL object. */
export function toBudget(b: BudgetView): Budget {
  return {
    id: b.id,
    organizationId: b.organizationId,
    scope: b.scope,
    scopeId: b.scopeId,
    unit: b.unit,
    window: b.window,
    limit: formatBudgetAmount(b.unit, b.limit),
    mode: b.mode,
    enforcement: b.enforcement,
    alertThresholds: b.alertThresholds.map((percent) => percent / 100),
    used: formatBudgetAmount(b.unit, b.used),
    remaining: formatBudgetAmount(b.unit, b.remaining),
    windowStart: new Date(b.windowStart),
    resetsAt: b.resetsAt === null ? null : new Date(b.resetsAt),
  };
}

/** Maps a rate limit record to its GraphQL object. */
export function toRateLimit(r: RateLimitRecord): RateLimit {
  return { id: r.id, scope: r.scope, scopeId: r.scopeId, unit: r.unit, limit: r.limit, windowSeconds: r.windowSeconds };
}

/** Maps a key record to its GraphQL object; EXPIRED is derived at `nowMs`. */
export function toVirtualKey(r: VirtualKeyRecord, nowMs: number): VirtualKey {
  const expired = r.status !== "REVOKED" && r.expiresAt !== null && r.expiresAt <= nowMs;
  return {
    id: r.id,
    organizationId: r.organizationId,
    name: r.name,
    kind: r.kind,
    status: expired ? "EXPIRED" : r.status,
    format: r.format,
    prefix: r.prefix,
    last4: r.last4,
    teamId: r.teamId,
    userId: r.userId,
    allowedModels: [...r.allowedModels],
    deniedModels: [...r.deniedModels],
    maxCostPerRequest: r.maxCostPerRequest,
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt),
    metadata: r.metadata,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}

/** Encodes an id as an opaque cursor. */
export function encodeCursor(id: string): string {
  return Buffer.from(`c:${id}`, "utf8").toString("base64url");
}

/** Decodes a cursor; null when malformed. */
export function decodeCursor(cursor: string): string | null {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  return text.startsWith("c:") && text.length > 2 ? text.slice(2) : null;
}
