import { BudgetLedger, RateLimiter } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { parseOpenAIChatRequest, shapeChatRequest, type ParsedChatRequest } from "@tollgate/providers";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";
import { createMemorySink } from "./app.fixture.js";
import { silentLogger } from "./grpc.fixture.js";
import { PROVIDER_API_KEY, buildPolicyFixture, createFixtureGrantSource, toFullUpdate, type PolicyFixture } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

describe("data-plane app (buildApp + inject, real mock provider)", () => {
  let mock: MockProvider;
  let fixture: PolicyFixture;
  let upstream: UpstreamClient;
  let app: FastifyInstance;
  let sink: ReturnType<typeof createMemorySink>;
  let store: PolicyStore;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 5 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 400, idleMs: 400, totalMs: 5_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });
  beforeEach(async () => {
    await app?.close();
    mock.reset();
    fixture = buildPolicyFixture(mock.baseUrl);
    store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const ledger = new BudgetLedger();
    sink = createMemorySink();
    app = buildApp({
      nodeId: "node-t",
      bootId: "boot-t",
      store,
      ledger,
      limiter: new RateLimiter(),
      grants: createFixtureGrantSource(ledger, store, Date.now),
      usage: sink,
      upstream: upstream.send,
      logger: silentLogger,
      bodyLimitBytes: 64 * 1024,
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  const chat = (headers: Record<string, string>, body: unknown, url = "/v1/chat/completions") =>
    app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload: typeof body === "string" ? body : JSON.stringify(body) });
  const hello = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }], ...extra });
  const bearer = (name: keyof PolicyFixture["secrets"]) => ({ authorization: `Bearer ${fixture.secrets[name]}` });

  it("authenticates with every header style and the ?key= query", async () => {
    const secret = fixture.secrets.active;
    const styles: [Record<string, string>, string][] = [
      [{ authorization: `Bearer ${secret}` }, "/v1/chat/completions"],
      [{ "x-bf-vk": secret }, "/v1/chat/completions"],
      [{ "x-api-key": secret }, "/v1/chat/completions"],
      [{ "x-goog-api-key": secret }, "/v1/chat/completions"],
      [{}, `/v1/chat/completions?key=${secret}`],
    ];
    for (const [headers, url] of styles) {
      const res = await chat(headers, hello(), url);
      expect(res.statusCode, JSON.stringify(headers)).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      const body = res.json();
      expect(body.model).toBe("gpt-4o-mini");
      expect(body.choices[0].message.content).toBe(" tok".repeat(5));
    }
    expect(sink.records).toHaveLength(5);
    const r = sink.records[0]!;
    expect(r.virtualKeyId).toBe("vk_active");
    expect(r.outcome).toBe(Outcome.SUCCESS);
    expect(r.usageSource).toBe(UsageSource.PROVIDER);
    expect(r.outputTokens).toBe(5);
    expect(r.model).toBe("gpt-4o-mini");
    expect(r.upstreamModel).toBe("gpt-4o-mini-2024-07-18");
    expect(r.requestId).toMatch(/^req_/);
    expect(r.costMicros).toBe(BigInt(r.inputTokens + r.outputTokens));
    expect(sink.records.map((x) => x.sequence)).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  it("sends the provider credential upstream, never the virtual key, and the upstream model id", async () => {
    const res = await chat(bearer("active"), hello());
    expect(res.statusCode).toBe(200);
    const [seen] = mock.requests();
    expect(seen?.headers.authorization).toBe(`Bearer ${PROVIDER_API_KEY}`);
    expect(JSON.stringify(seen)).not.toContain(fixture.secrets.active);
    expect((seen?.body as { model: string }).model).toBe("gpt-4o-mini-2024-07-18");
    expect(res.body).not.toContain(PROVIDER_API_KEY);
  });

  it.each([
    ["no key", {}],
    ["garbage", { authorization: "Bearer sk-not-a-tollgate-key" }],
    ["an unknown well-formed key", { authorization: "Bearer tg_live_0000000000000000000000000000000000000000000UNKNWN" }],
  ])("answers 401 invalid_api_key for %s", async (_label, headers) => {
    const res = await chat(headers, hello());
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe("invalid_api_key");
    expect(mock.requests()).toHaveLength(0);
    expect(sink.records).toHaveLength(0);
  });

  it.each([
    ["revoked", "gpt-4o-mini", 401, "invalid_api_key"],
    ["paused", "gpt-4o-mini", 403, "key_paused"],
    ["active", "gpt-5-nonexistent", 404, "model_not_found"],
    ["denyGpt4o", "gpt-4o", 403, "model_not_allowed"],
    ["active", "unpriced", 403, "model_not_priced"],
  ] as const)("refuses the %s key on %s with %i %s and records the refusal", async (key, model, status, code) => {
    const res = await chat(bearer(key), hello({ model }));
    expect(res.statusCode).toBe(status);
    const err = res.json().error;
    expect(err.code).toBe(code);
    expect(typeof err.message).toBe("string");
    expect(mock.requests()).toHaveLength(0);
    expect(sink.records).toHaveLength(1);
    expect(sink.records[0]?.outcome).toBe(Outcome.REFUSED);
    expect(sink.records[0]?.errorCode).toBe(code);
    expect(sink.records[0]?.costMicros).toBe(0n);
  });

  it("answers 400 invalid_request for malformed JSON and missing fields, 413 for a body over the limit", async () => {
    const bad = await chat(bearer("active"), "{not json");
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("invalid_request");
    const missing = await chat(bearer("active"), { model: "gpt-4o-mini" });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatchObject({ code: "invalid_request", type: "invalid_request_error" });
    expect(missing.json().error.message).toContain("messages");
    const big = await chat(bearer("active"), hello({ messages: [{ role: "user", content: "x".repeat(100 * 1024) }] }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe("request_too_large");
    const unknown = await app.inject({ method: "GET", url: "/v1/nothing" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe("not_found");
  });

  it("refuses audio for a model without audio prices (403 model_not_priced), before any upstream call", async () => {
    const res = await chat(bearer("active"), hello({ modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } }));
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: "model_not_priced", message: 'model "gpt-4o-mini" has no audio price (the request sends or asks for audio)' });
    expect(mock.requests()).toHaveLength(0);
  });

  it("does not send a service_tier billed above the model's price (priority), and keeps default", async () => {
    expect((await chat(bearer("active"), hello({ service_tier: "priority" }))).statusCode).toBe(200);
    expect((await chat(bearer("active"), hello({ service_tier: "default" }))).statusCode).toBe(200);
    const sent = mock.requests().map((r) => (r.body as Record<string, unknown>)["service_tier"]);
    expect(sent).toEqual([undefined, "default"]);
  });

  it("lowers max_tokens sent upstream under CAP_OUTPUT so the USD budget cannot be exceeded", async () => {
    const res = await chat(bearer("usdBudget"), hello({ max_tokens: 2000, messages: [{ role: "user", content: "hello [[mock:completion_tokens=3000]]" }] }));
    expect(res.statusCode).toBe(200);
    const sent = mock.requests()[0]?.body as { max_tokens: number };
    expect(sent.max_tokens).toBeGreaterThan(0);
    expect(sent.max_tokens).toBeLessThan(600);
    const record = sink.records[0]!;
    expect(record.costPicos).toBeLessThanOrEqual(600_000_000n);
    expect(record.charges).toEqual([expect.objectContaining({ budgetId: "bgt_usd", amount: record.costPicos })]);
  });

  it("refuses with 429 budget_exceeded, x-should-retry: false and the reset time once a hard budget is spent", async () => {
    for (let i = 0; i < 2; i++) expect((await chat(bearer("requestBudget"), hello())).statusCode).toBe(200);
    const res = await chat(bearer("requestBudget"), hello());
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe("budget_exceeded");
    // The window resets hours away: no Retry-After an SDK would sleep on.
    expect(res.headers["x-should-retry"]).toBe("false");
    expect(res.headers["retry-after"]).toBeUndefined();
    expect(res.json().error.message).toMatch(/; resets at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    expect(mock.requests()).toHaveLength(2);
  });

  it("streams the same content, captures usage the client did not ask for, and hides it", async () => {
    const plain = (await chat(bearer("active"), hello())).json();
    const res = await chat(bearer("active"), hello({ stream: true, messages: [{ role: "user", content: "hi [[mock:completion_tokens=7]]" }] }));
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = res.body
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => e.slice(6));
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { model: string; usage?: unknown; choices: { delta: { content?: string } }[] });
    expect(chunks.every((c) => !("usage" in c))).toBe(true);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(" tok".repeat(7));
    expect(plain.choices[0].message.content).toBe(" tok".repeat(5));
    const upstreamBody = mock.requests()[1]?.body as { stream_options: { include_usage: boolean } };
    expect(upstreamBody.stream_options.include_usage).toBe(true);
    const record = sink.records[1]!;
    expect(record.stream).toBe(true);
    expect(record.usageSource).toBe(UsageSource.PROVIDER);
    expect(record.outputTokens).toBe(7);

    const withUsage = await chat(bearer("active"), hello({ stream: true, stream_options: { include_usage: true } }));
    const last =
      withUsage.body
        .split("\n\n")
        .filter((e) => e.startsWith("data: {"))
        .at(-1) ?? "";
    expect(JSON.parse(last.slice(6)).usage.completion_tokens).toBe(5);
  });

  it("maps upstream failures: 5xx -> 502 upstream_error, no answer -> 504 upstream_timeout (its prompt billed), and releases the reservation", async () => {
    const failed = await chat(bearer("active"), hello({ messages: [{ role: "user", content: "[[mock:status=500]]" }] }));
    expect(failed.statusCode).toBe(502);
    expect(failed.json().error.code).toBe("upstream_error");
    const hungBody = hello({ messages: [{ role: "user", content: "[[mock:hang]]" }] });
    const hung = await chat(bearer("active"), hungBody);
    expect(hung.statusCode).toBe(504);
    expect(hung.json().error.code).toBe("upstream_timeout");
    expect(sink.records.map((r) => [r.outcome, r.status, r.errorCode, r.costMicros])).toEqual([
      [Outcome.UPSTREAM_ERROR, 502, "upstream_error", 0n],
      // The provider got the body: its prompt is billed as the reservation counted it ($1 per million: a micro-dollar a token).
      [Outcome.UPSTREAM_ERROR, 504, "upstream_timeout", BigInt(shapeChatRequest(parseOpenAIChatRequest(hungBody) as ParsedChatRequest).inputTokensUpperBound)],
    ]);
    // Nothing stays reserved: the REQUESTS budget still admits both its requests.
    for (let i = 0; i < 2; i++) expect((await chat(bearer("requestBudget"), hello({ messages: [{ role: "user", content: "[[mock:status=503]]" }] }))).statusCode).toBe(502);
    expect((await chat(bearer("requestBudget"), hello())).statusCode).toBe(200);
  });

  it("bills a cut stream its prompt as reserved and the output it held (not the 3 tokens seen)", async () => {
    const res = await chat(bearer("active"), hello({ stream: true, messages: [{ role: "user", content: "hi [[mock:completion_tokens=50]] [[mock:reset_after=3]]" }] }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("upstream_error");
    const record = sink.records[0]!;
    expect(record.outcome).toBe(Outcome.UPSTREAM_ERROR);
    expect(record.usageSource).toBe(UsageSource.COUNTED);
    expect(record.outputTokens).toBe(4096);
    expect(record.inputTokens).toBeGreaterThan(0);
    expect(record.costMicros).toBeGreaterThan(0n);
  });

  it("refuses billable requests with 503 usage_unavailable when the spool is full", async () => {
    sink.full = true;
    const res = await chat(bearer("active"), hello());
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("usage_unavailable");
    expect(res.headers["retry-after"]).toBeDefined();
    expect(mock.requests()).toHaveLength(0);
  });

  it("answers 503 budget_unverifiable when a hard budget needs grants and the control plane is unreachable", async () => {
    const ledger = new BudgetLedger();
    const offline = buildApp({
      nodeId: "n",
      bootId: "b",
      store,
      ledger,
      limiter: new RateLimiter(),
      grants: { reachable: () => false, acquire: async () => false },
      usage: sink,
      upstream: upstream.send,
      logger: silentLogger,
    });
    const res = await offline.inject({ method: "POST", url: "/v1/chat/completions", headers: { ...bearer("usdBudget"), "content-type": "application/json" }, payload: hello() });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("budget_unverifiable");
    // Keys without hard budgets keep working.
    const free = await offline.inject({ method: "POST", url: "/v1/chat/completions", headers: { ...bearer("active"), "content-type": "application/json" }, payload: hello() });
    expect(free.statusCode).toBe(200);
    await offline.close();
  });

  it("aborts the upstream call when the client goes away and records the abort", async () => {
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const controller = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { ...bearer("active"), "content-type": "application/json" },
      body: JSON.stringify(hello({ messages: [{ role: "user", content: "[[mock:hang]]" }] })),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.records).toHaveLength(1);
    expect(sink.records[0]?.outcome).toBe(Outcome.CLIENT_ABORTED);
  });

  it("lists only the models a key may call", async () => {
    const all = await app.inject({ method: "GET", url: "/v1/models", headers: bearer("active") });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({ object: "list" });
    expect(
      all
        .json()
        .data.map((m: { id: string }) => m.id)
        .sort(),
    ).toEqual(["claude-haiku", "embed-small", "gpt-4o", "gpt-4o-mini", "unpriced"]);
    const byId = new Map(all.json().data.map((m: { id: string }) => [m.id, m]));
    expect(byId.get("gpt-4o-mini")).toMatchObject({ object: "model", owned_by: "openai-main" });
    expect(byId.get("claude-haiku")).toMatchObject({ object: "model", owned_by: "anthropic-main" });
    const denied = await app.inject({ method: "GET", url: "/v1/models", headers: bearer("denyGpt4o") });
    expect(denied.json().data.map((m: { id: string }) => m.id)).not.toContain("gpt-4o");
    const revoked = await app.inject({ method: "GET", url: "/v1/models", headers: bearer("revoked") });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error).toMatchObject({ code: "invalid_api_key", message: 'virtual key "revoked" has been revoked' });
    const paused = await app.inject({ method: "GET", url: "/v1/models", headers: bearer("paused") });
    expect(paused.statusCode).toBe(403);
    expect(paused.json().error.code).toBe("key_paused");
    expect((await app.inject({ method: "GET", url: "/v1/models" })).statusCode).toBe(401);
    expect(sink.records).toHaveLength(0);
  });

  it("serves health, readiness and metrics without raw key ids", async () => {
    await chat(bearer("active"), hello());
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
    const metrics = await app.inject({ url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_system="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_token_type="output"} 5');
    expect(metrics.body).toContain("gen_ai_client_operation_duration_count");
    expect(metrics.body).toContain('tollgate_requests_total{route="/v1/chat/completions",code="ok"} 1');
    expect(metrics.body).toContain("tollgate_policy_version 1");
    expect(metrics.body).toContain("tollgate_usage_spool_records 1");
    expect(metrics.body).not.toContain("vk_");

    const empty = buildApp({
      nodeId: "n",
      bootId: "b",
      store: new PolicyStore(),
      ledger: new BudgetLedger(),
      limiter: new RateLimiter(),
      grants: { reachable: () => false, acquire: async () => false },
      usage: createMemorySink(),
      upstream: upstream.send,
      logger: silentLogger,
    });
    expect((await empty.inject({ url: "/readyz" })).statusCode).toBe(503);
    const notReady = await empty.inject({ method: "POST", url: "/v1/chat/completions", headers: bearer("active"), payload: hello() });
    expect(notReady.statusCode).toBe(503);
    await empty.close();
  });
});
