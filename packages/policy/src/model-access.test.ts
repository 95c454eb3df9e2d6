import { describe, expect, it } from "vitest";
import { isModelAllowed, matchesModelPattern } from "./model-access.js";

describe("matchesModelPattern", () => {
  it.each<[string, string, boolean]>([
    ["gpt-4o", "gpt-4o", true],
    ["gpt-4o", "gpt-4o-mini", false],
    ["gpt-4o*", "gpt-4o-mini", true],
    ["gpt-4o*", "gpt-4o", true],
    ["*", "anything/at-all", true],
    ["*", "", true],
    ["openai-main/*", "openai-main/gpt-4o", true],
    ["openai-main/*", "anthropic/claude", false],
    ["*/gpt-4o", "openai-main/gpt-4o", true],
    ["*mini", "gpt-4o-mini", true],
    ["*mini", "gpt-4o-mini-2", false],
    ["g*o*i", "gpt-4o-mini", true],
    ["g*x*i", "gpt-4o-mini", false],
    ["GPT-4o", "gpt-4o", false],
    ["a**b", "ab", true],
    ["a*b*c", "aXbYbZc", true],
    ["claude-3.5", "claude-3x5", false],
    ["", "", true],
    ["", "x", false],
  ])("%j vs %j -> %s", (pattern, name, expected) => {
    expect(matchesModelPattern(pattern, name)).toBe(expected);
  });
});

describe("isModelAllowed", () => {
  const names = ["gpt-4o", "openai-main/gpt-4o"];
  it.each<[string[], string[], boolean]>([
    [[], [], true],
    [["gpt-4o"], [], true],
    [["openai-main/*"], [], true],
    [["claude-*"], [], false],
    [[], ["gpt-4o"], false],
    [[], ["openai-main/*"], false],
    [["*"], ["*/gpt-4o"], false],
    [["gpt-*"], ["gpt-3*"], true],
  ])("allow %j deny %j -> %s", (allow, deny, expected) => {
    expect(isModelAllowed({ allow, deny }, names)).toBe(expected);
  });
});

describe("model patterns are admin input: matching is O(pattern x name), never exponential", () => {
  it("a hostile 200-character pattern against a 20,000-character name answers in milliseconds", () => {
    const pattern = `${"*a".repeat(99)}*b`;
    const name = "a".repeat(20_000);
    const started = performance.now();
    expect(matchesModelPattern(pattern, name)).toBe(false);
    expect(matchesModelPattern(pattern, `${name}b`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
