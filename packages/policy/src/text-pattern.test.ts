import { describe, expect, it } from "vitest";
import type { RequestShape } from "./decision.js";
import { compileGuardrails, evaluateGuardrails } from "./guardrails.js";
import type { GuardrailRule } from "./model.js";
import { compileTextPattern, MAX_PATTERN_INSTRUCTIONS, maxScannedChars, TEXT_SCAN_BUDGET } from "./text-pattern.js";

const regex = (name: string, pattern: string, flags = ""): GuardrailRule => ({ name, kind: "BLOCK_REGEX", pattern, flags, keywords: [], limit: 0 });
const shape = (promptText: string): RequestShape => ({ model: "m", inputTokensUpperBound: 10, requestedMaxOutputTokens: null, operation: "chat", promptText });
const timed = <T>(f: () => T): { value: T; ms: number } => {
  const start = performance.now();
  const value = f();
  return { value, ms: performance.now() - start };
};

describe("linear-time patterns", () => {
  // With a backtracking engine each of these takes seconds to hours on these inputs (the first one
  // took 98 s through the gateway before the switch); RE2 answers each in milliseconds.
  it.each<[string, string]>([
    ["(a+)+$", `${"a".repeat(40)}b`],
    ["(a|aa)+$", `${"a".repeat(5000)}b`],
    ["^(\\w+\\s?)*$", `${"word ".repeat(4000)}!`],
    ["(x+x+)+y", "x".repeat(20_000)],
    ["(.*a){20}", "a".repeat(19) + "b".repeat(20_000)],
  ])("%s on a hostile input answers in milliseconds", (pattern, text) => {
    const compiled = compileTextPattern(pattern);
    if (!compiled.ok) throw new Error(compiled.error);
    const { value, ms } = timed(() => compiled.matcher.test(text));
    expect(value).toBe(false);
    expect(ms).toBeLessThan(200);
  });

  it("matches what the pattern says, with the flags given", () => {
    const caseless = compileTextPattern("^stop", { caseInsensitive: true, multiline: true });
    expect(caseless.ok && caseless.matcher.test("go\nSTOP")).toBe(true);
    const strict = compileTextPattern("^stop");
    expect(strict.ok && strict.matcher.test("go\nstop")).toBe(false);
    const dot = compileTextPattern("a.b", { dotAll: true });
    expect(dot.ok && dot.matcher.test("a\nb")).toBe(true);
  });

  it("bounds the size of a pattern and the text a scope checks", () => {
    const biggest = compileTextPattern("x{998}");
    expect(biggest.ok && biggest.matcher.instructions).toBeLessThanOrEqual(MAX_PATTERN_INSTRUCTIONS);
    expect(compileTextPattern("x{999}y{10}")).toMatchObject({ ok: false });
    expect(maxScannedChars(0)).toBe(TEXT_SCAN_BUDGET);
    expect(maxScannedChars(1000)).toBe(Math.floor(TEXT_SCAN_BUDGET / 1000));
  });

  it("a prompt longer than the scope's bound is blocked (fail closed), a shorter one checked in full", () => {
    const org = compileGuardrails({ id: "grd", organizationId: "org", scope: "ORGANIZATION", scopeId: "org", scopeLabel: 'organization "acme"', rules: [regex("no-ssn", "\\d{3}-\\d{2}-\\d{4}")] });
    expect(org.maxTextChars).toBe(maxScannedChars(org.rules[0]?.matcher?.instructions ?? 0));
    const tail = "123-45-6789";
    const fits = `${"x".repeat(org.maxTextChars - tail.length)}${tail}`;
    const blocked = evaluateGuardrails([org], shape(fits));
    expect(blocked).toMatchObject({ ok: false });
    expect(blocked.checks.at(-1)?.detail).toContain("matches its pattern");
    expect(evaluateGuardrails([org], shape("x".repeat(org.maxTextChars))).ok).toBe(true);
    const tooLong = evaluateGuardrails([org], shape("x".repeat(org.maxTextChars + 1)));
    expect(tooLong).toMatchObject({ ok: false, message: 'blocked by guardrail "no-ssn" of organization "acme"' });
    expect(tooLong.checks.at(-1)?.detail).toContain(`more than the ${org.maxTextChars} these text guardrails check`);
  });

  it("the costliest patterns allowed, on the longest text their scope checks, stay bounded", () => {
    const rules = Array.from({ length: 10 }, (_, i) => regex(`wide-${i}`, `(?s)(?:.{1,20}a){${5 + i}}b{40}`));
    const org = compileGuardrails({ id: "grd", organizationId: "org", scope: "ORGANIZATION", scopeId: "org", scopeLabel: 'organization "acme"', rules });
    expect(org.rules.every((r) => r.error === null)).toBe(true);
    let text = "";
    let seed = 7;
    while (text.length < org.maxTextChars) {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      text += (seed >> 16) & 1 ? "a" : "b";
    }
    const { value, ms } = timed(() => evaluateGuardrails([org], shape(text.slice(0, org.maxTextChars))));
    expect(value.ok).toBe(true);
    expect(ms).toBeLessThan(1500);
  });
});
