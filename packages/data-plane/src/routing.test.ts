import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { BudgetLedger, RateLimiter, type ModelPolicy, type PolicySnapshot, type ProviderAccountPolicy } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { parseOpenAIChatRequest, shapeChatRequest, type ParsedChatRequest } from "@tollgate/providers";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";
import { createMemorySink, type MemorySink } from "./app.fixture.js";
import { silentLogger } from "./grpc.fixture.js";
import { PROVIDER_API_KEY, buildPolicyFixture, createFixtureGrantSource, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";
import type { UpstreamRoutingOptions } from "./upstream-routing.js";

/** A local port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const cheap = { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n, cachedInputPerMillion: null };
const dear = { inputPerMillion: 2_000_000n, outputPerMillion: 4_000_000n, cachedInputPerMillion: null };

describe("routing: fallback across provider accounts, retry budget, circuit breaker (buildApp + two mock providers)", () => {
  let a: MockProvider;
  let b: MockProvider;
  let deadUrl: string;
  let upstream: UpstreamClient;
  let app: FastifyInstance;
  let sink: MemorySink;
  let ledger: BudgetLedger;
  let clock: number;
  let secret: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([startMockProvider({ defaultCompletionTokens: 5 }), startMockProvider({ defaultCompletionTokens: 5 })]);
    deadUrl = `http://127.0.0.1:${await closedPort()}/v1`;
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 400, idleMs: 1_000, totalMs: 10_000 });
  });
  afterAll(async () => {
    await app?.close();
    await upstream.close();
    await Promise.all([a.close(), b.close()]);
  });

  /** Builds the app: model `chat` on account a (priority 0) then b (priority 1), and others. */
  const build = (opts: { routing?: UpstreamRoutingOptions; random?: () => number } = {}): void => {
    const base = buildPolicyFixture(a.baseUrl);
    const account = (id: string, name: string, baseUrl: string, provider: ProviderAccountPolicy["provider"] = "OPENAI"): ProviderAccountPolicy => ({
      id,
      organizationId: "org_1",
      name,
      provider,
      baseUrl,
      apiKey: PROVIDER_API_KEY,
    });
    const model = (id: string, accountId: string, name: string, patch: Partial<ModelPolicy> = {}): ModelPolicy => ({
      id,
      organizationId: "org_1",
      providerAccountId: accountId,
      name,
      upstreamModel: `${name}-${accountId}`,
      price: cheap,
      maxOutputTokens: 1000,
      ...patch,
    });
    const snapshot: PolicySnapshot = {
      ...base.snapshot,
      providerAccounts: [
        ...base.snapshot.providerAccounts,
        account("pa_a", "acct-a", a.baseUrl),
        account("pa_b", "acct-b", b.baseUrl),
        account("pa_dead", "acct-dead", deadUrl),
        account("pa_anth", "acct-anth", b.url, "ANTHROPIC"),
      ],
      models: [
        ...base.snapshot.models,
        model("mdl_ca", "pa_a", "chat"),
        model("mdl_cb", "pa_b", "chat", { priority: 1, price: dear }),
        model("mdl_dd", "pa_dead", "dead-first"),
        model("mdl_db", "pa_b", "dead-first", { priority: 1 }),
        model("mdl_xa", "pa_a", "mixed"),
        model("mdl_xb", "pa_anth", "mixed", { priority: 1 }),
        model("mdl_wa", "pa_a", "weighted", { weight: 1 }),
        model("mdl_wb", "pa_b", "weighted", { weight: 3 }),
        model("mdl_ma", "pa_a", "many"),
        model("mdl_md", "pa_dead", "many", { priority: 1 }),
        model("mdl_mb", "pa_b", "many", { priority: 2 }),
        model("mdl_mz", "pa_anth", "many", { priority: 3 }),
      ],
    };
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(snapshot));
    ledger = new BudgetLedger();
    sink = createMemorySink();
    secret = base.secrets.active;
    app = buildApp({
      nodeId: "node-t",
      bootId: "boot-t",
      store,
      ledger,
      limiter: new RateLimiter(),
      grants: createFixtureGrantSource(ledger, store, () => clock),
      usage: sink,
      upstream: upstream.send,
      logger: silentLogger,
      now: () => clock,
      bodyLimitBytes: 64 * 1024,
      ...(opts.routing ? { routing: opts.routing } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
  };

  beforeEach(async () => {
    await app?.close();
    a.reset();
    b.reset();
    clock = Date.UTC(2025, 0, 15, 12);
    build();
  });

  const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "route me" }], ...extra });
  const chat = (model: string, extra: Record<string, unknown> = {}) =>
    app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      payload: JSON.stringify(chatBody(model, extra)),
    });
  const last = () => sink.records.at(-1)!;

  it.each([
    ["500", { status: 500 }, false],
    ["429", { status: 429 }, false],
    ["a hang (no first byte)", { hang: true }, true],
  ] as const)("falls back to the next account when the first answers %s, and bills the one that served (and a prompt the first got without answering)", async (_label, fault, promptBilled) => {
    a.setFault(fault);
    const res = await chat("chat");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().choices[0].message.content).toBe(" tok".repeat(5));
    expect([a.requests().length, b.requests().length]).toEqual([1, 1]);
    expect(b.requests()[0]!.body).toMatchObject({ model: "chat-pa_b" });
    const r = last();
    expect(r).toMatchObject({ outcome: Outcome.SUCCESS, providerAccountId: "pa_b", modelId: "mdl_cb", upstreamModel: "chat-pa_b", attempts: 2, usageSource: UsageSource.PROVIDER });
    // Settled at b's price (2 micro-dollars per input token, 4 per output token); a's hung attempt
    // had its body sent, so its prompt (as the reservation counted it) is billed once at a's price (1 per token).
    const unanswered = promptBilled ? shapeChatRequest(parseOpenAIChatRequest(chatBody("chat")) as ParsedChatRequest).inputTokensUpperBound : 0;
    expect(r.costMicros).toBe(BigInt((r.inputTokens - unanswered) * 2 + unanswered + r.outputTokens * 4));
    expect(ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });

  it("falls back when the first account refuses the connection", async () => {
    const res = await chat("dead-first");
    expect(res.statusCode, res.body).toBe(200);
    expect(last()).toMatchObject({ providerAccountId: "pa_b", attempts: 2, outcome: Outcome.SUCCESS });
  });

  it("never retries once the stream's first byte went out: a mid-stream reset is relayed as an error", async () => {
    a.setFault({ resetAfter: 2 });
    const res = await chat("chat", { stream: true });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('"code":"upstream_error"');
    expect([a.requests().length, b.requests().length]).toEqual([1, 0]);
    expect(last()).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, providerAccountId: "pa_a", attempts: 1, usageSource: UsageSource.COUNTED, outputTokens: 1000 });
  });

  it("does not retry an error that describes the caller's request (400)", async () => {
    a.setFault({ status: 400 });
    const res = await chat("chat");
    expect(res.statusCode).toBe(400);
    expect([a.requests().length, b.requests().length]).toEqual([1, 0]);
    expect(last()).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, attempts: 1, costMicros: 0n });
  });

  it("answers the last failure when every account fails, releasing the reservation", async () => {
    a.setFault({ status: 500 });
    b.setFault({ status: 503 });
    const res = await chat("chat");
    expect([res.statusCode, res.json().error.code]).toEqual([502, "upstream_error"]);
    expect(last()).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, providerAccountId: "pa_b", attempts: 2, costMicros: 0n, charges: [] });
    expect(ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });

  it("makes at most 3 attempts per request, whatever the number of candidates", async () => {
    a.setFault({ status: 500 });
    b.setFault({ status: 500 });
    const res = await chat("many");
    expect(res.statusCode).toBe(502);
    expect(last().attempts).toBe(3);
    expect([a.requests().length, b.requests().length]).toEqual([1, 1]);
  });

  it("opens an account's circuit after 5 consecutive failures, skips it, and probes it again after 10 s", async () => {
    a.setFault({ status: 500 });
    for (let i = 0; i < 5; i++) expect((await chat("chat")).statusCode).toBe(200);
    expect(a.requests()).toHaveLength(5);
    const skipped = await chat("chat");
    expect(skipped.statusCode).toBe(200);
    expect(a.requests()).toHaveLength(5);
    expect(last()).toMatchObject({ providerAccountId: "pa_b", attempts: 1 });
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/tollgate_upstream_attempts_total\{provider="openai",result="circuit_open"\} 1/);
    expect(metrics.body).toMatch(/tollgate_upstream_attempts_total\{provider="openai",result="status_5xx"\} 5/);
    // Half-open after 10 s: one probe goes to a; it has healed, so the circuit closes.
    clock += 10_000;
    a.setFault(null);
    expect((await chat("chat")).statusCode).toBe(200);
    expect(last()).toMatchObject({ providerAccountId: "pa_a", attempts: 1 });
    expect((await chat("chat")).statusCode).toBe(200);
    expect(a.requests()).toHaveLength(7);
  });

  it("a failed half-open probe opens the circuit again", async () => {
    a.setFault({ status: 500 });
    for (let i = 0; i < 5; i++) await chat("chat");
    clock += 10_000;
    await chat("chat");
    expect(a.requests()).toHaveLength(6);
    expect(last()).toMatchObject({ providerAccountId: "pa_b", attempts: 2 });
    await chat("chat");
    expect(a.requests()).toHaveLength(6);
  });

  it("skips an open circuit even when it is the only account: 502 without calling it", async () => {
    await app.close();
    build({ routing: { breaker: { failureThreshold: 2 } } });
    a.setFault({ status: 500 });
    b.setFault({ status: 500 });
    await chat("chat");
    await chat("chat");
    const res = await chat("chat");
    expect([res.statusCode, res.json().error.message]).toEqual([502, 'every provider account serving model "chat" is failing; retry shortly']);
    expect([a.requests().length, b.requests().length]).toEqual([2, 2]);
    expect(last()).toMatchObject({ attempts: 0, outcome: Outcome.UPSTREAM_ERROR });
  });

  it("stops retrying when the node's retry budget is spent", async () => {
    await app.close();
    build({ routing: { retryBudget: { ratio: 0, minPerMinute: 1 }, breaker: { failureThreshold: 100 } } });
    a.setFault({ status: 500 });
    expect((await chat("chat")).statusCode).toBe(200);
    const second = await chat("chat");
    expect(second.statusCode).toBe(502);
    expect(last()).toMatchObject({ attempts: 1, providerAccountId: "pa_a" });
    // The window slides: a minute later the budget is back.
    clock += 61_000;
    expect((await chat("chat")).statusCode).toBe(200);
  });

  it("falls back across protocols: an OpenAI client served by an Anthropic account", async () => {
    a.setFault({ status: 503 });
    const res = await chat("mixed");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ object: "chat.completion", model: "mixed", choices: [{ message: { content: " tok".repeat(5) } }] });
    expect(b.requests()[0]).toMatchObject({ path: "/v1/messages", body: { model: "mixed-pa_anth" } });
    expect(last()).toMatchObject({ providerAccountId: "pa_anth", attempts: 2 });
    const streamed = await chat("mixed", { stream: true });
    expect(streamed.body).toContain("data: [DONE]");
  });

  it("chooses among equal priorities by weight, from the node's random source", async () => {
    for (const [random, account] of [
      [0.2, "pa_a"],
      [0.3, "pa_b"],
      [0.9, "pa_b"],
    ] as const) {
      await app.close();
      build({ random: () => random });
      expect((await chat("weighted")).statusCode).toBe(200);
      expect(last().providerAccountId).toBe(account);
    }
  });

  it("routes embeddings with the same fallback", async () => {
    a.setFault({ status: 500 });
    const res = await app.inject({
      method: "POST",
      url: "/v1/embeddings",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      payload: JSON.stringify({ model: "chat", input: "vectors please" }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(last()).toMatchObject({ providerAccountId: "pa_b", attempts: 2, route: "/v1/embeddings" });
  });
});
