import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MODEL_OF, buildProtocolTestApp, chatBody, chatUrl, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** Every inbound path that calls an upstream, with a body that reaches each kind of account. */
const PATHS: readonly (readonly [string, string, "openai" | "anthropic" | "google", unknown, boolean])[] = [
  ["OpenAI chat (OpenAI account)", "/v1/chat/completions", "openai", chatBody("openai", MODEL_OF.openai, "x"), true],
  ["OpenAI chat (Azure account)", "/v1/chat/completions", "openai", chatBody("openai", "azure-4o", "x"), true],
  ["Anthropic messages (Anthropic account)", "/v1/messages", "anthropic", chatBody("anthropic", MODEL_OF.anthropic, "x"), true],
  ["Gemini generateContent (Google account)", `/v1beta/models/${MODEL_OF.google}:generateContent`, "google", chatBody("google", "", "x"), true],
  ["OpenAI Responses (Google account)", "/v1/responses", "openai", { model: MODEL_OF.google, input: "x" }, true],
  ["OpenAI embeddings (OpenAI account)", "/v1/embeddings", "openai", { model: "embed-small", input: "x" }, true],
  ["OpenAI embeddings (Google account)", "/v1/embeddings", "openai", { model: "gemini-embed", input: "x" }, true],
  ["Gemini embedContent (Google account)", "/v1beta/models/gemini-embed:embedContent", "google", { content: { parts: [{ text: "x" }] } }, true],
  ["Anthropic count_tokens (Anthropic account)", "/v1/messages/count_tokens", "anthropic", { model: MODEL_OF.anthropic, messages: [{ role: "user", content: "x" }] }, false],
];

/** Streaming paths: the client's URL and body per inbound protocol, and the output its admission holds. */
const STREAMS: readonly (readonly [string, string, unknown, number])[] = [
  ["OpenAI chat", chatUrl("openai", MODEL_OF.openai, true), chatBody("openai", MODEL_OF.openai, "x", true), 4096],
  ["Anthropic messages from a Google account", chatUrl("anthropic", MODEL_OF.google, true), chatBody("anthropic", MODEL_OF.google, "x", true), 100],
  ["Gemini streamGenerateContent", chatUrl("google", MODEL_OF.google, true), chatBody("google", "", "x"), 4096],
  ["OpenAI Responses from an Anthropic account", "/v1/responses", { model: MODEL_OF.anthropic, input: "x", stream: true }, 4096],
];

describe("upstream timeouts on every protocol path", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let shortTotal: UpstreamClient;
  let t: ProtocolTestApp;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 20 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 300, idleMs: 300, totalMs: 10_000 });
    shortTotal = createUpstreamClient({ connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, totalMs: 600 });
  });
  afterAll(async () => {
    await t?.app.close();
    await Promise.all([upstream.close(), shortTotal.close()]);
    await mock.close();
  });
  beforeEach(async () => {
    await t?.app.close();
    mock.reset();
    t = buildProtocolTestApp(mock.url, upstream.send, mock.url);
  });

  it.each(PATHS)("first byte: %s answers 504 when the upstream never answers, and bills the prompt the provider received", async (_label, url, protocol, body, billable) => {
    mock.setFault({ hang: true });
    const started = Date.now();
    const res = await t.post(url, t.keyHeaders(protocol, "active"), body);
    expect(res.statusCode, res.body).toBe(504);
    expect(Date.now() - started).toBeLessThan(5_000);
    if (protocol === "openai") expect(res.json().error.code).toBe("upstream_timeout");
    if (protocol === "google") expect(res.json().error.status).toBe("DEADLINE_EXCEEDED");
    if (billable) {
      const record = t.sink.records.at(-1)!;
      expect(record).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, errorCode: "upstream_timeout", usageSource: UsageSource.COUNTED, outputTokens: 0, attempts: 1 });
      expect(record.inputTokens).toBeGreaterThan(0);
      expect(record.costMicros).toBeGreaterThan(0n);
    }
    expect(t.ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });

  it.each(STREAMS)("idle between chunks: %s ends with a timeout error event and bills what was counted", async (_label, url, body) => {
    mock.setFault({ chunkDelayMs: 700 });
    const protocol = url.startsWith("/v1beta") ? "google" : url === "/v1/messages" ? "anthropic" : "openai";
    const started = Date.now();
    const res = await t.post(url, t.keyHeaders(protocol, "active"), body);
    expect(res.statusCode).toBe(200);
    // 300 ms of silence ends it (the whole stream would take 20 x 700 ms; the total limit is 10 s).
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(res.body).toContain("the upstream provider timed out");
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, errorCode: "upstream_timeout", status: 504 });
    expect(t.sink.records.at(-1)!.inputTokens).toBeGreaterThan(0);
  });

  it.each(STREAMS)("total: %s is cut when the whole exchange outlasts the total timeout, and bills the output it held", async (_label, url, body, held) => {
    await t.app.close();
    t = buildProtocolTestApp(mock.url, shortTotal.send, mock.url);
    mock.setFault({ chunkDelayMs: 150 });
    const protocol = url.startsWith("/v1beta") ? "google" : url === "/v1/messages" ? "anthropic" : "openai";
    const started = Date.now();
    const res = await t.post(url, t.keyHeaders(protocol, "active"), body);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(res.body).toContain("the upstream provider timed out");
    const record = t.sink.records.at(-1)!;
    expect(record).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, errorCode: "upstream_timeout" });
    // Not the few tokens of text received: hidden tokens are unknown, so an answer that did not complete bills its hold.
    expect(record.outputTokens).toBe(held);
  });
});
