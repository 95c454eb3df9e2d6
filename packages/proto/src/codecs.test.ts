import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { compileGuardrails, evaluateGuardrails, type PolicySnapshot } from "@tollgate/policy";
import { assembleSnapshot, decodeResource, encodeResource, encodeSnapshotResources, listResources, ResourceDecodeError } from "./codecs.js";
import { ResourceSchema, BudgetSchema, VirtualKeySchema } from "./gen/tollgate/v1/policy_pb.js";

const snapshot: PolicySnapshot = {
  version: 7n,
  hmacPepper: "ab".repeat(32),
  organizations: [
    { id: "org_1", slug: "acme", name: "Acme", access: { allow: ["gpt-*"], deny: [] }, fallbackPrice: { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n, cachedInputPerMillion: null } },
  ],
  teams: [{ id: "team_1", organizationId: "org_1", slug: "search", name: "Search", access: { allow: [], deny: ["gpt-4o"] } }],
  users: [{ id: "usr_1", organizationId: "org_1", email: "a@acme.test", active: true, teamIds: ["team_1"], access: { allow: [], deny: [] } }],
  virtualKeys: [
    {
      id: "vk_1",
      organizationId: "org_1",
      name: "ci",
      kind: "SERVICE",
      teamId: "team_1",
      userId: null,
      status: "ACTIVE",
      secrets: [
        { hmac: "aa".repeat(32), validUntil: null },
        { hmac: "bb".repeat(32), validUntil: 1_700_000_000_000 },
      ],
      access: { allow: ["gpt-4o-mini"], deny: [] },
      maxCostPerRequest: 50_000_000_000n,
      expiresAt: 1_800_000_000_000,
    },
    {
      id: "vk_2",
      organizationId: "org_1",
      name: "me",
      kind: "PERSONAL",
      teamId: null,
      userId: "usr_1",
      status: "PAUSED",
      secrets: [{ hmac: "cc".repeat(32), validUntil: null }],
      access: { allow: [], deny: [] },
      maxCostPerRequest: null,
      expiresAt: null,
    },
  ],
  providerAccounts: [{ id: "pa_1", organizationId: "org_1", name: "openai-main", provider: "OPENAI", baseUrl: "https://api.openai.com/v1", apiKey: "sk-secret" }],
  models: [
    {
      id: "mdl_1",
      organizationId: "org_1",
      providerAccountId: "pa_1",
      name: "gpt-4o-mini",
      upstreamModel: "gpt-4o-mini-2024-07-18",
      price: { inputPerMillion: 150_000n, outputPerMillion: 600_000n, cachedInputPerMillion: 75_000n },
      maxOutputTokens: 16_384,
    },
    { id: "mdl_2", organizationId: "org_1", providerAccountId: "pa_1", name: "free", upstreamModel: "free", price: null, maxOutputTokens: 1000 },
    { id: "mdl_3", organizationId: "org_1", providerAccountId: "pa_1", name: "routed", upstreamModel: "routed", price: null, maxOutputTokens: 1000, weight: 0, priority: -2 },
    {
      id: "mdl_4",
      organizationId: "org_1",
      providerAccountId: "pa_1",
      name: "bounded",
      upstreamModel: "bounded",
      price: null,
      maxOutputTokens: 1000,
      imageInputTokens: 48_000,
      maxInputTokensPerAttachment: 200_000,
    },
  ],
  budgets: [
    { id: "bgt_1", organizationId: "org_1", scope: "TEAM", scopeId: "team_1", unit: "USD", window: "MONTH", limit: 5_000_000n, mode: "HARD", enforcement: "CAP_OUTPUT", scopeLabel: 'team "search"' },
  ],
  rateLimits: [{ id: "rl_1", organizationId: "org_1", scope: "VIRTUAL_KEY", scopeId: "vk_1", unit: "REQUESTS", limit: 60, windowSeconds: 60, scopeLabel: 'virtual key "ci"' }],
  guardrails: [
    {
      id: "gr_1",
      organizationId: "org_1",
      scope: "ORGANIZATION",
      scopeId: "org_1",
      scopeLabel: 'organization "acme"',
      rules: [
        { name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\d{3}-\\d{2}-\\d{4}", flags: "", keywords: [], limit: 0 },
        { name: "short", kind: "MAX_INPUT_TOKENS", pattern: "", flags: "", keywords: [], limit: 4000 },
      ],
    },
  ],
  signingKeys: [{ id: "kid_1", algorithm: "EdDSA", publicJwk: '{"kty":"OKP","crv":"Ed25519","x":"abc"}', notAfter: null }],
};

describe("snapshot codecs", () => {
  it("round-trips every kind of resource", () => {
    const wire = encodeSnapshotResources(snapshot);
    expect(wire).toHaveLength(listResources(snapshot).length);
    const back = assembleSnapshot(snapshot.version, snapshot.hmacPepper, wire.map(decodeResource));
    expect(back).toEqual(snapshot);
  });

  it("keys resources by kind and id and hashes their content", () => {
    const [a] = encodeSnapshotResources(snapshot);
    expect(a?.key).toBe("organization/org_1");
    const again = encodeResource({ kind: "organization", value: snapshot.organizations[0]! });
    expect(again.hash).toBe(a?.hash);
    const changed = encodeResource({ kind: "organization", value: { ...snapshot.organizations[0]!, name: "Acme Inc" } });
    expect(changed.hash).not.toBe(a?.hash);
  });

  it("refuses resources that cannot be applied", () => {
    expect(() => decodeResource(create(ResourceSchema, { key: "x/1" }))).toThrow(ResourceDecodeError);
    const badKey = create(ResourceSchema, { key: "virtualKey/vk_9", body: { case: "virtualKey", value: create(VirtualKeySchema, { id: "vk_9", organizationId: "org_1", kind: 1, status: 0 }) } });
    expect(() => decodeResource(badKey)).toThrow(/enum value 0/);
    const badBudget = create(ResourceSchema, {
      key: "budget/b",
      body: { case: "budget", value: create(BudgetSchema, { id: "b", organizationId: "o", scope: 1, scopeId: "o", unit: 1, window: 1, mode: 1, enforcement: 1, limit: -1n }) },
    });
    expect(() => decodeResource(badBudget)).toThrow(/negative budget limit/);
  });

  it("keeps a guardrail whose pattern the engine cannot compile, so the node fails closed on it", () => {
    const rules = [{ name: "js-only", kind: "BLOCK_REGEX" as const, pattern: "a(?=b)", flags: "", keywords: [], limit: 0 }];
    const decoded = decodeResource(encodeResource({ kind: "guardrails", value: { ...snapshot.guardrails[0]!, rules } }));
    expect(decoded).toMatchObject({ kind: "guardrails", value: { rules } });
    const compiled = compileGuardrails({ ...snapshot.guardrails[0]!, rules });
    const verdict = evaluateGuardrails([compiled], { model: "m", inputTokensUpperBound: 1, requestedMaxOutputTokens: null, operation: "chat", promptText: "anything" });
    expect(verdict).toMatchObject({ ok: false });
    expect(verdict.checks[0]?.detail).toContain("the rule is invalid (lookahead and lookbehind");
  });
});
