import type { GuardrailsPolicy, PolicySnapshot, RateLimitPolicy } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome } from "@tollgate/proto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./app.fixture.js";
import { toFullUpdate } from "./policy.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** A fixed clock: 12:30:00 UTC, so a 60 s window resets in 60 s and an hourly one in 30 min. */
const NOW = Date.UTC(2025, 0, 15, 12, 30);
const CHAT = "/v1/chat/completions";
const say = (content: string, extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content }], max_tokens: 50, ...extra });

const limit = (id: string, scope: RateLimitPolicy["scope"], scopeId: string, unit: RateLimitPolicy["unit"], n: number, windowSeconds: number, label: string): RateLimitPolicy => ({
  id,
  organizationId: "org_1",
  scope,
  scopeId,
  unit,
  limit: n,
  windowSeconds,
  scopeLabel: label,
});

describe("limits on the data plane (buildApp + inject, real mock provider)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: TestApp;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 3 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 400, idleMs: 400, totalMs: 5_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });
  beforeEach(() => {
    mock.reset();
    t = buildTestApp({ baseUrl: mock.baseUrl, upstream: upstream.send, now: () => NOW });
  });
  afterEach(async () => {
    await t.app.close();
  });

  /** Replaces parts of the fixture's policy, as a new full snapshot from the control plane. */
  const applyPolicy = (patch: Partial<PolicySnapshot>): void => {
    t.store.applyUpdate(toFullUpdate({ ...t.fixture.snapshot, ...patch, version: 2n }, "n2"));
  };

  describe("guardrails", () => {
    const guardrails: GuardrailsPolicy[] = [
      {
        id: "grd_org",
        organizationId: "org_1",
        scope: "ORGANIZATION",
        scopeId: "org_1",
        scopeLabel: 'organization "acme"',
        rules: [{ name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\b\\d{3}-\\d{2}-\\d{4}\\b", flags: "", keywords: [], limit: 0 }],
      },
      {
        id: "grd_key",
        organizationId: "org_1",
        scope: "VIRTUAL_KEY",
        scopeId: "vk_active",
        scopeLabel: 'virtual key "active"',
        rules: [{ name: "no-secrets", kind: "BLOCK_KEYWORDS", pattern: "", flags: "", keywords: ["password"], limit: 0 }],
      },
    ];

    it.each<[string, unknown, string | null]>([
      ["an SSN in a string message", say("my ssn is 123-45-6789"), 'blocked by guardrail "no-ssn" of organization "acme"'],
      [
        "an SSN in a text part of a system message",
        {
          model: "gpt-4o-mini",
          messages: [
            { role: "system", content: [{ type: "text", text: "id 987-65-4321" }] },
            { role: "user", content: "hi" },
          ],
        },
        'blocked by guardrail "no-ssn" of organization "acme"',
      ],
      ["a keyword of the key", say("the Password is hunter2"), 'blocked by guardrail "no-secrets" of virtual key "active"'],
      ["a clean prompt", say("hello there"), null],
    ])("%s", async (_, body, message) => {
      applyPolicy({ guardrails });
      const res = await t.post(CHAT, "active", body);
      if (message === null) {
        expect(res.statusCode, res.body).toBe(200);
        expect(mock.requests()).toHaveLength(1);
        return;
      }
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: { message, type: "invalid_request_error", param: null, code: "guardrail_blocked" } });
      expect(mock.requests()).toHaveLength(0);
      expect(t.sink.records.map((r) => [r.outcome, r.errorCode, r.status])).toEqual([[Outcome.REFUSED, "guardrail_blocked", 400]]);
      expect(t.ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
    });

    it("applies organization rules to every key of the organization, and checks embeddings inputs", async () => {
      applyPolicy({ guardrails });
      expect((await t.post(CHAT, "rateLimited", say("password is fine here"))).statusCode).toBe(200);
      const res = await t.post("/v1/embeddings", "rateLimited", { model: "embed-small", input: ["ok", "ssn 123-45-6789"] });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe("guardrail_blocked");
    });

    it("the Simulator lists every rule as a check", async () => {
      applyPolicy({ guardrails });
      const res = await t.post("/v1/simulate", "active", { path: CHAT, body: say("password 123-45-6789") });
      expect(res.statusCode).toBe(200);
      const report = res.json() as { allowed: boolean; status: number; error: { code: string }; checks: Array<{ name: string; level: string; passed: boolean }> };
      expect(report).toMatchObject({ allowed: false, status: 400, error: { code: "guardrail_blocked" } });
      expect(report.checks.filter((c) => c.name === "guardrail")).toEqual([expect.objectContaining({ level: "ORGANIZATION", passed: false })]);
    });
  });

  describe("rate limits and x-ratelimit-* headers", () => {
    it("reports the tightest limit of each unit on success, then 429 rate_limit_exceeded with Retry-After", async () => {
      applyPolicy({
        rateLimits: [
          limit("rl_org", "ORGANIZATION", "org_1", "REQUESTS", 100, 60, 'organization "acme"'),
          limit("rl_team", "TEAM", "team_1", "REQUESTS", 2, 60, 'team "search"'),
          limit("rl_key_tokens", "VIRTUAL_KEY", "vk_active", "TOKENS", 100_000, 3_600, 'virtual key "active"'),
        ],
      });
      const first = await t.post(CHAT, "active", say("hi"));
      expect(first.statusCode, first.body).toBe(200);
      expect(first.headers["x-ratelimit-limit-requests"]).toBe("2");
      expect(first.headers["x-ratelimit-remaining-requests"]).toBe("1");
      expect(first.headers["x-ratelimit-reset-requests"]).toBe("60s");
      expect(first.headers["x-ratelimit-limit-tokens"]).toBe("100000");
      const tokensLeft = Number(first.headers["x-ratelimit-remaining-tokens"]);
      expect(tokensLeft).toBeLessThan(100_000);
      expect(first.headers["x-ratelimit-reset-tokens"]).toBe("1800s");

      // A key of the same team shares the team's limit.
      expect((await t.post(CHAT, "denyGpt4o", say("hi"))).headers["x-ratelimit-remaining-requests"]).toBe("0");
      const refused = await t.post(CHAT, "active", say("hi"));
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error).toMatchObject({
        code: "rate_limit_exceeded",
        message: 'request rate limit of team "search" exceeded (2 per 60s); resets at 2025-01-15T12:31:00.000Z',
        type: "rate_limit_error",
      });
      expect(refused.headers["retry-after"]).toBe("60");
      expect(refused.headers["x-should-retry"]).toBe("true");
      expect(refused.headers["x-ratelimit-limit-requests"]).toBe("2");
      expect(refused.headers["x-ratelimit-remaining-requests"]).toBe("0");
      expect(refused.headers["x-ratelimit-reset-requests"]).toBe("60s");
      expect(refused.headers["x-ratelimit-limit-tokens"]).toBe("100000");
      // Settlement replaced the admission's token upper bound by the actual tokens.
      const tokensNow = Number(refused.headers["x-ratelimit-remaining-tokens"]);
      expect(tokensNow).toBeGreaterThan(tokensLeft);
      expect(tokensNow).toBeLessThan(100_000);
      expect(mock.requests()).toHaveLength(2);
    });

    it("a token limit refuses a request whose upper bound does not fit, naming the level", async () => {
      applyPolicy({ rateLimits: [limit("rl_org_tokens", "ORGANIZATION", "org_1", "TOKENS", 200, 60, 'organization "acme"')] });
      const res = await t.post(CHAT, "active", say("hello", { max_tokens: 500 }));
      expect(res.statusCode).toBe(429);
      expect(res.json().error.message).toBe('token rate limit of organization "acme" exceeded (200 per 60s); resets at 2025-01-15T12:31:00.000Z');
      expect(res.headers["x-ratelimit-limit-tokens"]).toBe("200");
      expect(res.headers["x-ratelimit-remaining-tokens"]).toBe("200");
      expect(res.headers["retry-after"]).toBe("60");
      expect(res.headers["x-ratelimit-limit-requests"]).toBeUndefined();
    });

    it("sends no x-ratelimit-* headers when no limit applies", async () => {
      const res = await t.post(CHAT, "active", say("hi"));
      expect(res.statusCode).toBe(200);
      expect(Object.keys(res.headers).filter((h) => h.startsWith("x-ratelimit"))).toEqual([]);
    });
  });
});
