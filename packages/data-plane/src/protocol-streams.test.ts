import type { AddressInfo } from "node:net";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource, type UsageRecord } from "@tollgate/proto";
import { countTokens } from "@tollgate/providers";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MODEL_OF, buildProtocolTestApp, chatBody, chatUrl, textOfStream, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** The output an admission holds for `chatBody` of each inbound protocol: Anthropic's `max_tokens: 100`, else the model's 4096. */
const HELD = { openai: 4096, anthropic: 100, google: 4096 } as const;

describe("stream cuts, disconnects, token counting and Gemini embeddings", () => {
  let mock: MockProvider;
  let slow: MockProvider;
  let upstream: UpstreamClient;
  let t: ProtocolTestApp;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 5 });
    slow = await startMockProvider({ defaultCompletionTokens: 50, chunkDelayMs: 100 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 15_000 });
  });
  afterAll(async () => {
    await t?.app.close();
    await upstream.close();
    await Promise.all([mock.close(), slow.close()]);
  });
  beforeEach(async () => {
    await t?.app.close();
    mock.reset();
    t = buildProtocolTestApp(mock.url, upstream.send);
  });

  it.each([
    ["openai", "anthropic", 'data: {"error":{"message":"the upstream stream was cut","type":"api_error","param":null,"code":"upstream_error"}}'],
    ["anthropic", "google", 'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"the upstream stream was cut"}}'],
    ["google", "openai", 'data: {"error":{"code":502,"message":"the upstream stream was cut","status":"INTERNAL"}}'],
    ["anthropic", "anthropic", "event: error"],
    ["google", "google", '"status":"INTERNAL"'],
  ] as const)("%s client, %s upstream cut after 3 tokens: error event, the held output billed (not the 3 tokens seen)", async (inbound, up, event) => {
    const model = MODEL_OF[up];
    const res = await t.post(chatUrl(inbound, model, true), t.keyHeaders(inbound, "active"), chatBody(inbound, model, "cut [[mock:reset_after=3]]", true));
    expect(res.statusCode).toBe(200);
    expect(textOfStream(inbound, res.body.split(/event: error|data: \{"error"/)[0] ?? "")).toBe(" tok".repeat(3));
    expect(res.body).toContain(event);
    const r = t.sink.records.at(-1)!;
    expect(r).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, outputTokens: HELD[inbound], errorCode: "upstream_error" });
    expect(r.inputTokens).toBeGreaterThan(countTokens("cut [[mock:reset_after=3]]"));
    expect(r.costMicros).toBeGreaterThan(0n);
  });

  it.each([
    ["openai", "anthropic"],
    ["anthropic", "google"],
    ["google", "anthropic"],
  ] as const)("%s client, %s upstream cut after its prompt count was reported: bills the provider's prompt count", async (inbound, up) => {
    const model = MODEL_OF[up];
    const res = await t.post(chatUrl(inbound, model, true), t.keyHeaders(inbound, "active"), chatBody(inbound, model, "cut [[mock:reset_after=2]] [[mock:prompt_tokens=77]]", true));
    expect(res.statusCode).toBe(200);
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, inputTokens: 77, outputTokens: HELD[inbound] });
  });

  it("a client that leaves mid-stream: the upstream is read on and the provider's usage billed", async () => {
    await t.app.close();
    t = buildProtocolTestApp(slow.url, upstream.send);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/v1/messages`;
    const controller = new AbortController();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...t.keyHeaders("anthropic", "active") },
      body: JSON.stringify(chatBody("anthropic", MODEL_OF.google, "slow please [[mock:completion_tokens=12]]", true)),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let seen = "";
    while (textOfStream("anthropic", seen.slice(0, seen.lastIndexOf("\n\n") + 2)).length < " tok".length * 2) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString("utf8");
    }
    controller.abort();
    const started = Date.now();
    let record: UsageRecord | undefined;
    while (record === undefined && Date.now() - started < 5_000) {
      await new Promise((r) => setTimeout(r, 20));
      record = t.sink.records.at(-1);
    }
    // The 12 tokens the upstream wrote (and reported), not the 2 the client saw.
    expect(record).toMatchObject({ outcome: Outcome.CLIENT_ABORTED, usageSource: UsageSource.PROVIDER, outputTokens: 12 });
    expect(record!.inputTokens).toBeGreaterThan(0);
    const upstreamGot = slow.requests().at(-1)!;
    expect(upstreamGot.path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  });

  it("Anthropic count_tokens: the upstream's count for Anthropic accounts, the tokenizer's otherwise; no budget, no record", async () => {
    const body = { model: MODEL_OF.anthropic, messages: [{ role: "user", content: "count me [[mock:prompt_tokens=77]]" }] };
    const native = await t.post("/v1/messages/count_tokens", t.keyHeaders("anthropic", "requestBudget"), body);
    expect(native.statusCode, native.body).toBe(200);
    expect(native.json()).toEqual({ input_tokens: 77 });
    expect(mock.requests().at(-1)).toMatchObject({ path: "/v1/messages/count_tokens", body: { model: "claude-3-5-haiku-latest" } });
    const local = await t.post("/v1/messages/count_tokens", t.keyHeaders("anthropic", "requestBudget"), { ...body, model: MODEL_OF.openai });
    expect(local.json().input_tokens).toBe(3 + 3 + countTokens("count me [[mock:prompt_tokens=77]]"));
    for (let i = 0; i < 3; i++) expect((await t.post("/v1/messages/count_tokens", t.keyHeaders("anthropic", "requestBudget"), body)).statusCode).toBe(200);
    expect(t.sink.records).toHaveLength(0);
    const noKey = await t.post("/v1/messages/count_tokens", {}, body);
    expect([noKey.statusCode, noKey.json().error.type]).toEqual([401, "authentication_error"]);
    const denied = await t.post("/v1/messages/count_tokens", t.keyHeaders("anthropic", "denyGpt4o"), { ...body, model: "gpt-4o" });
    expect([denied.statusCode, denied.json().error.type]).toEqual([403, "permission_error"]);
  });

  it("Gemini countTokens: the upstream's totalTokens for Google accounts", async () => {
    const res = await t.post(`/v1beta/models/${MODEL_OF.google}:countTokens`, t.keyHeaders("google", "active"), chatBody("google", "", "n [[mock:prompt_tokens=31]]"));
    expect(res.json()).toEqual({ totalTokens: 31 });
    expect((mock.requests().at(-1)!.body as { generateContentRequest: { model: string } }).generateContentRequest.model).toBe("models/gemini-2.0-flash");
    const wrapped = await t.post(`/v1beta/models/${MODEL_OF.google}:countTokens`, t.keyHeaders("google", "active"), {
      generateContentRequest: { model: "models/gemini-flash", ...chatBody("google", "", "w [[mock:prompt_tokens=12]]") },
    });
    expect(wrapped.json()).toEqual({ totalTokens: 12 });
    expect((mock.requests().at(-1)!.body as { generateContentRequest: { model: string } }).generateContentRequest.model).toBe("models/gemini-2.0-flash");
  });

  it("Gemini embedContent and batchEmbedContents on Google and OpenAI-style accounts, billed", async () => {
    const one = await t.post("/v1beta/models/gemini-embed:embedContent", t.keyHeaders("google", "active"), { content: { parts: [{ text: "embed me" }] } });
    expect(one.statusCode, one.body).toBe(200);
    expect(Array.isArray(one.json().embedding.values)).toBe(true);
    expect(mock.requests().at(-1)!.path).toBe("/v1beta/models/text-embedding-004:batchEmbedContents");
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.SUCCESS, usageSource: UsageSource.COUNTED, inputTokens: countTokens("embed me"), outputTokens: 0 });
    const batch = { requests: ["a", "b c"].map((text) => ({ model: "models/embed-small", content: { parts: [{ text }] } })) };
    const many = await t.post("/v1beta/models/embed-small:batchEmbedContents", t.keyHeaders("google", "active"), batch);
    expect(many.statusCode, many.body).toBe(200);
    expect(many.json().embeddings).toHaveLength(2);
    expect(mock.requests().at(-1)).toMatchObject({ path: "/v1/embeddings", body: { model: "text-embedding-3-small", input: ["a", "b c"] } });
    expect(t.sink.records.at(-1)).toMatchObject({ usageSource: UsageSource.PROVIDER, outputTokens: 0 });
    const claude = await t.post(`/v1beta/models/${MODEL_OF.anthropic}:embedContent`, t.keyHeaders("google", "active"), { content: { parts: [{ text: "x" }] } });
    expect([claude.statusCode, claude.json().error.status]).toEqual([400, "INVALID_ARGUMENT"]);
  });
});
