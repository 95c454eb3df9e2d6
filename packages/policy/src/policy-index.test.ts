import { describe, expect, it } from "vitest";
import { buildPolicyIndex } from "./policy-index.js";
import { budget, CI_KEY, HMAC, makeSnapshot, MINI, PERSONAL_KEY } from "./test-fixtures.js";

describe("buildPolicyIndex", () => {
  it("finds keys by secret HMAC, case-insensitively, including rotated-out secrets", () => {
    const index = buildPolicyIndex(makeSnapshot());
    expect(index.version).toBe(7n);
    expect(index.keyBySecretHmac(HMAC.ci.toUpperCase())?.key.id).toBe("vk_ci");
    expect(index.keyBySecretHmac(HMAC.old)).toMatchObject({ key: { id: "vk_ci" }, secret: { validUntil: 1_000_000 } });
    expect(index.keyBySecretHmac("ffff")).toBeNull();
  });

  it("resolves models by plain and account-qualified names, lowest id on ties, per organization", () => {
    const twin = { ...MINI, id: "mdl_a_twin", upstreamModel: "twin" };
    const other = { ...MINI, id: "mdl_other", organizationId: "org_other", providerAccountId: "pa_other" };
    const index = buildPolicyIndex(
      makeSnapshot({
        models: [MINI, twin, other],
        providerAccounts: [...makeSnapshot().providerAccounts, { id: "pa_other", organizationId: "org_other", name: "openai-main", provider: "OPENAI", baseUrl: "x", apiKey: "k" }],
      }),
    );
    expect(index.resolveModel("org_acme", "gpt-4o-mini")?.id).toBe("mdl_a_twin");
    expect(index.resolveModel("org_acme", "openai-main/gpt-4o-mini")?.id).toBe("mdl_a_twin");
    expect(index.resolveModel("org_other", "gpt-4o-mini")?.id).toBe("mdl_other");
    expect(index.resolveModel("org_acme", "gpt-4o")).toBeNull();
    expect(index.modelNames(MINI)).toEqual(["gpt-4o-mini", "openai-main/gpt-4o-mini"]);
    expect(index.modelsOf("org_acme").map((m) => m.id)).toEqual(["mdl_a_twin", "mdl_mini"]);
  });

  it("builds scope chains: service key of a team, personal key across the user's teams", () => {
    const index = buildPolicyIndex(makeSnapshot());
    expect(index.scopeChainOf(CI_KEY).scopes).toEqual([
      { scope: "ORGANIZATION", scopeId: "org_acme" },
      { scope: "TEAM", scopeId: "team_search" },
      { scope: "VIRTUAL_KEY", scopeId: "vk_ci" },
    ]);
    const personal = index.scopeChainOf(PERSONAL_KEY);
    expect(personal.scopes.map((s) => s.scopeId)).toEqual(["org_acme", "team_search", "team_infra", "usr_alice", "vk_alice"]);
    expect(personal.user?.email).toBe("alice@acme.test");
  });

  it("indexes budgets and rate limits by scope", () => {
    const b = budget("bgt_1", "TEAM", "team_search", 5n);
    const index = buildPolicyIndex(makeSnapshot({ budgets: [b] }));
    expect(index.budgetsFor("TEAM", "team_search")).toEqual([b]);
    expect(index.budgetsFor("TEAM", "team_infra")).toEqual([]);
    expect(index.budget("bgt_1")).toBe(b);
    expect(index.rateLimitsFor("VIRTUAL_KEY", "vk_ci")).toEqual([]);
  });
});
