import { describe, expect, it } from "vitest";
import type { Actor } from "./actor.js";
import { assertMemberTightens, budgetLoosening, costCapLoosening, expiryLoosening, guardrailsLoosening, modelAccessLoosening, rateLimitLoosening, type BudgetTerms } from "./member-limits.js";

const budget: BudgetTerms = { unit: "USD", window: "DAY", limit: 5_000_000n, mode: "HARD", enforcement: "CAP_OUTPUT", alertThresholds: [50, 80] };
const member: Actor = { kind: "user", userId: "usr_m", organizationId: "org_a", role: "MEMBER" };
const admin: Actor = { kind: "user", userId: "usr_a", organizationId: "org_a", role: "ADMIN" };

describe("member limits: only tighten", () => {
  it.each<[string, BudgetTerms | null, string | null]>([
    ["the same budget", budget, null],
    ["a lower limit", { ...budget, limit: 1n }, null],
    ["STRICT", { ...budget, enforcement: "STRICT" }, null],
    ["one more threshold", { ...budget, alertThresholds: [50, 80, 100] }, null],
    ["removed", null, "removes the USD DAY budget"],
    ["a higher limit", { ...budget, limit: 5_000_001n }, "raises the USD DAY budget"],
    ["SOFT", { ...budget, mode: "SOFT" }, "makes the USD DAY budget soft"],
    ["ESTIMATE", { ...budget, enforcement: "ESTIMATE" }, "loosens the enforcement"],
    ["a threshold dropped", { ...budget, alertThresholds: [80] }, "removes alert thresholds"],
  ])("budget: %s", (_, after, loosening) => {
    const found = budgetLoosening(budget, after);
    if (loosening === null) expect(found).toBeNull();
    else expect(found).toContain(loosening);
  });

  it("model access: deny entries stay covered, a non-empty allow list only narrows", () => {
    const before = { allow: ["chat-*"], deny: ["chat-large"] };
    expect(modelAccessLoosening(before, { allow: ["chat-small", "chat-*x"], deny: ["chat-large"] })).toBeNull();
    expect(modelAccessLoosening(before, { allow: ["chat-*"], deny: ["chat-*"] })).toBeNull();
    expect(modelAccessLoosening(before, { allow: ["*"], deny: ["chat-large"] })).toBe('adds "*" to the allow list');
    expect(modelAccessLoosening(before, { allow: ["chat*"], deny: ["chat-large"] })).toBe('adds "chat*" to the allow list');
    expect(modelAccessLoosening(before, { allow: [], deny: ["chat-large"] })).toContain("empties the allow list");
    expect(modelAccessLoosening(before, { allow: ["chat-*"], deny: ["chat-larger"] })).toBe('removes "chat-large" from the deny list');
    expect(modelAccessLoosening({ allow: [], deny: [] }, { allow: ["anything"], deny: [] })).toBeNull();
  });

  it("guardrails, rate limits, the cost cap and expiry", () => {
    const rules = [
      { name: "kw", kind: "BLOCK_KEYWORDS" as const, pattern: "", flags: "", keywords: ["a"], limit: 0 },
      { name: "rx", kind: "BLOCK_REGEX" as const, pattern: "x", flags: "", keywords: [], limit: 0 },
    ];
    expect(guardrailsLoosening(rules, [...rules, { name: "t", kind: "MAX_INPUT_TOKENS", pattern: "", flags: "", keywords: [], limit: 5 }])).toBeNull();
    expect(guardrailsLoosening(rules, [rules[0]!])).toBe('removes guardrail "rx"');
    expect(guardrailsLoosening(rules, [rules[0]!, { ...rules[1]!, flags: "i" }])).toBe('changes the pattern of guardrail "rx"');
    expect(guardrailsLoosening(rules, [{ ...rules[0]!, keywords: ["a", "b"] }, rules[1]!])).toBeNull();
    expect(rateLimitLoosening({ unit: "REQUESTS", limit: 10, windowSeconds: 60 }, { unit: "REQUESTS", limit: 11, windowSeconds: 60 })).toContain("raises");
    expect(rateLimitLoosening({ unit: "REQUESTS", limit: 10, windowSeconds: 60 }, null)).toContain("removes");
    expect(costCapLoosening(null, null)).toBeNull();
    expect(costCapLoosening(5n, 4n)).toBeNull();
    expect(costCapLoosening(5n, null)).toContain("removes");
    expect(expiryLoosening(1000, 999)).toBeNull();
    expect(expiryLoosening(1000, 1001)).toBe("extends the expiry");
    expect(expiryLoosening(1000, null)).toBe("removes the expiry");
  });

  it("refuses members with FORBIDDEN naming the loosening; admins are not restricted", () => {
    expect(() => assertMemberTightens(member, [null, "removes the expiry"])).toThrow(/members may only tighten limits: this change removes the expiry/);
    expect(() => assertMemberTightens(member, [null, null])).not.toThrow();
    expect(() => assertMemberTightens(admin, ["removes the expiry"])).not.toThrow();
    expect(() => assertMemberTightens({ kind: "platformAdmin" }, ["removes the expiry"])).not.toThrow();
  });
});
