import { randomBytes } from "node:crypto";
import { generateOpaqueSecret } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./app.fixture.js";
import { budgetWindowKey } from "./budget-usage.client.js";
import type { FixtureKeyName } from "./policy.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** A fixed clock keeps rate-limit and budget windows from turning over mid-test. */
const NOW = Date.UTC(2025, 0, 15, 12, 30);
const CHAT = "/v1/chat/completions";
const hello = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }], ...extra });

interface Report {
  allowed: boolean;
  status: number;
  error: { code: string; message: string; type: string; param: null } | null;
  route: { model: string; providerAccount: string; upstreamModel: string } | null;
  estimatedCost: string;
  checks: { name: string; level: string; passed: boolean; detail: string }[];
  budgets: { id: string; limit: string; used: string | null; remaining: string | null; heldByThisNode: string | null }[];
}

describe("POST /v1/simulate (buildApp + inject, real mock provider)", () => {
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

  const simulate = async (key: FixtureKeyName | null, path: string, body: unknown, app: TestApp = t): Promise<Report> => {
    const res = await app.post("/v1/simulate", key, { path, body });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Report;
  };
  /** Nothing was consumed: no provider call, no usage record, no grant, nothing reserved or spent. */
  const expectNothingConsumed = (app: TestApp = t) => {
    expect(mock.requests()).toHaveLength(0);
    expect(app.sink.records).toHaveLength(0);
    expect(app.grants.calls).toBe(0);
    expect(app.ledger.entries()).toEqual([]);
  };

  it("reports each budget of the key as the admin set it, with the control plane's use, and separately what this node holds", async () => {
    const windowStart = Date.UTC(2025, 0, 15); // the fixture's DAY budgets, at NOW
    const asked: string[][] = [];
    const known = buildTestApp({
      baseUrl: mock.baseUrl,
      upstream: upstream.send,
      now: () => NOW,
      budgetUsage: async (asks) => {
        asked.push(asks.map((a) => `${a.budgetId}@${a.windowStartMs}`));
        return new Map([[budgetWindowKey("bgt_usd", windowStart), { used: 150_000_000n, held: 100_000_000n }]]);
      },
    });
    try {
      const report = await simulate("usdBudget", CHAT, hello({ max_tokens: 10 }), known);
      expect(asked).toEqual([[`bgt_usd@${windowStart}`]]);
      expect(report.budgets).toEqual([
        {
          id: "bgt_usd",
          name: 'daily USD budget of virtual key "vk_usdBudget"',
          scope: "VIRTUAL_KEY",
          unit: "USD",
          window: "DAY",
          mode: "HARD",
          limit: "0.0006",
          used: "0.00015",
          remaining: "0.00045",
          resetsAt: "2025-01-16T00:00:00.000Z",
          heldByThisNode: "0.00",
        },
      ]);
    } finally {
      await known.app.close();
    }
    // Without an answer from the control plane the use is unknown, never guessed.
    const unknown = await simulate("usdBudget", CHAT, hello({ max_tokens: 10 }));
    expect(unknown.budgets.map((b) => [b.limit, b.used, b.remaining])).toEqual([["0.0006", null, null]]);
    expect((await simulate("active", CHAT, hello())).budgets).toEqual([]);
  });

  it("reports an allowed chat request with its route, cost upper bound and checks", async () => {
    const report = await simulate("active", CHAT, hello({ max_tokens: 100 }));
    expect(report).toMatchObject({ allowed: true, status: 200, error: null, route: { model: "gpt-4o-mini", providerAccount: "openai-main", upstreamModel: "gpt-4o-mini-2024-07-18" } });
    // 1 micro-dollar per token: input upper bound + 100 output tokens.
    const micros = Math.round(Number(report.estimatedCost) * 1_000_000);
    expect(micros).toBeGreaterThan(100);
    expect(micros).toBeLessThan(200);
    expect(report.checks.map((c) => c.name)).toEqual(["request", "api_key", "key_status", "model", "model_access", "price"]);
    expect(report.checks.every((c) => c.passed)).toBe(true);
    const byQualifiedName = await simulate("active", CHAT, hello({ model: "openai-main/gpt-4o-mini", max_tokens: 100 }));
    expect(byQualifiedName.route?.model).toBe("gpt-4o-mini");
    expect(byQualifiedName.estimatedCost).toBe(report.estimatedCost);
    expectNothingConsumed();
  });

  it("simulates embeddings with no output tokens", async () => {
    const report = await simulate("active", "/v1/embeddings", { model: "embed-small", input: "x".repeat(40) });
    expect(report).toMatchObject({ allowed: true, status: 200, estimatedCost: "0.00004", route: { upstreamModel: "text-embedding-3-small" } });
    const claudeChat = await simulate("active", CHAT, hello({ model: "claude-haiku" }));
    expect(claudeChat.route).toEqual({ model: "claude-haiku", providerAccount: "anthropic-main", upstreamModel: "claude-3-5-haiku-latest" });
    expectNothingConsumed();
  });

  it.each([
    ["revoked", "gpt-4o-mini", 401, "invalid_api_key", 'virtual key "revoked" has been revoked'],
    ["paused", "gpt-4o-mini", 403, "key_paused", 'virtual key "paused" is paused'],
    ["active", "gpt-5", 404, "model_not_found", 'model "gpt-5" does not exist'],
    ["denyGpt4o", "gpt-4o", 403, "model_not_allowed", 'model "gpt-4o" is not allowed for virtual key "denyGpt4o"'],
    ["active", "unpriced", 403, "model_not_priced", 'model "unpriced" has no price'],
  ] as const)("reports the %s key on %s as the real request's %i %s", async (key, model, status, code, message) => {
    const report = await simulate(key, CHAT, hello({ model }));
    expect(report).toMatchObject({ allowed: false, status, error: { code, message, param: null } });
    expect(report.checks.at(-1)).toMatchObject({ passed: false, detail: message });
    const real = await t.post(CHAT, key, hello({ model }));
    expect([real.statusCode, real.json().error]).toEqual([status, report.error]);
  });

  it("reports an unknown well-formed secret as 401, but answers 401 itself with no key or a malformed one", async () => {
    const unknown = generateOpaqueSecret(randomBytes(32));
    const res = await t.app.inject({ method: "POST", url: "/v1/simulate", headers: { "x-api-key": unknown }, payload: { path: CHAT, body: hello() } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ allowed: false, status: 401, route: null, error: { code: "invalid_api_key", message: "the API key is not valid" } });
    // One changed character breaks the checksum: malformed, refused without a lookup.
    const forged = t.fixture.secrets.active.replace(/^tg_live_./, (p) => (p.endsWith("A") ? "tg_live_B" : "tg_live_A"));
    const malformed = await t.app.inject({ method: "POST", url: "/v1/simulate", headers: { authorization: `Bearer ${forged}` }, payload: { path: CHAT, body: hello() } });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.json().error.code).toBe("invalid_api_key");
    const none = await t.post("/v1/simulate", null, { path: CHAT, body: hello() });
    expect(none.statusCode).toBe(401);
    expect(none.json().error).toMatchObject({ code: "invalid_api_key", type: "authentication_error", message: "no API key was provided" });
    expectNothingConsumed();
  });

  it("reports a malformed inner body as the real 400, and refuses a malformed simulate call itself", async () => {
    const report = await simulate("active", CHAT, { model: "gpt-4o-mini" });
    expect(report).toMatchObject({ allowed: false, status: 400, route: null, estimatedCost: "0.00", error: { code: "invalid_request" } });
    expect(report.error?.message).toContain("messages");
    expect(report.checks).toEqual([{ name: "request", level: "REQUEST", passed: false, detail: report.error?.message }]);
    const badEmbeddings = await simulate("active", "/v1/embeddings", { model: "embed-small" });
    expect(badEmbeddings).toMatchObject({ allowed: false, status: 400, error: { message: "'input' is required" } });
    for (const payload of [{ body: hello() }, { path: "/v1/nothing", body: hello() }, { path: CHAT }, "[1]"]) {
      const res = await t.post("/v1/simulate", "active", payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe("invalid_request");
    }
    expectNothingConsumed();
  });

  it("consumes no rate limit: the real requests still get their full share afterwards", async () => {
    for (let i = 0; i < 5; i++) expect((await simulate("rateLimited", CHAT, hello())).allowed).toBe(true);
    expectNothingConsumed();
    for (let i = 0; i < 2; i++) expect((await t.post(CHAT, "rateLimited", hello())).statusCode).toBe(200);
    expect((await t.post(CHAT, "rateLimited", hello())).statusCode).toBe(429);
    const report = await simulate("rateLimited", "/v1/embeddings", { model: "embed-small", input: "hi" });
    expect(report).toMatchObject({ allowed: false, status: 429, error: { code: "rate_limit_exceeded" } });
  });

  it("takes no grant and reserves no budget; says which grant the real request would need", async () => {
    for (let i = 0; i < 3; i++) {
      const report = await simulate("requestBudget", CHAT, hello());
      expect(report.allowed).toBe(true);
      expect(report.checks.at(-1)).toEqual({
        name: "budget_grant",
        level: "VIRTUAL_KEY",
        passed: true,
        detail: 'daily request budget of virtual key "vk_requestBudget" needs a grant of 1 requests from the control plane',
      });
    }
    expectNothingConsumed();
    for (let i = 0; i < 2; i++) expect((await t.post(CHAT, "requestBudget", hello())).statusCode).toBe(200);
    const spent = await simulate("requestBudget", CHAT, hello());
    expect(spent).toMatchObject({ allowed: false, status: 429, error: { code: "budget_exceeded" } });
    expect(spent.checks.find((c) => c.name === "budget_grant")).toMatchObject({ passed: false, detail: expect.stringContaining("exhausted") });
    expect(t.ledger.entries()).toEqual([expect.objectContaining({ grantedTotal: 2n, spent: 2n, reserved: 0n })]);
    expect(mock.requests()).toHaveLength(2);
  });

  it("caps the assumed grant at the budget's limit, as the real request would be capped", async () => {
    const report = await simulate("usdBudget", CHAT, hello({ max_tokens: 2000 }));
    expect(report.allowed).toBe(true);
    expect(Number(report.estimatedCost)).toBeLessThanOrEqual(0.0006);
    expect(report.checks.find((c) => c.name === "budget_grant")?.detail).toContain("at most $0.0006 under the limit");
    expectNothingConsumed();
  });

  it("reports budget_unverifiable without a control plane, and usage_unavailable when the spool is full", async () => {
    const offline = buildTestApp({ baseUrl: mock.baseUrl, upstream: upstream.send, now: () => NOW, grants: { reachable: () => false, acquire: async () => false } });
    try {
      const report = await simulate("usdBudget", CHAT, hello(), offline);
      expect(report).toMatchObject({ allowed: false, status: 503, error: { code: "budget_unverifiable" } });
      expect(report.checks.at(-1)?.detail).toContain("unreachable");
      expect((await simulate("active", CHAT, hello(), offline)).allowed).toBe(true);
      expectNothingConsumed(offline);
    } finally {
      await offline.app.close();
    }
    t.sink.full = true;
    const full = await simulate("active", CHAT, hello());
    expect(full).toMatchObject({ allowed: false, status: 503, error: { code: "usage_unavailable" } });
    expect(full.checks.map((c) => [c.name, c.passed])).toEqual([
      ["request", true],
      ["usage_recording", false],
    ]);
  });
});
