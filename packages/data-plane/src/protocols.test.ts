import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PROVIDER_API_KEY } from "./policy.fixture.js";
import { MODEL_OF, buildProtocolTestApp, chatBody, chatUrl, textOfAnswer, textOfStream, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

const PROTOCOLS = ["openai", "anthropic", "google"] as const;
const PAIRS = PROTOCOLS.flatMap((inbound) => PROTOCOLS.map((upstream) => [inbound, upstream] as const));

describe("every inbound protocol against every upstream (buildApp + inject, real mock provider)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: ProtocolTestApp;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 5 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 10_000 });
  });
  afterAll(async () => {
    await t?.app.close();
    await upstream.close();
    await mock.close();
  });
  beforeEach(async () => {
    await t?.app.close();
    mock.reset();
    t = buildProtocolTestApp(mock.url, upstream.send);
  });

  it.each(PAIRS)("%s -> %s (JSON): the answer in the client's shape, the provider's usage billed", async (inbound, up) => {
    const model = MODEL_OF[up];
    const res = await t.post(chatUrl(inbound, model), t.keyHeaders(inbound, "active"), chatBody(inbound, model, "hello [[mock:prompt_tokens=42]]"));
    expect(res.statusCode, res.body).toBe(200);
    expect(textOfAnswer(inbound, res.json())).toBe(" tok".repeat(5));
    if (inbound !== "google") expect(res.json().model).toBe(model);
    const sent = mock.requests().at(-1)!;
    const expectedPath = { openai: "/v1/chat/completions", anthropic: "/v1/messages", google: "/v1beta/models/gemini-2.0-flash:generateContent" }[up];
    expect(sent.path).toBe(expectedPath);
    const credential = { openai: sent.headers.authorization, anthropic: sent.headers["x-api-key"], google: sent.headers["x-goog-api-key"] }[up];
    expect(credential).toContain(PROVIDER_API_KEY);
    expect(JSON.stringify(sent.headers)).not.toContain(t.fixture.secrets.active);
    const r = t.sink.records.at(-1)!;
    expect(r).toMatchObject({ outcome: Outcome.SUCCESS, usageSource: UsageSource.PROVIDER, inputTokens: 42, outputTokens: 5, model, stream: false });
  });

  it.each(PAIRS)("%s -> %s (stream): events in the client's protocol, usage captured", async (inbound, up) => {
    const model = MODEL_OF[up];
    const res = await t.post(chatUrl(inbound, model, true), t.keyHeaders(inbound, "active"), chatBody(inbound, model, "hi [[mock:prompt_tokens=17]]", true));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(textOfStream(inbound, res.body)).toBe(" tok".repeat(5));
    if (inbound === "openai") {
      expect(res.body).toContain("data: [DONE]");
      expect(res.body).not.toContain('"usage":{'); // not asked for: hidden
    }
    if (inbound === "anthropic") expect(res.body).toContain("event: message_stop");
    if (up === "openai") expect((mock.requests().at(-1)!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    if (up === "google") expect(mock.requests().at(-1)!.path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.SUCCESS, usageSource: UsageSource.PROVIDER, inputTokens: 17, outputTokens: 5, stream: true });
  });

  it("OpenAI clients that ask for stream usage get it from a translated upstream", async () => {
    const body = { ...chatBody("openai", MODEL_OF.anthropic, "x [[mock:prompt_tokens=9]]", true), stream_options: { include_usage: true } };
    const res = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), body);
    expect(res.body).toMatch(/"usage":\{"prompt_tokens":9,"completion_tokens":5/);
  });

  it("Gemini streamGenerateContent without alt=sse answers one JSON array", async () => {
    const res = await t.post(`/v1beta/models/${MODEL_OF.anthropic}:streamGenerateContent`, t.keyHeaders("google", "active"), chatBody("google", "", "hey"));
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const items = res.json() as Record<string, unknown>[];
    expect(Array.isArray(items)).toBe(true);
    expect(items.map((i) => textOfAnswer("google", i)).join("")).toBe(" tok".repeat(5));
  });

  it("the Gemini key also works as ?key= and the model may be account-qualified", async () => {
    const res = await t.post(`/v1beta/models/anthropic-main/claude-haiku:generateContent?key=${t.fixture.secrets.active}`, {}, chatBody("google", "", "hey"));
    expect(res.statusCode, res.body).toBe(200);
    expect(t.sink.records.at(-1)?.model).toBe("anthropic-main/claude-haiku");
  });

  it("cached input tokens are recorded and priced at the cached price", async () => {
    const res = await t.post("/v1/messages", t.keyHeaders("anthropic", "active"), chatBody("anthropic", MODEL_OF.anthropic, "c [[mock:prompt_tokens=100]] [[mock:cached_tokens=40]]"));
    expect(res.json().usage).toMatchObject({ input_tokens: 60, cache_read_input_tokens: 40, output_tokens: 5 });
    const r = t.sink.records.at(-1)!;
    expect(r).toMatchObject({ inputTokens: 100, cachedInputTokens: 40, outputTokens: 5 });
    // $1/M uncached, $0.50/M cached, $2/M output: 60 + 20 + 10 micro-dollars.
    expect(r.costMicros).toBe(90n);
  });

  it("Azure OpenAI: deployment URL, api-version and the api-key header", async () => {
    const res = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), chatBody("openai", "azure-4o", "hi"));
    expect(res.statusCode).toBe(502); // azure.invalid does not resolve
    const sent = t.sent.at(-1)!;
    expect(sent.url).toBe("http://azure.invalid/openai/deployments/my-4o-deployment/chat/completions?api-version=2024-10-21");
    expect(sent.headers).toMatchObject({ "api-key": PROVIDER_API_KEY });
    expect(sent.headers["authorization"]).toBeUndefined();
  });

  it("output limits: the admitted cap reaches every upstream's own field", async () => {
    await t.post("/v1/chat/completions", t.keyHeaders("openai", "usdBudget"), chatBody("openai", MODEL_OF.anthropic, "hi"));
    const anthropicBody = mock.requests().at(-1)!.body as { max_tokens: number };
    expect(anthropicBody.max_tokens).toBeGreaterThan(0);
    expect(anthropicBody.max_tokens).toBeLessThan(600); // the $0.0006 budget cannot pay the model's 4096
    await t.post(chatUrl("anthropic", MODEL_OF.google), t.keyHeaders("anthropic", "active"), { ...chatBody("anthropic", MODEL_OF.google, "hi"), max_tokens: 7 });
    expect((mock.requests().at(-1)!.body as { generationConfig: { maxOutputTokens: number } }).generationConfig.maxOutputTokens).toBe(7);
  });
});
