import { describe, expect, it } from "vitest";
import { reachedThresholds } from "./budget-alert.service.js";
import { requireThresholds } from "./budget.service.js";
import { requireGuardrailRules } from "./limits.service.js";
import { webhookRetryDelay } from "./webhook-dispatcher.js";

describe("budget alert thresholds", () => {
  it.each<[string, number[], bigint, bigint, number[]]>([
    ["nothing used", [50, 80, 100], 0n, 1_000n, []],
    ["just under half", [50, 80, 100], 499n, 1_000n, []],
    ["exactly half", [50, 80, 100], 500n, 1_000n, [50]],
    ["past 80%", [50, 80, 100], 850n, 1_000n, [50, 80]],
    ["over the limit", [50, 80, 100, 150], 1_200n, 1_000n, [50, 80, 100]],
    ["a zero limit is reached at once", [50], 0n, 0n, [50]],
    ["huge amounts stay exact", [99], 989_999_999_999_999_999n, 1_000_000_000_000_000_000n, []],
  ])("%s", (_, percents, used, limit, reached) => {
    expect(reachedThresholds(percents, used, limit)).toEqual(reached);
  });

  it.each<[number[], number[] | string]>([
    [
      [0.5, 0.8, 1.0],
      [50, 80, 100],
    ],
    [
      [1, 0.5, 0.5],
      [50, 100],
    ],
    [
      [0.01, 10],
      [1, 1000],
    ],
    [[0.333], "hundredths"],
    [[0], "hundredths"],
    [[10.5], "hundredths"],
    [[Number.NaN], "hundredths"],
  ])("alertThresholds %j -> %j", (input, expected) => {
    if (typeof expected === "string") expect(() => requireThresholds(input)).toThrow(expected);
    else expect(requireThresholds(input)).toEqual(expected);
  });
});

describe("webhook retries", () => {
  it.each<[number, number]>([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [10, 2_560_000],
    [11, 3_600_000],
    [100, 3_600_000],
  ])("after %i failed attempts waits %i ms", (attempts, delay) => {
    expect(webhookRetryDelay(attempts, 5_000, 3_600_000)).toBe(delay);
  });
});

describe("guardrail rule validation", () => {
  it.each<[string, Parameters<typeof requireGuardrailRules>[0], string | null]>([
    [
      "a valid set",
      [
        { name: "a", kind: "BLOCK_REGEX", pattern: "x+" },
        { name: "b", kind: "MAX_INPUT_TOKENS", limit: 10 },
      ],
      null,
    ],
    ["a bad regex", [{ name: "a", kind: "BLOCK_REGEX", pattern: "[" }], 'rule "a"'],
    ["a bad flag", [{ name: "a", kind: "BLOCK_REGEX", pattern: "x", flags: "x" }], 'flag "x"'],
    [
      "duplicate names",
      [
        { name: "a", kind: "MAX_INPUT_TOKENS", limit: 1 },
        { name: "a", kind: "MAX_INPUT_TOKENS", limit: 2 },
      ],
      "two rules named",
    ],
    ["no keywords", [{ name: "k", kind: "BLOCK_KEYWORDS", keywords: [] }], "keywords is empty"],
    ["no limit", [{ name: "m", kind: "MAX_INPUT_TOKENS" }], "limit"],
    ["an empty name", [{ name: " ", kind: "MAX_INPUT_TOKENS", limit: 1 }], "name"],
  ])("%s", (_, rules, error) => {
    if (error === null) expect(requireGuardrailRules(rules).map((r) => r.name)).toEqual(["a", "b"]);
    else expect(() => requireGuardrailRules(rules)).toThrow(error);
  });

  it("keeps only the fields of each kind", () => {
    expect(requireGuardrailRules([{ name: "k", kind: "BLOCK_KEYWORDS", pattern: "ignored", keywords: [" ssn ", "ssn", "pin"], limit: 9 }])).toEqual([
      { name: "k", kind: "BLOCK_KEYWORDS", pattern: "", flags: "", keywords: ["ssn", "pin"], limit: 0 },
    ]);
  });
});
