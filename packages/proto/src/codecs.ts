/**
 * Codecs between the policy model (`@tollgate/policy`) and the wire (`tollgate.v1`).
 * A snapshot travels as a list of versioned resources; each resource's hash is the SHA-256 of its
 * body's bytes, so unchanged resources are never resent.
 */
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type * as policy from "@tollgate/policy";
import { PICOS_PER_MICRO, picosOfMicros } from "@tollgate/policy";
import * as pb from "./gen/tollgate/v1/policy_pb.js";

/** A wire resource decoded into the policy model. */
export type PolicyResource =
  | { readonly kind: "organization"; readonly value: policy.OrganizationPolicy }
  | { readonly kind: "team"; readonly value: policy.TeamPolicy }
  | { readonly kind: "user"; readonly value: policy.UserPolicy }
  | { readonly kind: "virtualKey"; readonly value: policy.VirtualKeyPolicy }
  | { readonly kind: "providerAccount"; readonly value: policy.ProviderAccountPolicy }
  | { readonly kind: "model"; readonly value: policy.ModelPolicy }
  | { readonly kind: "budget"; readonly value: policy.BudgetPolicy }
  | { readonly kind: "rateLimit"; readonly value: policy.RateLimitPolicy }
  | { readonly kind: "guardrails"; readonly value: policy.GuardrailsPolicy }
  | { readonly kind: "signingKey"; readonly value: policy.SigningKeyPolicy };

/** Thrown by `decodeResource` for a resource that cannot be applied (the node NACKs it). */
export class ResourceDecodeError extends Error {}

type EnumObject = Record<string, string | number>;

function toWireEnum<T extends string>(enumObject: EnumObject, value: T): number {
  const n = enumObject[value];
  if (typeof n !== "number") throw new ResourceDecodeError(`unknown enum value ${value}`);
  return n;
}

function fromWireEnum<T extends string>(enumObject: EnumObject, value: number, allowed: readonly T[]): T {
  const name = enumObject[value];
  if (typeof name !== "string" || !(allowed as readonly string[]).includes(name)) {
    throw new ResourceDecodeError(`enum value ${value} is not one of ${allowed.join(", ")}`);
  }
  return name as T;
}

const msOrNull = (v: bigint | undefined): number | null => (v === undefined ? null : Number(v));
const accessOf = (a: pb.ModelAccess | undefined): policy.ModelAccess => ({ allow: a?.allow ?? [], deny: a?.deny ?? [] });
const wireAccess = (a: policy.ModelAccess): pb.ModelAccess => create(pb.ModelAccessSchema, { allow: [...a.allow], deny: [...a.deny] });

function wirePrice(p: policy.ModelPrice): pb.ModelPrice {
  return create(pb.ModelPriceSchema, {
    inputPerMillion: p.inputPerMillion,
    outputPerMillion: p.outputPerMillion,
    ...(p.cachedInputPerMillion === null ? {} : { cachedInputPerMillion: p.cachedInputPerMillion }),
    ...(p.cacheWriteInputPerMillion === undefined || p.cacheWriteInputPerMillion === null ? {} : { cacheWriteInputPerMillion: p.cacheWriteInputPerMillion }),
    ...(p.cacheWrite1hInputPerMillion === undefined || p.cacheWrite1hInputPerMillion === null ? {} : { cacheWrite1hInputPerMillion: p.cacheWrite1hInputPerMillion }),
    ...(p.audioInputPerMillion === undefined || p.audioInputPerMillion === null ? {} : { audioInputPerMillion: p.audioInputPerMillion }),
    ...(p.audioOutputPerMillion === undefined || p.audioOutputPerMillion === null ? {} : { audioOutputPerMillion: p.audioOutputPerMillion }),
  });
}

/** A model's input bounds on the wire (absent fields stay absent). */
function wireInputBounds(v: policy.ModelPolicy): { imageInputTokens?: number; maxInputTokensPerAttachment?: number } {
  return {
    ...(v.imageInputTokens === undefined ? {} : { imageInputTokens: v.imageInputTokens }),
    ...(v.maxInputTokensPerAttachment === undefined || v.maxInputTokensPerAttachment === null ? {} : { maxInputTokensPerAttachment: v.maxInputTokensPerAttachment }),
  };
}

/**
 * A model's input bounds from the wire: absent per image = the provider's default, absent per part
 * = not set (null). A 0 is no bound: read as absent, which is never less safe.
 */
function inputBoundsOf(v: pb.Model): { imageInputTokens?: number; maxInputTokensPerAttachment?: number } {
  const image = v.imageInputTokens ?? 0;
  const perPart = v.maxInputTokensPerAttachment ?? 0;
  return { ...(image > 0 ? { imageInputTokens: image } : {}), ...(perPart > 0 ? { maxInputTokensPerAttachment: perPart } : {}) };
}

function priceOf(p: pb.ModelPrice | undefined): policy.ModelPrice | null {
  if (!p) return null;
  const optional = [p.cachedInputPerMillion, p.cacheWriteInputPerMillion, p.cacheWrite1hInputPerMillion, p.audioInputPerMillion, p.audioOutputPerMillion];
  if (p.inputPerMillion < 0n || p.outputPerMillion < 0n || optional.some((v) => v !== undefined && v < 0n)) throw new ResourceDecodeError("negative price");
  return {
    inputPerMillion: p.inputPerMillion,
    outputPerMillion: p.outputPerMillion,
    cachedInputPerMillion: p.cachedInputPerMillion ?? null,
    ...(p.cacheWriteInputPerMillion === undefined ? {} : { cacheWriteInputPerMillion: p.cacheWriteInputPerMillion }),
    ...(p.cacheWrite1hInputPerMillion === undefined ? {} : { cacheWrite1hInputPerMillion: p.cacheWrite1hInputPerMillion }),
    ...(p.audioInputPerMillion === undefined ? {} : { audioInputPerMillion: p.audioInputPerMillion }),
    ...(p.audioOutputPerMillion === undefined ? {} : { audioOutputPerMillion: p.audioOutputPerMillion }),
  };
}

const SCOPES: readonly policy.Scope[] = ["ORGANIZATION", "TEAM", "USER", "VIRTUAL_KEY"];

/** The resource key of a policy object: "<kind>/<id>". */
export function resourceKey(kind: PolicyResource["kind"], id: string): string {
  return `${kind}/${id}`;
}

function bodyOf(r: PolicyResource): pb.Resource["body"] {
  switch (r.kind) {
    case "organization": {
      const v = r.value;
      return {
        case: "organization",
        value: create(pb.OrganizationSchema, { id: v.id, slug: v.slug, name: v.name, access: wireAccess(v.access), ...(v.fallbackPrice ? { fallbackPrice: wirePrice(v.fallbackPrice) } : {}) }),
      };
    }
    case "team": {
      const v = r.value;
      return { case: "team", value: create(pb.TeamSchema, { id: v.id, organizationId: v.organizationId, slug: v.slug, name: v.name, access: wireAccess(v.access) }) };
    }
    case "user": {
      const v = r.value;
      return { case: "user", value: create(pb.UserSchema, { id: v.id, organizationId: v.organizationId, email: v.email, active: v.active, teamIds: [...v.teamIds], access: wireAccess(v.access) }) };
    }
    case "virtualKey": {
      const v = r.value;
      return {
        case: "virtualKey",
        value: create(pb.VirtualKeySchema, {
          id: v.id,
          organizationId: v.organizationId,
          name: v.name,
          kind: toWireEnum(pb.KeyKind, v.kind),
          ...(v.teamId === null ? {} : { teamId: v.teamId }),
          ...(v.userId === null ? {} : { userId: v.userId }),
          status: toWireEnum(pb.KeyStatus, v.status),
          secrets: v.secrets.map((s) => create(pb.KeySecretSchema, { hmac: s.hmac, ...(s.validUntil === null ? {} : { validUntilMs: BigInt(s.validUntil) }) })),
          access: wireAccess(v.access),
          ...(v.maxCostPerRequest === null ? {} : { maxCostPerRequestMicros: v.maxCostPerRequest / PICOS_PER_MICRO }),
          ...(v.expiresAt === null ? {} : { expiresAtMs: BigInt(v.expiresAt) }),
        }),
      };
    }
    case "providerAccount": {
      const v = r.value;
      return {
        case: "providerAccount",
        value: create(pb.ProviderAccountSchema, { id: v.id, organizationId: v.organizationId, name: v.name, provider: toWireEnum(pb.ProviderKind, v.provider), baseUrl: v.baseUrl, apiKey: v.apiKey }),
      };
    }
    case "model": {
      const v = r.value;
      return {
        case: "model",
        value: create(pb.ModelSchema, {
          id: v.id,
          organizationId: v.organizationId,
          providerAccountId: v.providerAccountId,
          name: v.name,
          upstreamModel: v.upstreamModel,
          ...(v.price ? { price: wirePrice(v.price) } : {}),
          maxOutputTokens: v.maxOutputTokens,
          ...(v.weight === undefined ? {} : { weight: v.weight }),
          ...(v.priority === undefined ? {} : { priority: v.priority }),
          ...wireInputBounds(v),
        }),
      };
    }
    case "budget": {
      const v = r.value;
      return {
        case: "budget",
        value: create(pb.BudgetSchema, {
          id: v.id,
          organizationId: v.organizationId,
          scope: toWireEnum(pb.Scope, v.scope),
          scopeId: v.scopeId,
          unit: toWireEnum(pb.BudgetUnit, v.unit),
          window: toWireEnum(pb.BudgetWindow, v.window),
          limit: v.limit,
          mode: toWireEnum(pb.BudgetMode, v.mode),
          enforcement: toWireEnum(pb.BudgetEnforcement, v.enforcement),
          scopeLabel: v.scopeLabel,
        }),
      };
    }
    case "rateLimit": {
      const v = r.value;
      return {
        case: "rateLimit",
        value: create(pb.RateLimitSchema, {
          id: v.id,
          organizationId: v.organizationId,
          scope: toWireEnum(pb.Scope, v.scope),
          scopeId: v.scopeId,
          unit: toWireEnum(pb.BudgetUnit, v.unit),
          limit: v.limit,
          windowSeconds: v.windowSeconds,
          scopeLabel: v.scopeLabel,
        }),
      };
    }
    case "guardrails": {
      const v = r.value;
      return {
        case: "guardrails",
        value: create(pb.GuardrailsSchema, {
          id: v.id,
          organizationId: v.organizationId,
          scope: toWireEnum(pb.Scope, v.scope),
          scopeId: v.scopeId,
          scopeLabel: v.scopeLabel,
          rules: v.rules.map((rule) =>
            create(pb.GuardrailRuleSchema, {
              name: rule.name,
              kind: toWireEnum(pb.GuardrailKind, rule.kind),
              pattern: rule.pattern,
              flags: rule.flags,
              keywords: [...rule.keywords],
              limit: rule.limit,
            }),
          ),
        }),
      };
    }
    case "signingKey": {
      const v = r.value;
      return {
        case: "signingKey",
        value: create(pb.SigningKeySchema, { kid: v.id, algorithm: v.algorithm, publicJwk: v.publicJwk, ...(v.notAfter === null ? {} : { notAfterMs: BigInt(v.notAfter) }) }),
      };
    }
  }
}

/** Encodes one policy object as a wire resource with its key and content hash. */
export function encodeResource(r: PolicyResource): pb.Resource {
  const body = bodyOf(r);
  const bare = create(pb.ResourceSchema, { body });
  const hash = createHash("sha256").update(toBinary(pb.ResourceSchema, bare)).digest("hex").slice(0, 32);
  return create(pb.ResourceSchema, { key: resourceKey(r.kind, r.value.id), hash, body });
}

/** Lists every object of a snapshot as a policy resource. */
export function listResources(s: policy.PolicySnapshot): PolicyResource[] {
  return [
    ...s.organizations.map((value) => ({ kind: "organization" as const, value })),
    ...s.teams.map((value) => ({ kind: "team" as const, value })),
    ...s.users.map((value) => ({ kind: "user" as const, value })),
    ...s.virtualKeys.map((value) => ({ kind: "virtualKey" as const, value })),
    ...s.providerAccounts.map((value) => ({ kind: "providerAccount" as const, value })),
    ...s.models.map((value) => ({ kind: "model" as const, value })),
    ...s.budgets.map((value) => ({ kind: "budget" as const, value })),
    ...s.rateLimits.map((value) => ({ kind: "rateLimit" as const, value })),
    ...s.guardrails.map((value) => ({ kind: "guardrails" as const, value })),
    ...s.signingKeys.map((value) => ({ kind: "signingKey" as const, value })),
  ];
}

/** Encodes a whole snapshot as wire resources. */
export function encodeSnapshotResources(s: policy.PolicySnapshot): pb.Resource[] {
  return listResources(s).map(encodeResource);
}

function need(value: string, what: string): string {
  if (value === "") throw new ResourceDecodeError(`${what} is empty`);
  return value;
}

/** Decodes one wire resource into the policy model; throws `ResourceDecodeError` when invalid. */
export function decodeResource(r: pb.Resource): PolicyResource {
  const b = r.body;
  switch (b.case) {
    case "organization":
      return {
        kind: "organization",
        value: { id: need(b.value.id, "organization id"), slug: b.value.slug, name: b.value.name, access: accessOf(b.value.access), fallbackPrice: priceOf(b.value.fallbackPrice) },
      };
    case "team":
      return {
        kind: "team",
        value: { id: need(b.value.id, "team id"), organizationId: need(b.value.organizationId, "team organization"), slug: b.value.slug, name: b.value.name, access: accessOf(b.value.access) },
      };
    case "user":
      return {
        kind: "user",
        value: {
          id: need(b.value.id, "user id"),
          organizationId: need(b.value.organizationId, "user organization"),
          email: b.value.email,
          active: b.value.active,
          teamIds: b.value.teamIds,
          access: accessOf(b.value.access),
        },
      };
    case "virtualKey": {
      const v = b.value;
      return {
        kind: "virtualKey",
        value: {
          id: need(v.id, "key id"),
          organizationId: need(v.organizationId, "key organization"),
          name: v.name,
          kind: fromWireEnum(pb.KeyKind, v.kind, ["PERSONAL", "SERVICE"] as const),
          teamId: v.teamId ?? null,
          userId: v.userId ?? null,
          status: fromWireEnum(pb.KeyStatus, v.status, ["ACTIVE", "PAUSED", "REVOKED"] as const),
          secrets: v.secrets.map((s) => ({ hmac: need(s.hmac, "key secret"), validUntil: msOrNull(s.validUntilMs) })),
          access: accessOf(v.access),
          maxCostPerRequest: v.maxCostPerRequestMicros === undefined ? null : picosOfMicros(v.maxCostPerRequestMicros),
          expiresAt: msOrNull(v.expiresAtMs),
        },
      };
    }
    case "providerAccount": {
      const v = b.value;
      return {
        kind: "providerAccount",
        value: {
          id: need(v.id, "account id"),
          organizationId: need(v.organizationId, "account organization"),
          name: v.name,
          provider: fromWireEnum(pb.ProviderKind, v.provider, ["OPENAI", "ANTHROPIC", "GOOGLE", "AZURE_OPENAI", "OPENAI_COMPATIBLE"] as const),
          baseUrl: need(v.baseUrl, "account base URL"),
          apiKey: v.apiKey,
        },
      };
    }
    case "model": {
      const v = b.value;
      return {
        kind: "model",
        value: {
          id: need(v.id, "model id"),
          organizationId: need(v.organizationId, "model organization"),
          providerAccountId: need(v.providerAccountId, "model account"),
          name: need(v.name, "model name"),
          upstreamModel: need(v.upstreamModel, "upstream model"),
          price: priceOf(v.price),
          maxOutputTokens: v.maxOutputTokens,
          ...(v.weight === undefined ? {} : { weight: v.weight }),
          ...(v.priority === undefined ? {} : { priority: v.priority }),
          ...inputBoundsOf(v),
        },
      };
    }
    case "budget": {
      const v = b.value;
      if (v.limit < 0n) throw new ResourceDecodeError("negative budget limit");
      return {
        kind: "budget",
        value: {
          id: need(v.id, "budget id"),
          organizationId: need(v.organizationId, "budget organization"),
          scope: fromWireEnum(pb.Scope, v.scope, SCOPES),
          scopeId: need(v.scopeId, "budget scope id"),
          unit: fromWireEnum(pb.BudgetUnit, v.unit, ["USD", "TOKENS", "REQUESTS"] as const),
          window: fromWireEnum(pb.BudgetWindow, v.window, ["DAY", "WEEK", "MONTH", "TOTAL"] as const),
          limit: v.limit,
          mode: fromWireEnum(pb.BudgetMode, v.mode, ["HARD", "SOFT"] as const),
          enforcement: fromWireEnum(pb.BudgetEnforcement, v.enforcement, ["CAP_OUTPUT", "STRICT", "ESTIMATE"] as const),
          scopeLabel: v.scopeLabel,
        },
      };
    }
    case "rateLimit": {
      const v = b.value;
      if (v.windowSeconds === 0) throw new ResourceDecodeError("rate limit window is zero");
      return {
        kind: "rateLimit",
        value: {
          id: need(v.id, "rate limit id"),
          organizationId: need(v.organizationId, "rate limit organization"),
          scope: fromWireEnum(pb.Scope, v.scope, SCOPES),
          scopeId: need(v.scopeId, "rate limit scope id"),
          unit: fromWireEnum(pb.BudgetUnit, v.unit, ["REQUESTS", "TOKENS"] as const),
          limit: v.limit,
          windowSeconds: v.windowSeconds,
          scopeLabel: v.scopeLabel,
        },
      };
    }
    case "guardrails": {
      const v = b.value;
      return {
        kind: "guardrails",
        value: {
          id: need(v.id, "guardrails id"),
          organizationId: need(v.organizationId, "guardrails organization"),
          scope: fromWireEnum(pb.Scope, v.scope, SCOPES),
          scopeId: need(v.scopeId, "guardrails scope id"),
          scopeLabel: v.scopeLabel,
          rules: v.rules.map((rule) => {
            const kind = fromWireEnum(pb.GuardrailKind, rule.kind, ["BLOCK_REGEX", "BLOCK_KEYWORDS", "MAX_INPUT_TOKENS"] as const);
            // A pattern the engine cannot compile is kept: the policy index turns it into a rule
            // that blocks every request of its scope (fail closed), where refusing the resource
            // would leave a node that never had it with no guardrails at all.
            return { name: rule.name, kind, pattern: rule.pattern, flags: rule.flags, keywords: rule.keywords, limit: rule.limit };
          }),
        },
      };
    }
    case "signingKey": {
      const v = b.value;
      if (v.algorithm !== "EdDSA") throw new ResourceDecodeError(`signing key ${v.kid} has unsupported algorithm ${v.algorithm}`);
      return { kind: "signingKey", value: { id: need(v.kid, "signing key id"), algorithm: "EdDSA", publicJwk: need(v.publicJwk, "signing key JWK"), notAfter: msOrNull(v.notAfterMs) } };
    }
    case undefined:
      throw new ResourceDecodeError("resource has no body");
  }
}

/** Assembles a snapshot from decoded resources. */
export function assembleSnapshot(version: bigint, hmacPepper: string, resources: Iterable<PolicyResource>): policy.PolicySnapshot {
  const s = {
    version,
    hmacPepper,
    organizations: [] as policy.OrganizationPolicy[],
    teams: [] as policy.TeamPolicy[],
    users: [] as policy.UserPolicy[],
    virtualKeys: [] as policy.VirtualKeyPolicy[],
    providerAccounts: [] as policy.ProviderAccountPolicy[],
    models: [] as policy.ModelPolicy[],
    budgets: [] as policy.BudgetPolicy[],
    rateLimits: [] as policy.RateLimitPolicy[],
    guardrails: [] as policy.GuardrailsPolicy[],
    signingKeys: [] as policy.SigningKeyPolicy[],
  };
  for (const r of resources) {
    switch (r.kind) {
      case "organization":
        s.organizations.push(r.value);
        break;
      case "team":
        s.teams.push(r.value);
        break;
      case "user":
        s.users.push(r.value);
        break;
      case "virtualKey":
        s.virtualKeys.push(r.value);
        break;
      case "providerAccount":
        s.providerAccounts.push(r.value);
        break;
      case "model":
        s.models.push(r.value);
        break;
      case "budget":
        s.budgets.push(r.value);
        break;
      case "rateLimit":
        s.rateLimits.push(r.value);
        break;
      case "guardrails":
        s.guardrails.push(r.value);
        break;
      case "signingKey":
        s.signingKeys.push(r.value);
        break;
    }
  }
  return s;
}
