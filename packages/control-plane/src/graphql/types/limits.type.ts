/** GraphQL object types of model access, guardrails, budget alerts and the Simulator's answer. */
import { formatUsdPicos, type BudgetMode, type BudgetUnit, type BudgetWindow, type GuardrailKind, type Scope } from "@tollgate/policy";
import type { SimulationReport } from "@tollgate/providers";
import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import type { BudgetAlertView } from "../../services/budget-alert.service.js";
import type { GuardrailsView, ModelAccessView } from "../../services/limits.service.js";
import { BudgetModeEnum, BudgetUnitEnum, BudgetWindowEnum, ScopeEnum } from "../enums.js";
import { DateTimeScalar } from "../scalars.js";

/** Guardrail rule kinds. */
export const GuardrailKindEnum = { BLOCK_REGEX: "BLOCK_REGEX", BLOCK_KEYWORDS: "BLOCK_KEYWORDS", MAX_INPUT_TOKENS: "MAX_INPUT_TOKENS" } as const;
registerEnumType(GuardrailKindEnum, {
  name: "GuardrailKind",
  description:
    "BLOCK_REGEX: a regular expression in RE2 syntax (linear time; flags i, m, s, u) matched against the prompt text; BLOCK_KEYWORDS: case-insensitive whole words; MAX_INPUT_TOKENS: a ceiling on the prompt's token upper bound.",
});

/** Allow and deny lists of one scope object. */
@ObjectType({ description: "Allow and deny lists of public model names with `*` patterns. Empty allow = every model; deny wins; a model must pass every level (organization, team, user, key)." })
export class ModelAccess {
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => ID) scopeId: string;
  @Field(() => [String]) allow: string[];
  @Field(() => [String]) deny: string[];
}

/** One guardrail rule. */
@ObjectType()
export class GuardrailRule {
  @Field(() => String) name: string;
  @Field(() => GuardrailKindEnum) kind: GuardrailKind;
  @Field(() => String, { nullable: true, description: "BLOCK_REGEX only." }) pattern: string | null;
  @Field(() => String, { nullable: true, description: "BLOCK_REGEX only." }) flags: string | null;
  @Field(() => [String], { nullable: true, description: "BLOCK_KEYWORDS only." }) keywords: string[] | null;
  @Field(() => Int, { nullable: true, description: "MAX_INPUT_TOKENS only." }) limit: number | null;
}

/** The guardrails of an organization or a key. */
@ObjectType({ description: "Guardrails run on every request after model access, before price and budgets: the organization's rules, then the key's." })
export class Guardrails {
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => ID) scopeId: string;
  @Field(() => [GuardrailRule]) rules: GuardrailRule[];
}

/** A budget threshold alert. */
@ObjectType({ description: "A budget threshold reached in a window: recorded once per (budget, window, threshold) and delivered to the organization's webhook." })
export class BudgetAlert {
  @Field(() => ID) id: string;
  @Field(() => ID) budgetId: string;
  @Field(() => ScopeEnum, { nullable: true, description: "null when the budget was removed since." }) scope: Scope | null;
  @Field(() => ID, { nullable: true }) scopeId: string | null;
  @Field(() => BudgetUnitEnum, { nullable: true }) unit: BudgetUnit | null;
  @Field(() => BudgetWindowEnum, { nullable: true }) window: BudgetWindow | null;
  @Field(() => Float, { description: "Fraction of the limit (0.8 = 80%)." }) threshold: number;
  @Field(() => String, { description: "Used when the threshold was reached, in the budget's unit." }) used: string;
  @Field(() => String, { description: "The limit then, in the budget's unit." }) limit: string;
  @Field(() => DateTimeScalar) windowStart: Date;
  @Field(() => DateTimeScalar) createdAt: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: "When the webhook accepted it; null while pending or without a webhook." }) deliveredAt: Date | null;
  @Field(() => Int) deliveryAttempts: number;
}

/** The error the real request would get. */
@ObjectType()
export class SimulationError {
  @Field(() => String) message: string;
  @Field(() => String) type: string;
  @Field(() => String, { nullable: true }) param: string | null;
  @Field(() => String) code: string;
}

/** Where the request would go. */
@ObjectType()
export class SimulatedRoute {
  @Field(() => String, { description: "The model's public name." }) model: string;
  @Field(() => String, { description: "The provider account's name." }) providerAccount: string;
  @Field(() => String) upstreamModel: string;
}

/** One check of the decision. */
@ObjectType()
export class SimulationCheck {
  @Field(() => String) name: string;
  @Field(() => String, { description: "ORGANIZATION, TEAM, USER, VIRTUAL_KEY, MODEL or REQUEST." }) level: string;
  @Field(() => Boolean) passed: boolean;
  @Field(() => String) detail: string;
}

/** One budget of the simulated key's chain. */
@ObjectType({ description: "A budget on the key's chain: what the admin set, what is used and what remains in the current window. Amounts are US dollars for USD, whole counts otherwise." })
export class SimulatedBudget {
  @Field(() => ID) id: string;
  @Field(() => String, { description: 'For example `monthly USD budget of team "search"`.' }) name: string;
  @Field(() => ScopeEnum) scope: Scope;
  @Field(() => BudgetUnitEnum) unit: BudgetUnit;
  @Field(() => BudgetWindowEnum) window: BudgetWindow;
  @Field(() => BudgetModeEnum) mode: BudgetMode;
  @Field(() => String) limit: string;
  @Field(() => String, { nullable: true, description: "Settled use in the current window; null when it could not be learned." }) used: string | null;
  @Field(() => String, { nullable: true }) remaining: string | null;
  @Field(() => DateTimeScalar, { nullable: true, description: "Next reset; null for TOTAL budgets." }) resetsAt: Date | null;
  @Field(() => String, { nullable: true, description: "What the answering data-plane node holds of it in grants; null on the control plane." }) heldByThisNode: string | null;
}

/** The Simulator's answer. */
@ObjectType({ description: "What the data plane would answer to the request: the same decision code, nothing consumed." })
export class Simulation {
  @Field(() => Boolean) allowed: boolean;
  @Field(() => Int, { description: "The HTTP status the real request would get." }) status: number;
  @Field(() => SimulationError, { nullable: true }) error: SimulationError | null;
  @Field(() => SimulatedRoute, { nullable: true }) route: SimulatedRoute | null;
  @Field(() => String, { description: 'Upper-bound cost in US dollars ("0.000123").' }) estimatedCost: string;
  @Field(() => [SimulationCheck]) checks: SimulationCheck[];
  @Field(() => [SimulatedBudget], { description: "Every budget on the key's chain with its limit, use and remainder." }) budgets: SimulatedBudget[];
}

/** Maps a model access view. */
export function toModelAccess(v: ModelAccessView): ModelAccess {
  return { scope: v.scope, scopeId: v.scopeId, allow: [...v.allow], deny: [...v.deny] };
}

/** Maps a guardrails view (fields that do not apply to a rule's kind are null). */
export function toGuardrails(v: GuardrailsView): Guardrails {
  return {
    scope: v.scope,
    scopeId: v.scopeId,
    rules: v.rules.map((r) => ({
      name: r.name,
      kind: r.kind,
      pattern: r.kind === "BLOCK_REGEX" ? r.pattern : null,
      flags: r.kind === "BLOCK_REGEX" ? r.flags : null,
      keywords: r.kind === "BLOCK_KEYWORDS" ? [...r.keywords] : null,
      limit: r.kind === "MAX_INPUT_TOKENS" ? r.limit : null,
    })),
  };
}

/** Maps an alert view. */
export function toBudgetAlert(a: BudgetAlertView): BudgetAlert {
  const amount = (v: bigint): string => (a.budget?.unit === "USD" ? formatUsdPicos(v) : v.toString());
  return {
    id: a.id,
    budgetId: a.budgetId,
    scope: a.budget?.scope ?? null,
    scopeId: a.budget?.scopeId ?? null,
    unit: a.budget?.unit ?? null,
    window: a.budget?.window ?? null,
    threshold: a.thresholdPercent / 100,
    used: amount(a.used),
    limit: amount(a.limit),
    windowStart: new Date(a.windowStartMs),
    createdAt: new Date(a.createdAt),
    deliveredAt: a.deliveredAt === null ? null : new Date(a.deliveredAt),
    deliveryAttempts: a.deliveryAttempts,
  };
}

/** Maps a Simulator report. */
export function toSimulation(r: SimulationReport): Simulation {
  return {
    allowed: r.allowed,
    status: r.status,
    error: r.error === null ? null : { ...r.error },
    route: r.route === null ? null : { ...r.route },
    estimatedCost: r.estimatedCost,
    checks: r.checks.map((c) => ({ ...c })),
    budgets: r.budgets.map((b) => ({ ...b, resetsAt: b.resetsAt === null ? null : new Date(b.resetsAt) })),
  };
}
