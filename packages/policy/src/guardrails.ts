/**
 * Guardrail rules: compiled once per snapshot (in the policy index), evaluated per request. Text
 * rules run on a linear-time engine with RE2 semantics (`text-pattern.ts`): no pattern can make a
 * request slow, and what RE2 cannot express (backreferences, lookaround) is refused.
 * - BLOCK_REGEX: blocks when the pattern (RE2 syntax, mostly that of JavaScript without
 *   backreferences and lookaround) matches the prompt text. Flags `i`, `m`, `s`; `u` is accepted
 *   and changes nothing (matching is always by Unicode code point); the stateful `g` and `y` are
 *   ignored. A rule that does not compile blocks every request (fail closed: the control plane
 *   validates rules, so this is a corrupt or older policy).
 * - BLOCK_KEYWORDS: blocks when any keyword occurs as a whole word, case-insensitively (a word
 *   boundary is any character that is not a letter, digit or `_`).
 * - MAX_INPUT_TOKENS: blocks when the prompt's token upper bound exceeds `limit`.
 * Bound: a scope's text rules check prompts of up to `maxScannedChars(their instructions)`
 * characters; a longer prompt is blocked by the scope's first text rule (fail closed).
 * A new kind adds a case to `compileGuardrailMatcher` and `blockReason`.
 */
import type { DecisionCheck, RequestShape } from "./decision.js";
import type { GuardrailRule, GuardrailsPolicy, Scope } from "./model.js";
import { compileTextPattern, compileTextSet, maxScannedChars, quotePattern, type TextMatcher, type TextSetMatcher } from "./text-pattern.js";
import { assertNever } from "./windows.js";

/** Flags a BLOCK_REGEX rule may carry. */
export const GUARDRAIL_REGEX_FLAGS = "imsu";

/** A rule ready to run: its matcher built once. */
export interface CompiledGuardrailRule {
  readonly rule: GuardrailRule;
  /** The matcher of text rules; null for MAX_INPUT_TOKENS or when the rule did not compile. */
  readonly matcher: TextMatcher | null;
  /** Why the rule did not compile; null when it did. */
  readonly error: string | null;
}

/** The compiled rules of one scope. */
export interface CompiledGuardrails {
  readonly scope: Scope;
  readonly scopeId: string;
  readonly scopeLabel: string;
  readonly rules: readonly CompiledGuardrailRule[];
  /** The longest prompt (in UTF-16 code units) the scope's text rules check. */
  readonly maxTextChars: number;
  /** The scope's text rules as one set: the indices (into `rules`) of those matching a text. */
  textMatches(text: string): ReadonlySet<number>;
}

/** The outcome of evaluating guardrails: the checks run and, when blocked, the refusal message. */
export type GuardrailEvaluation =
  | { readonly ok: true; readonly checks: readonly DecisionCheck[] }
  | { readonly ok: false; readonly scope: Scope; readonly message: string; readonly checks: readonly DecisionCheck[] };

/** Not a letter, digit or `_`: what stands around a whole word. */
const WORD_EDGE = "[^\\p{L}\\p{N}_]";

type MatcherBuild = { readonly matcher: TextMatcher | null; readonly error: string | null };

function fromPattern(source: string, options: Parameters<typeof compileTextPattern>[1]): MatcherBuild {
  const compiled = compileTextPattern(source, options);
  return compiled.ok ? { matcher: compiled.matcher, error: null } : { matcher: null, error: compiled.error };
}

/** Builds the matcher of a text rule, or explains why it cannot be built. Pure; never throws. */
export function compileGuardrailMatcher(rule: GuardrailRule): MatcherBuild {
  switch (rule.kind) {
    case "BLOCK_REGEX": {
      const bad = [...rule.flags].find((f) => !GUARDRAIL_REGEX_FLAGS.includes(f) && f !== "g" && f !== "y");
      if (bad !== undefined) return { matcher: null, error: `flag "${bad}" is not allowed (use ${GUARDRAIL_REGEX_FLAGS})` };
      if (rule.pattern.length === 0) return { matcher: null, error: "pattern is empty" };
      return fromPattern(rule.pattern, { caseInsensitive: rule.flags.includes("i"), multiline: rule.flags.includes("m"), dotAll: rule.flags.includes("s") });
    }
    case "BLOCK_KEYWORDS": {
      const words = rule.keywords.map((k) => k.trim()).filter((k) => k.length > 0);
      if (words.length === 0) return { matcher: null, error: "keywords is empty" };
      const alternatives = words.map(quotePattern).join("|");
      const built = fromPattern(`(?:^|${WORD_EDGE})(?:${alternatives})(?:$|${WORD_EDGE})`, { caseInsensitive: true });
      return built.error === null ? built : { matcher: null, error: built.error.replace("the pattern is too large", "the keywords are too many or too long") };
    }
    case "MAX_INPUT_TOKENS":
      return Number.isInteger(rule.limit) && rule.limit > 0 ? { matcher: null, error: null } : { matcher: null, error: "limit must be a positive integer" };
    default:
      return assertNever(rule.kind);
  }
}

/** Compiles every rule of one scope's guardrails. */
export function compileGuardrails(policy: GuardrailsPolicy): CompiledGuardrails {
  const rules = policy.rules.map((rule) => ({ rule, ...compileGuardrailMatcher(rule) }));
  const text = rules.flatMap((r, index) => (r.matcher === null ? [] : [{ index, matcher: r.matcher }]));
  const instructions = text.reduce((sum, r) => sum + r.matcher.instructions, 0);
  const set: TextSetMatcher | null = text.length === 0 ? null : compileTextSet(text.map((r) => r.matcher.source));
  const textMatches = (prompt: string): ReadonlySet<number> => new Set([...(set?.matching(prompt) ?? [])].map((i) => text[i]?.index ?? -1));
  return { scope: policy.scope, scopeId: policy.scopeId, scopeLabel: policy.scopeLabel, rules, maxTextChars: maxScannedChars(instructions), textMatches };
}

/** `blocked by guardrail "no-ssn" of organization "acme"`. */
export function guardrailMessage(ruleName: string, scopeLabel: string): string {
  return `blocked by guardrail "${ruleName}" of ${scopeLabel}`;
}

/** Why one rule blocks the request, or null when it lets it pass. */
function blockReason(compiled: CompiledGuardrailRule, request: RequestShape, maxTextChars: number, isMatched: () => boolean): string | null {
  const { rule } = compiled;
  if (compiled.error !== null) return `the rule is invalid (${compiled.error})`;
  switch (rule.kind) {
    case "BLOCK_REGEX":
    case "BLOCK_KEYWORDS": {
      const length = request.promptText?.length ?? 0;
      if (length > maxTextChars) return `the prompt has ${length} characters, more than the ${maxTextChars} these text guardrails check`;
      if (!isMatched()) return null;
      return rule.kind === "BLOCK_REGEX" ? "the prompt matches its pattern" : "the prompt contains a blocked keyword";
    }
    case "MAX_INPUT_TOKENS": {
      const tokens = Math.max(0, Math.ceil(request.inputTokensUpperBound));
      return tokens > rule.limit ? `the prompt may have up to ${tokens} tokens, over the limit of ${rule.limit}` : null;
    }
    default:
      return assertNever(rule.kind);
  }
}

/** Runs every rule of `sets` in order (each rule one check); stops at the first that blocks. `explain` = false records only the blocking check. */
export function evaluateGuardrails(sets: readonly CompiledGuardrails[], request: RequestShape, explain = true): GuardrailEvaluation {
  const checks: DecisionCheck[] = [];
  for (const set of sets) {
    let matched: ReadonlySet<number> | null = null;
    for (const [index, compiled] of set.rules.entries()) {
      const isMatched = (): boolean => (matched ??= set.textMatches(request.promptText ?? "")).has(index);
      const reason = blockReason(compiled, request, set.maxTextChars, isMatched);
      const label = (): string => `guardrail "${compiled.rule.name}" of ${set.scopeLabel}`;
      if (reason !== null) {
        checks.push({ name: "guardrail", level: set.scope, passed: false, detail: `${label()}: ${reason}` });
        return { ok: false, scope: set.scope, message: guardrailMessage(compiled.rule.name, set.scopeLabel), checks };
      }
      if (explain) checks.push({ name: "guardrail", level: set.scope, passed: true, detail: `${label()} (${compiled.rule.kind}) passed` });
    }
  }
  return { ok: true, checks };
}
