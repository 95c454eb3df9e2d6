import { describe, expect, it } from "vitest";
import type { RequestShape } from "./decision.js";
import { compileGuardrailMatcher, compileGuardrails, evaluateGuardrails } from "./guardrails.js";
import type { GuardrailRule, GuardrailsPolicy } from "./model.js";

const rule = (patch: Partial<GuardrailRule>): GuardrailRule => ({ name: "r", kind: "BLOCK_REGEX", pattern: "", flags: "", keywords: [], limit: 0, ...patch });
const shape = (promptText: string | undefined, inputTokensUpperBound = 10): RequestShape => ({
  model: "m",
  inputTokensUpperBound,
  requestedMaxOutputTokens: null,
  operation: "chat",
  ...(promptText === undefined ? {} : { promptText }),
});
const set = (scope: "ORGANIZATION" | "VIRTUAL_KEY", rules: GuardrailRule[], scopeLabel = 'organization "acme"'): GuardrailsPolicy => ({
  id: `grd_${scope}`,
  organizationId: "org_acme",
  scope,
  scopeId: scope === "ORGANIZATION" ? "org_acme" : "vk_ci",
  rules,
  scopeLabel,
});

describe("compileGuardrailMatcher", () => {
  it.each<[string, GuardrailRule, string | null]>([
    ["a valid regex", rule({ pattern: "\\d{3}-\\d{2}-\\d{4}" }), null],
    ["an invalid regex", rule({ pattern: "(unclosed" }), "not a valid pattern (RE2 syntax): missing closing )"],
    ["a backreference", rule({ pattern: "(a)\\1" }), "backreferences (\\1, \\k<name>) are not supported"],
    ["a named backreference", rule({ pattern: "(?<x>a)\\k<x>" }), "backreferences"],
    ["a lookahead", rule({ pattern: "foo(?=bar)" }), "lookahead and lookbehind"],
    ["a negative lookahead", rule({ pattern: "foo(?!bar)" }), "lookahead and lookbehind"],
    ["a lookbehind", rule({ pattern: "(?<=a)b" }), "lookahead and lookbehind"],
    ["a negative lookbehind", rule({ pattern: "(?<!a)b" }), "lookahead and lookbehind"],
    ["a pattern too large", rule({ pattern: "(?:[a-z]{1,30}\\d){30}" }), "the pattern is too large: it compiles to"],
    ["a repeat count over 1000", rule({ pattern: "a{1001}" }), "invalid repeat count"],
    ["keywords too many for one rule", rule({ kind: "BLOCK_KEYWORDS", keywords: Array.from({ length: 200 }, (_, i) => `${i}-`.padEnd(10, "k")) }), "the keywords are too many or too long"],
    ["named groups and unicode classes are fine", rule({ pattern: "(?<w>\\p{L}+)\\s\\d", flags: "u" }), null],
    ["an empty regex", rule({ pattern: "" }), "pattern is empty"],
    ["a forbidden flag", rule({ pattern: "x", flags: "ix" }), 'flag "x" is not allowed'],
    ["stateful flags are accepted and dropped", rule({ pattern: "x", flags: "gy" }), null],
    ["keywords", rule({ kind: "BLOCK_KEYWORDS", keywords: ["secret", "c++"] }), null],
    ["no keywords", rule({ kind: "BLOCK_KEYWORDS", keywords: [" ", ""] }), "keywords is empty"],
    ["a token limit", rule({ kind: "MAX_INPUT_TOKENS", limit: 5 }), null],
    ["a zero token limit", rule({ kind: "MAX_INPUT_TOKENS", limit: 0 }), "limit must be a positive integer"],
  ])("%s", (_, r, error) => {
    const compiled = compileGuardrailMatcher(r);
    if (error === null) expect(compiled.error).toBeNull();
    else expect(compiled.error).toContain(error);
    expect(compiled.matcher === null).toBe(error !== null || r.kind === "MAX_INPUT_TOKENS");
  });
});

describe("evaluateGuardrails", () => {
  const ssn = rule({ name: "no-ssn", pattern: "\\b\\d{3}-\\d{2}-\\d{4}\\b" });
  const words = rule({ name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["password", "c++", "Ünïcode"] });
  const big = rule({ name: "short-prompts", kind: "MAX_INPUT_TOKENS", limit: 100 });
  const caseless = rule({ name: "shout", pattern: "^STOP", flags: "im" });
  const org = compileGuardrails(set("ORGANIZATION", [ssn, words, big, caseless]));

  it.each<[string, RequestShape, string | null]>([
    ["clean text passes every rule", shape("hello world"), null],
    ["a regex match blocks", shape("my ssn is 123-45-6789 ok"), "no-ssn"],
    ["a near miss passes", shape("call 123-456-7890"), null],
    ["a keyword in any case blocks", shape("my PassWord is hunter2"), "no-secrets"],
    ["a keyword inside a word passes", shape("passwords"), null],
    ["a keyword with symbols blocks", shape("I write C++ daily"), "no-secrets"],
    ["a unicode keyword blocks whole-word", shape("say ünïcode!"), "no-secrets"],
    ["a unicode keyword inside a word passes", shape("xünïcode"), null],
    ["the prompt's token bound at the limit passes", shape("hi", 100), null],
    ["the prompt's token bound over the limit blocks", shape("hi", 101), "short-prompts"],
    ["flags apply (multiline, case-insensitive)", shape("first line\nstop now"), "shout"],
    ["no prompt text: text rules see an empty prompt", shape(undefined), null],
  ])("%s", (_, request, blockedBy) => {
    const r = evaluateGuardrails([org], request);
    if (blockedBy === null) {
      expect(r.ok).toBe(true);
      expect(r.checks).toHaveLength(4);
      expect(r.checks.every((c) => c.passed && c.level === "ORGANIZATION")).toBe(true);
    } else {
      expect(r).toMatchObject({ ok: false, scope: "ORGANIZATION", message: `blocked by guardrail "${blockedBy}" of organization "acme"` });
      expect(r.checks.at(-1)).toMatchObject({ name: "guardrail", passed: false, level: "ORGANIZATION" });
      expect(r.checks.at(-1)?.detail).toContain(`guardrail "${blockedBy}"`);
    }
  });

  it("runs the sets in order and stops at the first block", () => {
    const key = compileGuardrails(set("VIRTUAL_KEY", [rule({ name: "no-foo", pattern: "foo" })], 'virtual key "ci"'));
    const r = evaluateGuardrails([org, key], shape("foo and 123-45-6789"));
    expect(r).toMatchObject({ ok: false, scope: "ORGANIZATION", message: 'blocked by guardrail "no-ssn" of organization "acme"' });
    expect(r.checks).toHaveLength(1);
    const k = evaluateGuardrails([org, key], shape("foo"));
    expect(k).toMatchObject({ ok: false, scope: "VIRTUAL_KEY", message: 'blocked by guardrail "no-foo" of virtual key "ci"' });
    expect(k.checks.map((c) => c.level)).toEqual(["ORGANIZATION", "ORGANIZATION", "ORGANIZATION", "ORGANIZATION", "VIRTUAL_KEY"]);
  });

  it("fails closed on a rule that does not compile", () => {
    const broken = compileGuardrails(set("ORGANIZATION", [rule({ name: "broken", pattern: "(" })]));
    const r = evaluateGuardrails([broken], shape("anything"));
    expect(r).toMatchObject({ ok: false, message: 'blocked by guardrail "broken" of organization "acme"' });
    expect(r.checks[0]?.detail).toContain("the rule is invalid");
  });

  it("compiles once: the same matcher object serves every evaluation", () => {
    const first = org.rules[0]?.matcher;
    evaluateGuardrails([org], shape("123-45-6789"));
    evaluateGuardrails([org], shape("nothing"));
    expect(org.rules[0]?.matcher).toBe(first);
    expect(evaluateGuardrails([org], shape("123-45-6789")).ok).toBe(false);
  });
});
