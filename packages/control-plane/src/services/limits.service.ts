/**
 * Limits at every level: model access (allow/deny lists of an organization, team, user or key),
 * rate limits (one per scope, unit and window) and guardrails (organization or key).
 */
import { compileGuardrailMatcher, type GuardrailRule, type ModelAccess, type Scope } from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import type { RateLimitRecord } from "../records.js";
import * as repo from "../repositories/limits.repository.js";
import type { GuardrailsRecord } from "../repositories/limits.repository.js";
import { listRateLimitsOf } from "../repositories/budget.repository.js";
import { assertInTenancy, type Actor } from "./actor.js";
import { resolveScopeOrganization } from "./budget.service.js";
import { assertCanManageScope, assertModelsWithinMemberAccess } from "./key-rights.js";
import { assertMemberTightens, guardrailsLoosening, modelAccessLoosening, rateLimitLoosening } from "./member-limits.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireInt, requireModelPatterns, requireName } from "./validate.js";

/** The longest rate-limit window (31 days). */
export const MAX_RATE_WINDOW_SECONDS = 31 * 24 * 3600;
/** The most rules one scope's guardrails may hold. */
export const MAX_GUARDRAIL_RULES = 50;

/** A scope object's model access. */
export interface ModelAccessView extends ModelAccess {
  readonly scope: Scope;
  readonly scopeId: string;
}

/** A scope's guardrails (empty rules when none are set). */
export interface GuardrailsView {
  readonly scope: Scope;
  readonly scopeId: string;
  readonly rules: readonly GuardrailRule[];
}

/** A rate limit as asked for by `setRateLimit`. */
export interface RateLimitSet {
  scope: Scope;
  scopeId: string;
  unit: "REQUESTS" | "TOKENS";
  limit: number;
  windowSeconds: number;
}

/** A guardrail rule as given; absent fields take their kind's defaults. */
export interface GuardrailRuleInput {
  name: string;
  kind: GuardrailRule["kind"];
  pattern?: string | null;
  flags?: string | null;
  keywords?: readonly string[] | null;
  limit?: number | null;
}

/** Validates rules (BAD_USER_INPUT naming the rule) and normalizes them. */
export function requireGuardrailRules(rules: readonly GuardrailRuleInput[]): GuardrailRule[] {
  if (rules.length > MAX_GUARDRAIL_RULES) throw badInput(`rules: at most ${MAX_GUARDRAIL_RULES} rules`);
  const names = new Set<string>();
  return rules.map((input, i) => {
    const name = requireName(`rules[${i}].name`, input.name);
    if (names.has(name)) throw badInput(`rules: two rules named "${name}"`);
    names.add(name);
    const rule: GuardrailRule = {
      name,
      kind: input.kind,
      pattern: input.kind === "BLOCK_REGEX" ? (input.pattern ?? "") : "",
      flags: input.kind === "BLOCK_REGEX" ? (input.flags ?? "") : "",
      keywords: input.kind === "BLOCK_KEYWORDS" ? [...new Set((input.keywords ?? []).map((k) => k.trim()).filter((k) => k.length > 0))] : [],
      limit: input.kind === "MAX_INPUT_TOKENS" ? (input.limit ?? 0) : 0,
    };
    if (rule.pattern.length > 2000) throw badInput(`rule "${name}": pattern is longer than 2000 characters`);
    if (rule.keywords.some((k) => k.length > 200) || rule.keywords.length > 500) throw badInput(`rule "${name}": at most 500 keywords of 200 characters`);
    if (rule.kind === "MAX_INPUT_TOKENS") requireInt(`rule "${name}": limit`, rule.limit, 1, 100_000_000);
    const compiled = compileGuardrailMatcher(rule);
    if (compiled.error !== null) throw badInput(`rule "${name}": ${compiled.error}`);
    return rule;
  });
}

/** Model access, rate limit and guardrail operations. */
export class LimitsService {
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
  ) {}

  /** Replaces the allow and deny lists of a scope object. */
  setModelAccess(actor: Actor, scope: Scope, scopeId: string, allow: readonly string[], deny: readonly string[]): Promise<ModelAccessView> {
    const access = { allow: requireModelPatterns("allow", allow), deny: requireModelPatterns("deny", deny) };
    return this.runner.run(actor, true, async (m) => {
      const organizationId = await resolveScopeOrganization(m.tx, scope, scopeId);
      await assertCanManageScope(m.tx, actor, organizationId, scope, scopeId);
      if (scope === "VIRTUAL_KEY") await assertModelsWithinMemberAccess(m.tx, actor, organizationId, access.allow);
      const before = await repo.readModelAccess(m.tx, scope, scopeId);
      if (before !== null) assertMemberTightens(actor, [modelAccessLoosening(before, access)]);
      if (!(await repo.writeModelAccess(m.tx, scope, scopeId, access, m.nowMs))) throw notFound(scope.toLowerCase().replace("_", " "), scopeId);
      await m.audit({ organizationId, action: "model_access.set", target: scopeId, before: before === null ? null : { scope, ...before }, after: { scope, ...access } });
      return { scope, scopeId, ...access };
    });
  }

  /** The allow and deny lists of a scope object. */
  async getModelAccess(actor: Actor, scope: Scope, scopeId: string): Promise<ModelAccessView> {
    const organizationId = await resolveScopeOrganization(this.db, scope, scopeId);
    await assertCanManageScope(this.db, actor, organizationId, scope, scopeId, true);
    const access = await repo.readModelAccess(this.db, scope, scopeId);
    if (access === null) throw notFound(scope.toLowerCase().replace("_", " "), scopeId);
    return { scope, scopeId, ...access };
  }

  /** Sets the rate limit of (scope, scopeId, unit, windowSeconds): creates it or updates its limit. */
  setRateLimit(actor: Actor, input: RateLimitSet): Promise<RateLimitRecord> {
    requireInt("limit", input.limit, 1, 2_147_483_647);
    requireInt("windowSeconds", input.windowSeconds, 1, MAX_RATE_WINDOW_SECONDS);
    return this.runner.run(actor, true, async (m) => {
      const organizationId = await resolveScopeOrganization(m.tx, input.scope, input.scopeId);
      await assertCanManageScope(m.tx, actor, organizationId, input.scope, input.scopeId);
      const existing = (await listRateLimitsOf(m.tx, input.scope, input.scopeId)).find((r) => r.unit === input.unit && r.windowSeconds === input.windowSeconds);
      if (existing) assertMemberTightens(actor, [rateLimitLoosening(existing, input)]);
      const rate = await repo.upsertRateLimit(m.tx, { id: m.newId("rl"), organizationId, ...input }, m.nowMs);
      await m.audit({ organizationId, action: "rate_limit.set", target: rate.id, after: { ...input } });
      return rate;
    });
  }

  /** Removes a rate limit; resolves to it as it was. */
  removeRateLimit(actor: Actor, id: string): Promise<RateLimitRecord> {
    return this.runner.run(actor, true, async (m) => {
      const rate = await repo.findRateLimit(m.tx, id);
      if (!rate) throw notFound("rate limit", id);
      assertInTenancy(actor, rate.organizationId, "rate limit", id);
      await assertCanManageScope(m.tx, actor, rate.organizationId, rate.scope, rate.scopeId);
      assertMemberTightens(actor, [rateLimitLoosening(rate, null)]);
      await repo.deleteRateLimit(m.tx, id);
      await m.audit({
        organizationId: rate.organizationId,
        action: "rate_limit.remove",
        target: id,
        before: { scope: rate.scope, scopeId: rate.scopeId, unit: rate.unit, limit: rate.limit, windowSeconds: rate.windowSeconds },
      });
      return rate;
    });
  }

  /** The rate limits of a scope object. */
  async listRateLimits(actor: Actor, scope: Scope, scopeId: string): Promise<RateLimitRecord[]> {
    const organizationId = await resolveScopeOrganization(this.db, scope, scopeId);
    await assertCanManageScope(this.db, actor, organizationId, scope, scopeId, true);
    return listRateLimitsOf(this.db, scope, scopeId);
  }

  /** Replaces the guardrails of an organization or a key (no rules: removes them). */
  setGuardrails(actor: Actor, scope: Scope, scopeId: string, rules: readonly GuardrailRuleInput[]): Promise<GuardrailsView> {
    if (scope !== "ORGANIZATION" && scope !== "VIRTUAL_KEY") throw badInput("guardrails are set on an ORGANIZATION or a VIRTUAL_KEY");
    const valid = requireGuardrailRules(rules);
    return this.runner.run(actor, true, async (m) => {
      const organizationId = await resolveScopeOrganization(m.tx, scope, scopeId);
      await assertCanManageScope(m.tx, actor, organizationId, scope, scopeId);
      const before = await repo.findGuardrails(m.tx, scope, scopeId);
      assertMemberTightens(actor, [guardrailsLoosening(before?.rules ?? [], valid)]);
      const stored = await repo.replaceGuardrails(m.tx, { id: m.newId("grd"), organizationId, scope, scopeId, rules: valid }, m.nowMs);
      await m.audit({
        organizationId,
        action: "guardrails.set",
        target: scopeId,
        before: before === null ? null : { scope, rules: before.rules.map((r) => r.name) },
        after: { scope, rules: valid.map((r) => r.name) },
      });
      return viewOf(scope, scopeId, stored);
    });
  }

  /** The guardrails of an organization or a key. */
  async getGuardrails(actor: Actor, scope: Scope, scopeId: string): Promise<GuardrailsView> {
    const organizationId = await resolveScopeOrganization(this.db, scope, scopeId);
    await assertCanManageScope(this.db, actor, organizationId, scope, scopeId, true);
    return viewOf(scope, scopeId, await repo.findGuardrails(this.db, scope, scopeId));
  }
}

function viewOf(scope: Scope, scopeId: string, stored: GuardrailsRecord | null): GuardrailsView {
  return { scope, scopeId, rules: stored?.rules ?? [] };
}
