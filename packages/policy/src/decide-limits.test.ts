import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Decision, Refusal, RateLimitStatus } from "./decision.js";
import type { GuardrailRule, GuardrailsPolicy, PolicySnapshot } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter, tightestRateLimits } from "./rate-limiter.js";
import { REFUSAL_STATUS } from "./refusal-status.js";
import { budget, HMAC, type InputPatch, makeInput, makeSnapshot, rateLimit, T0 } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

function refused(d: Decision): Refusal {
  if (d.allow) throw new Error("expected a refusal");
  return d;
}

const rule = (name: string, patch: Partial<GuardrailRule>): GuardrailRule => ({ name, kind: "BLOCK_REGEX", pattern: "", flags: "", keywords: [], limit: 0, ...patch });
const guard = (scope: "ORGANIZATION" | "VIRTUAL_KEY", scopeId: string, label: string, rules: GuardrailRule[]): GuardrailsPolicy => ({
  id: `grd_${scopeId}`,
  organizationId: "org_acme",
  scope,
  scopeId,
  rules,
  scopeLabel: label,
});

describe("decide: guardrails after model access, before price and budgets", () => {
  const guardrails = [
    guard("ORGANIZATION", "org_acme", 'organization "acme"', [rule("no-ssn", { pattern: "\\d{3}-\\d{2}-\\d{4}" })]),
    guard("VIRTUAL_KEY", "vk_ci", 'virtual key "ci"', [rule("no-secrets", { kind: "BLOCK_KEYWORDS", keywords: ["password"] }), rule("short", { kind: "MAX_INPUT_TOKENS", limit: 500 })]),
    guard("VIRTUAL_KEY", "vk_alice", 'virtual key "alice-laptop"', [rule("no-alice", { pattern: "alice" })]),
  ];
  const snapshot = makeSnapshot({ guardrails, budgets: [budget("bgt_team", "TEAM", "team_search", 1n)] });
  const run = (patch: InputPatch, snap: PolicySnapshot = snapshot): Decision => decide(buildPolicyIndex(snap), new BudgetLedger(), new RateLimiter(), makeInput(patch), 1);

  it.each<[string, InputPatch, string, string, string[]]>([
    [
      "an organization rule",
      { request: { promptText: "ssn 123-45-6789", inputTokensUpperBound: 10 } },
      'blocked by guardrail "no-ssn" of organization "acme"',
      "ORGANIZATION",
      ["api_key", "key_status", "model", "model_access", "guardrail"],
    ],
    [
      "a key keyword rule after the organization's rules",
      { request: { promptText: "my PASSWORD", inputTokensUpperBound: 10 } },
      'blocked by guardrail "no-secrets" of virtual key "ci"',
      "VIRTUAL_KEY",
      ["api_key", "key_status", "model", "model_access", "guardrail", "guardrail"],
    ],
    [
      "a key token limit",
      { request: { promptText: "fine", inputTokensUpperBound: 501 } },
      'blocked by guardrail "short" of virtual key "ci"',
      "VIRTUAL_KEY",
      ["api_key", "key_status", "model", "model_access", "guardrail", "guardrail", "guardrail"],
    ],
    [
      "before the price check (an unpriced model is blocked as a guardrail)",
      { request: { model: "unpriced", promptText: "123-45-6789" } },
      'blocked by guardrail "no-ssn" of organization "acme"',
      "ORGANIZATION",
      ["api_key", "key_status", "model", "model_access", "guardrail"],
    ],
  ])("%s", (_, patch, message, level, names) => {
    const r = refused(run(patch));
    expect(r).toMatchObject({ code: "guardrail_blocked", message, key: { id: "vk_ci" } });
    expect(r.checks.map((c) => c.name)).toEqual(names);
    expect(r.checks.at(-1)).toMatchObject({ passed: false, level });
    expect(REFUSAL_STATUS[r.code]).toBe(400);
  });

  it("model access refuses before guardrails run", () => {
    const denied = makeSnapshot({ guardrails, virtualKeys: snapshot.virtualKeys.map((k) => (k.id === "vk_ci" ? { ...k, access: { allow: [], deny: ["*"] } } : k)) });
    const r = refused(run({ request: { promptText: "123-45-6789" } }, denied));
    expect(r.code).toBe("model_not_allowed");
    expect(r.checks.some((c) => c.name === "guardrail")).toBe(false);
  });

  it("clean prompts pass every rule, then meet the budgets (team budget refusal names the team)", () => {
    const r = refused(run({ request: { promptText: "hello", inputTokensUpperBound: 10 }, allowPartial: true }));
    expect(r.code).toBe("budget_exceeded");
    expect(r.message).toBe('monthly USD budget of team "search" is exhausted');
    expect(r.checks.filter((c) => c.name === "guardrail").map((c) => c.passed)).toEqual([true, true, true]);
  });

  it("another key's guardrails do not apply", () => {
    expect(run({ keyHmac: HMAC.ci, request: { promptText: "alice", inputTokensUpperBound: 10 } }, makeSnapshot({ guardrails })).allow).toBe(true);
    expect(refused(run({ keyHmac: HMAC.personal, request: { promptText: "alice" } }, makeSnapshot({ guardrails }))).message).toBe('blocked by guardrail "no-alice" of virtual key "alice-laptop"');
  });
});

describe("decide: budgets at every level, all or none", () => {
  const MONTH = windowStartOf("MONTH", T0);
  const M = 1_000_000n; // pico-dollars per micro-dollar
  it.each<[string, Record<string, bigint>, string | null]>([
    ["every level has room", { bgt_org: 10_000n * M, bgt_team: 10_000n * M, bgt_user: 10_000n, bgt_key: 10_000n }, null],
    ["the team is spent", { bgt_org: 10_000n * M, bgt_team: 100n * M, bgt_user: 10_000n, bgt_key: 10_000n }, 'monthly USD budget of team "search" is exhausted'],
    ["the organization is spent", { bgt_org: 0n, bgt_team: 10_000n * M, bgt_user: 10_000n, bgt_key: 10_000n }, 'monthly USD budget of organization "acme" is exhausted'],
    ["the user is spent", { bgt_org: 10_000n * M, bgt_team: 10_000n * M, bgt_user: 10n, bgt_key: 10_000n }, 'daily request budget of user "alice@acme.test" is exhausted'],
  ])("%s", (_, grants, message) => {
    const budgets = [
      budget("bgt_org", "ORGANIZATION", "org_acme", 100_000n * M),
      budget("bgt_team", "TEAM", "team_search", 100_000n * M),
      budget("bgt_user", "USER", "usr_alice", 1_000n, { unit: "REQUESTS", window: "DAY" }),
      budget("bgt_key", "VIRTUAL_KEY", "vk_alice", 100_000n, { unit: "TOKENS", window: "TOTAL" }),
    ];
    const index = buildPolicyIndex(makeSnapshot({ budgets }));
    const ledger = new BudgetLedger();
    for (const b of budgets) {
      const g = grants[b.id] ?? 0n;
      ledger.applyGrant(b.id, windowStartOf(b.window, T0), b.id === "bgt_user" ? (g >= 10_000n ? 10n : 0n) : g, T0 + 300_000, true);
    }
    const d = decide(index, ledger, new RateLimiter(), makeInput({ keyHmac: HMAC.personal, allowPartial: true, request: { requestedMaxOutputTokens: 100 } }), 1);
    if (message === null) {
      if (!d.allow) throw new Error(d.message);
      expect(d.reservation.holds.map((h) => h.budgetId)).toEqual(["bgt_org", "bgt_team", "bgt_user", "bgt_key"]);
      return;
    }
    const r = refused(d);
    expect(r.message).toBe(message);
    for (const e of ledger.entries()) expect(e.reserved).toBe(0n);
    expect(ledger.available("bgt_org", MONTH, T0)).toBe(grants.bgt_org);
  });
});

describe("decide: rate limits at key, user, team and organization scope", () => {
  const limits = [
    rateLimit("rl_org", "ORGANIZATION", "org_acme", "REQUESTS", 100, 60),
    rateLimit("rl_team", "TEAM", "team_infra", "TOKENS", 100_000, 60),
    rateLimit("rl_user", "USER", "usr_alice", "REQUESTS", 3, 60),
    rateLimit("rl_key", "VIRTUAL_KEY", "vk_alice", "TOKENS", 5_000, 3_600),
  ];
  const index = buildPolicyIndex(makeSnapshot({ rateLimits: limits }));

  it("counts every level, reports the tightest per unit, and refuses at the level that is hit", () => {
    const limiter = new RateLimiter();
    const run = (now: number): Decision => decide(index, new BudgetLedger(), limiter, makeInput({ keyHmac: HMAC.personal, now, request: { requestedMaxOutputTokens: 200 } }), 1);
    const first = run(T0);
    if (!first.allow) throw new Error(first.message);
    expect(tightestRateLimits(first.rateLimits ?? [])).toEqual([
      { rateLimitId: "rl_user", unit: "REQUESTS", limit: 3, remaining: 2, resetMs: 60_000 },
      { rateLimitId: "rl_key", unit: "TOKENS", limit: 5_000, remaining: 3_800, resetMs: 3_600_000 },
    ]);
    expect(run(T0 + 1_000).allow).toBe(true);
    expect(run(T0 + 2_000).allow).toBe(true);
    const r = refused(run(T0 + 3_000));
    expect(r).toMatchObject({ code: "rate_limit_exceeded", message: 'request rate limit of user "alice@acme.test" exceeded (3 per 60s)', retryAfterMs: 57_000 });
    expect(r.checks.at(-1)).toMatchObject({ name: "rate_limit", level: "USER", passed: false });
    expect(tightestRateLimits(r.rateLimits ?? [], r.rateLimit).map((s) => [s.rateLimitId, s.remaining])).toEqual([
      ["rl_user", 0],
      ["rl_key", 1_400],
    ]);
    // The next minute window opens the user's limit again; the key's hourly token window is still counting.
    const next = run(T0 + 60_000);
    expect(next.allow).toBe(true);
    const tokens = refused(run(T0 + 61_000));
    expect(tokens.message).toBe('token rate limit of virtual key "alice-laptop" exceeded (5000 per 3600s)');
    expect(tokens.retryAfterMs).toBe(3_600_000 - 61_000);
  });

  it("held allocation: a node without units returns shortfalls to borrow (all short limits at once), then admits on what it was granted", () => {
    const limiter = new RateLimiter();
    const input = makeInput({ keyHmac: HMAC.personal, request: { requestedMaxOutputTokens: 200 }, rateAllocation: "held" });
    const first = refused(decide(index, new BudgetLedger(), limiter, input, 2));
    expect(first.code).toBe("rate_limit_exceeded");
    expect(first.rateShortfalls?.map((s) => [s.rateLimitId, s.needed, s.want])).toEqual([
      ["rl_org", 1, 25],
      ["rl_team", 1_200, 25_000],
      ["rl_user", 1, 1],
      ["rl_key", 1_200, 1_250],
    ]);
    expect(first.rateLimit).toMatchObject({ rateLimitId: "rl_org", limit: 100, remaining: 100 });
    for (const s of first.rateShortfalls ?? []) {
      const policy = limits.find((l) => l.id === s.rateLimitId);
      if (policy) limiter.applyAllocation(policy, s.windowStart, s.needed, s.needed, T0);
    }
    const admitted = decide(index, new BudgetLedger(), limiter, input, 2);
    if (!admitted.allow) throw new Error(admitted.message);
    expect(tightestRateLimits(admitted.rateLimits ?? [])).toEqual([
      { rateLimitId: "rl_user", unit: "REQUESTS", limit: 3, remaining: 2, resetMs: 60_000 },
      { rateLimitId: "rl_key", unit: "TOKENS", limit: 5_000, remaining: 3_800, resetMs: 3_600_000 },
    ]);
    // The Simulator borrows nothing: it estimates from what the node knows (2 user requests left cluster-wide).
    const dry = decide(index, new BudgetLedger(), limiter, { ...input, dryRun: true }, 2);
    expect(dry.allow).toBe(true);
    // Without the control plane, the last share applies: ceil(3 / 2) = 2 user requests, 1 used.
    expect(decide(index, new BudgetLedger(), limiter, { ...input, dryRun: true, rateAllocation: "fallback" }, 2).allow).toBe(true);
    decide(index, new BudgetLedger(), limiter, { ...input, rateAllocation: "fallback" }, 2);
    const out = refused(decide(index, new BudgetLedger(), limiter, { ...input, dryRun: true, rateAllocation: "fallback" }, 2));
    expect(out).toMatchObject({ code: "rate_limit_exceeded", rateLimit: { rateLimitId: "rl_user", limit: 3 } });
    expect(out.rateShortfalls).toEqual([]);
  });

  it("a budget refusal after the rate limits still reports their state", () => {
    const snap = makeSnapshot({ rateLimits: limits, budgets: [budget("bgt_u", "USER", "usr_alice", 1n)] });
    const r = refused(decide(buildPolicyIndex(snap), new BudgetLedger(), new RateLimiter(), makeInput({ keyHmac: HMAC.personal, allowPartial: true }), 1));
    expect(r.code).toBe("budget_exceeded");
    expect((r.rateLimits ?? []).map((s) => s.rateLimitId).sort()).toEqual(["rl_key", "rl_org", "rl_team", "rl_user"]);
  });
});

describe("tightestRateLimits", () => {
  const s = (id: string, unit: "REQUESTS" | "TOKENS", limit: number, remaining: number, resetMs: number): RateLimitStatus => ({ rateLimitId: id, unit, limit, remaining, resetMs });
  it.each<[string, RateLimitStatus[], RateLimitStatus | undefined, string[]]>([
    ["nothing", [], undefined, []],
    ["fewest remaining wins", [s("a", "REQUESTS", 10, 5, 1), s("b", "REQUESTS", 100, 3, 1)], undefined, ["b"]],
    ["then the smallest limit", [s("a", "REQUESTS", 10, 3, 1), s("b", "REQUESTS", 100, 3, 1)], undefined, ["a"]],
    ["then the latest reset", [s("a", "TOKENS", 10, 3, 1), s("b", "TOKENS", 10, 3, 9)], undefined, ["b"]],
    ["one per unit, requests first", [s("t", "TOKENS", 10, 3, 1), s("r", "REQUESTS", 10, 3, 1)], undefined, ["r", "t"]],
    ["the hit limit wins its unit", [s("a", "TOKENS", 10, 0, 1), s("b", "TOKENS", 10, 9, 1)], s("b", "TOKENS", 10, 9, 1), ["b"]],
  ])("%s", (_, states, hit, ids) => {
    expect(tightestRateLimits(states, hit).map((x) => x.rateLimitId)).toEqual(ids);
  });
});
