/**
 * Members cannot lift what admins set. The one rule, for every limit of every scope (budgets, rate
 * limits, the per-request cost cap, guardrails, allow/deny lists, expiry): a MEMBER's change may
 * only tighten. Adding a limit, lowering one, adding deny entries or guardrail rules, narrowing a
 * non-empty allow list, shortening an expiry: allowed. Raising, removing or loosening anything that
 * exists (whoever set it): FORBIDDEN, and nothing is written. Pausing is tightening too: a key an
 * admin paused is resumed only by an admin (the member may pause, and resume their own pause).
 * Admins are not restricted here.
 *
 * Each `*Loosening` function is pure: it compares what exists with what is asked and answers how
 * the change loosens (a phrase for the error), or null when it only keeps or tightens. Services
 * pass the findings to `assertMemberTightens`, the single place the rule is enforced.
 */
import { assertNever, findMatchingPattern, type BudgetEnforcement, type BudgetMode, type BudgetUnit, type BudgetWindow, type GuardrailRule, type ModelAccess } from "@tollgate/policy";
import type { BudgetRecord, RateLimitRecord } from "../records.js";
import { forbidden, memberUserId, type Actor } from "./actor.js";

/** How a change loosens a limit, or null when it does not. */
export type Loosening = string | null;

/** A budget as it would be stored (limit in the budget's unit). */
export interface BudgetTerms {
  readonly unit: BudgetUnit;
  readonly window: BudgetWindow;
  readonly limit: bigint;
  readonly mode: BudgetMode;
  readonly enforcement: BudgetEnforcement;
  readonly alertThresholds: readonly number[];
}

/** A rate limit as it would be stored. */
export interface RateLimitTerms {
  readonly unit: "REQUESTS" | "TOKENS";
  readonly limit: number;
  readonly windowSeconds: number;
}

/** From the tightest to the loosest way a hard budget meets a request of unknown cost. */
const ENFORCEMENT_ORDER: readonly BudgetEnforcement[] = ["STRICT", "CAP_OUTPUT", "ESTIMATE"];

const budgetName = (b: { unit: BudgetUnit; window: BudgetWindow }): string => `the ${b.unit} ${b.window} budget`;
const rateName = (r: { unit: string; windowSeconds: number }): string => `the ${r.unit} rate limit per ${r.windowSeconds} s`;

/** A budget replaced by `after` (null: removed). */
export function budgetLoosening(before: BudgetRecord | BudgetTerms, after: BudgetTerms | null): Loosening {
  const name = budgetName(before);
  if (after === null) return `removes ${name}`;
  if (after.limit > before.limit) return `raises ${name} from ${before.limit} to ${after.limit}`;
  if (before.mode === "HARD" && after.mode === "SOFT") return `makes ${name} soft`;
  if (ENFORCEMENT_ORDER.indexOf(after.enforcement) > ENFORCEMENT_ORDER.indexOf(before.enforcement)) return `loosens the enforcement of ${name} from ${before.enforcement} to ${after.enforcement}`;
  const dropped = before.alertThresholds.filter((t) => !after.alertThresholds.includes(t));
  return dropped.length > 0 ? `removes alert thresholds of ${name}` : null;
}

/** A scope's budgets replaced by `after` (budgets not in `after` are removed). */
export function budgetsLoosening(before: readonly BudgetRecord[], after: readonly BudgetTerms[]): Loosening {
  for (const old of before) {
    const found = budgetLoosening(old, after.find((b) => b.unit === old.unit && b.window === old.window) ?? null);
    if (found !== null) return found;
  }
  return null;
}

/** A rate limit replaced by `after` (null: removed). */
export function rateLimitLoosening(before: RateLimitRecord | RateLimitTerms, after: RateLimitTerms | null): Loosening {
  if (after === null) return `removes ${rateName(before)}`;
  return after.limit > before.limit ? `raises ${rateName(before)} from ${before.limit} to ${after.limit}` : null;
}

/** A scope's rate limits replaced by `after` (limits not in `after` are removed). */
export function rateLimitsLoosening(before: readonly RateLimitRecord[], after: readonly RateLimitTerms[]): Loosening {
  for (const old of before) {
    const found = rateLimitLoosening(old, after.find((r) => r.unit === old.unit && r.windowSeconds === old.windowSeconds) ?? null);
    if (found !== null) return found;
  }
  return null;
}

/**
 * True when every name `inner` matches is matched by one of `outer`: some pattern of `outer`
 * matches `inner` read as a plain name (its `*` can only fall inside a `*` of that pattern).
 */
function isCoveredBy(inner: string, outer: readonly string[]): boolean {
  return findMatchingPattern(outer, [inner]) !== null;
}

/**
 * Allow and deny lists replaced by `after`: every denied name stays denied; a non-empty allow list
 * may only narrow (each new entry within an old one).
 */
export function modelAccessLoosening(before: ModelAccess, after: ModelAccess): Loosening {
  const undenied = before.deny.find((d) => !isCoveredBy(d, after.deny));
  if (undenied !== undefined) return `removes "${undenied}" from the deny list`;
  if (before.allow.length === 0) return null;
  if (after.allow.length === 0) return "empties the allow list (every model would be allowed)";
  const added = after.allow.find((a) => !isCoveredBy(a, before.allow));
  return added === undefined ? null : `adds "${added}" to the allow list`;
}

/** One guardrail rule replaced by `after`: kept as it is, a lower token limit, or more keywords. */
function ruleLoosening(before: GuardrailRule, after: GuardrailRule | undefined): Loosening {
  const name = `guardrail "${before.name}"`;
  if (after === undefined) return `removes ${name}`;
  if (after.kind !== before.kind) return `changes the kind of ${name}`;
  switch (before.kind) {
    case "BLOCK_REGEX":
      return after.pattern === before.pattern && after.flags === before.flags ? null : `changes the pattern of ${name}`;
    case "BLOCK_KEYWORDS":
      return before.keywords.every((k) => after.keywords.includes(k)) ? null : `removes keywords of ${name}`;
    case "MAX_INPUT_TOKENS":
      return after.limit <= before.limit ? null : `raises the token limit of ${name}`;
    default:
      return assertNever(before.kind);
  }
}

/** A scope's guardrail rules replaced by `after` (rules are matched by name). */
export function guardrailsLoosening(before: readonly GuardrailRule[], after: readonly GuardrailRule[]): Loosening {
  for (const old of before) {
    const found = ruleLoosening(
      old,
      after.find((r) => r.name === old.name),
    );
    if (found !== null) return found;
  }
  return null;
}

/** The per-request cost cap (micro-dollars; null = none) replaced by `after`. */
export function costCapLoosening(before: bigint | null, after: bigint | null): Loosening {
  if (before === null) return null;
  if (after === null) return "removes the per-request cost cap";
  return after > before ? "raises the per-request cost cap" : null;
}

/** The expiry (epoch ms; null = never) replaced by `after`. */
export function expiryLoosening(before: number | null, after: number | null): Loosening {
  if (before === null) return null;
  if (after === null) return "removes the expiry";
  return after > before ? "extends the expiry" : null;
}

/** Throws FORBIDDEN, naming the first loosening, when a MEMBER's change loosens any limit (no-op for admins). */
export function assertMemberTightens(actor: Actor, findings: readonly Loosening[]): void {
  if (memberUserId(actor) === null) return;
  const first = findings.find((f) => f !== null);
  if (first !== undefined && first !== null) throw forbidden(`members may only tighten limits: this change ${first} (ask an organization admin)`);
}
