import { EMBEDDING_DIMENSIONS, startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./app.fixture.js";
import { PROVIDER_API_KEY } from "./policy.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** A fixed clock keeps rate-limit and budget windows from turning over mid-test. */
const NOW = Date.UTC(2025, 0, 15, 12, 30);

describe("POST /v1/embeddings (buildApp + inject, real mock provider)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: TestApp;

  beforeAll(async () => {
    mock = await startMockProvider();
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

  const embed = (key: Parameters<TestApp["post"]>[1], body: Record<string, unknown>) => t.post("/v1/embeddings", key, { model: "embed-small", ...body });

  it("embeds through the provider account and settles on the provider's prompt_tokens", async () => {
    const res = await embed("usdBudget", { input: ["hello world", "second input"] });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const body = res.json();
    expect(body).toMatchObject({ object: "list", model: "embed-small" });
    expect(body.data).toHaveLength(2);
    expect(body.data[1]).toMatchObject({ object: "embedding", index: 1 });
    expect(body.data[0].embedding).toHaveLength(EMBEDDING_DIMENSIONS);
    const promptTokens: number = body.usage.prompt_tokens;
    expect(promptTokens).toBeGreaterThan(0);

    const [seen] = mock.requests();
    expect(seen?.path).toBe("/v1/embeddings");
    expect(seen?.headers.authorization).toBe(`Bearer ${PROVIDER_API_KEY}`);
    expect(seen?.body).toEqual({ model: "text-embedding-3-small", input: ["hello world", "second input"] });
    expect(JSON.stringify(seen)).not.toContain(t.fixture.secrets.usdBudget);

    expect(t.sink.records).toHaveLength(1);
    const record = t.sink.records[0]!;
    expect(record).toMatchObject({ route: "/v1/embeddings", model: "embed-small", upstreamModel: "text-embedding-3-small", virtualKeyId: "vk_usdBudget", stream: false });
    expect([record.outcome, record.usageSource, record.inputTokens, record.outputTokens]).toEqual([Outcome.SUCCESS, UsageSource.PROVIDER, promptTokens, 0]);
    expect(record.costPicos).toBe(BigInt(promptTokens) * 1_000_000n); // 1 micro-dollar per input token
    expect(record.charges).toEqual([expect.objectContaining({ budgetId: "bgt_usd", amount: BigInt(promptTokens) * 1_000_000n })]);
    // Nothing stays reserved: the node holds only what it spent.
    expect(t.ledger.entries()).toEqual([expect.objectContaining({ budgetId: "bgt_usd", reserved: 0n, spent: BigInt(promptTokens) * 1_000_000n })]);
  });

  it("takes usage from the provider even when it differs from the gateway's bound", async () => {
    const res = await embed("active", { input: "count me [[mock:prompt_tokens=7]]" });
    expect(res.statusCode).toBe(200);
    expect(t.sink.records[0]).toMatchObject({ inputTokens: 7, costMicros: 7n, usageSource: UsageSource.PROVIDER });
  });

  it.each([
    ["no key", null, "embed-small", 401, "invalid_api_key", false],
    ["a paused key", "paused", "embed-small", 403, "key_paused", true],
    ["a revoked key", "revoked", "embed-small", 401, "invalid_api_key", true],
    ["an unknown model", "active", "nope", 404, "model_not_found", true],
    ["a denied model", "denyGpt4o", "gpt-4o", 403, "model_not_allowed", true],
    ["an unpriced model", "active", "unpriced", 403, "model_not_priced", true],
  ] as const)("refuses %s in OpenAI shape without calling upstream", async (_label, key, model, status, code, recorded) => {
    const res = await embed(key, { model, input: "hi" });
    expect(res.statusCode).toBe(status);
    expect(res.json().error).toMatchObject({ code, param: null });
    expect(mock.requests()).toHaveLength(0);
    expect(t.sink.records.map((r) => [r.outcome, r.errorCode, r.route])).toEqual(recorded ? [[Outcome.REFUSED, code, "/v1/embeddings"]] : []);
  });

  it("answers 400 invalid_request for a malformed body and refuses a model whose account offers no embeddings", async () => {
    const missing = await embed("active", {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatchObject({ code: "invalid_request", message: "'input' is required" });
    const bad = await embed("active", { input: [1, "x"] });
    expect(bad.statusCode).toBe(400);
    const claude = await embed("active", { model: "claude-haiku", input: "hi" });
    expect(claude.statusCode).toBe(400);
    expect(claude.json().error.message).toContain("does not offer embeddings");
    expect(mock.requests()).toHaveLength(0);
    expect(t.sink.records.map((r) => [r.outcome, r.costMicros])).toEqual([[Outcome.REFUSED, 0n]]);
    expect(t.ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });

  it("enforces hard budgets with grants, and refuses an input the budget cannot pay", async () => {
    for (let i = 0; i < 2; i++) expect((await embed("requestBudget", { input: "hi" })).statusCode).toBe(200);
    const over = await embed("requestBudget", { input: "hi" });
    expect(over.statusCode).toBe(429);
    expect(over.json().error.code).toBe("budget_exceeded");
    expect([over.headers["x-should-retry"], over.headers["retry-after"]]).toEqual(["false", undefined]);
    expect(t.grants.calls).toBeGreaterThan(0);
    // $0.0006 budget, 1 micro-dollar per token, an input bound of 700 bytes: never sent upstream.
    const big = await embed("usdBudget", { input: "x".repeat(700) });
    expect(big.statusCode).toBe(429);
    expect(big.json().error.message).toMatch(/^daily USD budget of virtual key "vk_usdBudget" is exhausted; resets at \S+Z$/);
    expect(mock.requests()).toHaveLength(2);
  });

  it("shares rate limits with chat: the key's 2 requests per window are counted across routes", async () => {
    const first = await embed("rateLimited", { input: "hi" });
    expect(first.statusCode).toBe(200);
    expect(first.headers["x-ratelimit-remaining-requests"]).toBe("1");
    expect((await t.post("/v1/chat/completions", "rateLimited", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })).statusCode).toBe(200);
    const third = await embed("rateLimited", { input: "hi" });
    expect(third.statusCode).toBe(429);
    expect(third.json().error.code).toBe("rate_limit_exceeded");
    expect(third.headers["x-ratelimit-limit-requests"]).toBe("2");
  });

  it("maps upstream failures (a hung one bills its prompt) and releases the reservation; refuses when usage cannot be recorded", async () => {
    const failed = await embed("requestBudget", { input: "boom [[mock:status=500]]" });
    expect(failed.statusCode).toBe(502);
    expect(failed.json().error.code).toBe("upstream_error");
    const hung = await embed("requestBudget", { input: "[[mock:hang]]" });
    expect(hung.statusCode).toBe(504);
    // The hung request's body reached the provider: its prompt is billed ($1 per million: a micro-dollar a token); a REQUESTS budget counts only successes.
    const hungPrompt = t.sink.records[1]?.inputTokens ?? 0;
    expect(hungPrompt).toBeGreaterThan(0);
    expect(t.sink.records.map((r) => [r.outcome, r.status, r.costMicros, r.charges.length])).toEqual([
      [Outcome.UPSTREAM_ERROR, 502, 0n, 0],
      [Outcome.UPSTREAM_ERROR, 504, BigInt(hungPrompt), 0],
    ]);
    for (let i = 0; i < 2; i++) expect((await embed("requestBudget", { input: "ok" })).statusCode).toBe(200);
    t.sink.full = true;
    const full = await embed("active", { input: "hi" });
    expect(full.statusCode).toBe(503);
    expect(full.json().error.code).toBe("usage_unavailable");
  });

  it("observes embeddings metrics under their own operation name", async () => {
    await embed("active", { input: "hello [[mock:prompt_tokens=9]]" });
    const metrics = await t.app.inject({ url: "/metrics" });
    expect(metrics.body).toContain('gen_ai_client_token_usage_sum{gen_ai_operation_name="embeddings",gen_ai_system="openai",gen_ai_request_model="embed-small",gen_ai_token_type="input"} 9');
    expect(metrics.body).toContain('tollgate_requests_total{route="/v1/embeddings",code="ok"} 1');
  });
});
