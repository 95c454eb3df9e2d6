import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BudgetLedger, DEFAULT_IMAGE_INPUT_TOKENS, RateLimiter, windowStartOf, type GrantShortfall, type RequestShape } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource, type UsageRecord } from "@tollgate/proto";
import { inboundToNeutral, isParseError, parseInboundChatRequest, parseOpenAIChatRequest, shapeChatRequest } from "@tollgate/providers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";
import { createMemorySink } from "./app.fixture.js";
import { shapeProtocolChat } from "./chat-counting.js";
import { silentLogger, waitFor } from "./grpc.fixture.js";
import { buildPolicyFixture, createFixtureGrantSource, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { MODEL_OF, buildProtocolTestApp, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";
import { openUsageSpool, WRITE_RETRY_MS } from "./usage-spool.js";

/** An OpenAI chat body with two images, a tool and a `response_format`: most of its prompt is not message text. */
function richBody(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const image = { type: "image_url", image_url: { url: `data:image/png;base64,${"iVBORw0KGgo".repeat(40)}` } };
  return {
    model: MODEL_OF.openai,
    stream: true,
    max_tokens: 40,
    messages: [
      { role: "system", content: "You describe pictures." },
      { role: "user", content: [{ type: "text", text }, image, image] },
    ],
    tools: [
      { type: "function", function: { name: "lookup_color", description: "Looks a color name up in the house palette.", parameters: { type: "object", properties: { hex: { type: "string" } } } } },
    ],
    response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { colors: { type: "array", items: { type: "string" } } } } } },
    ...extra,
  };
}

/** The prompt count the reservation of an OpenAI-to-OpenAI chat used. */
function reservedPrompt(body: Record<string, unknown>): number {
  const parsed = parseOpenAIChatRequest(body);
  if (isParseError(parsed)) throw new Error(parsed.error);
  return withImages(shapeChatRequest(parsed));
}

/** The reservation's prompt bound on an OpenAI account: text bound plus each image at the default image bound. */
function withImages(shape: RequestShape): number {
  return shape.inputTokensUpperBound + (shape.attachments?.images ?? 0) * DEFAULT_IMAGE_INPUT_TOKENS.OPENAI;
}

/** Waits for the request's record (a stream settles after the client's side ended). */
async function nextRecord(records: readonly UsageRecord[], count: number): Promise<UsageRecord> {
  await waitFor(() => records.length > count, 8_000);
  return records[count]!;
}

/** Streams `body` from the app at `url`, reads until `chunks` content deltas arrived, then leaves. */
async function leaveMidStream(url: string, headers: Record<string, string>, body: unknown, chunks: number): Promise<void> {
  const controller = new AbortController();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal: controller.signal });
  const reader = res.body!.getReader();
  let seen = "";
  while ((seen.match(/" tok"/g) ?? []).length < chunks) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended before the client left");
    seen += Buffer.from(value).toString("utf8");
  }
  controller.abort();
}

describe("billing cut, abandoned and late requests; usage that cannot be spooled", () => {
  let mock: MockProvider;
  let slow: MockProvider;
  let patient: UpstreamClient;
  let brief: UpstreamClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [mock, slow] = await Promise.all([startMockProvider({ defaultCompletionTokens: 5 }), startMockProvider({ defaultCompletionTokens: 60, chunkDelayMs: 40 })]);
    patient = createUpstreamClient({ connectMs: 1_000, firstByteMs: 3_000, idleMs: 3_000, totalMs: 20_000 });
    brief = createUpstreamClient({ connectMs: 1_000, firstByteMs: 3_000, idleMs: 3_000, totalMs: 20_000, usageGraceMs: 200 });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    mock.reset();
    slow.reset();
  });
  afterAll(async () => {
    await Promise.all([patient.close(), brief.close()]);
    await Promise.all([mock.close(), slow.close()]);
  });

  const protocolApp = async (mockUrl: string, client: UpstreamClient, listen = false): Promise<{ t: ProtocolTestApp; url: string }> => {
    const t = buildProtocolTestApp(mockUrl, client.send);
    cleanups.push(() => t.app.close());
    if (!listen) return { t, url: "" };
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    return { t, url: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}` };
  };

  it("a cut OpenAI-to-OpenAI stream bills the prompt as the reservation counted it (images, tools, response_format) and the output it held", async () => {
    const { t } = await protocolApp(mock.url, patient);
    const body = richBody("what colors? [[mock:reset_after=2]]");
    const res = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('"code":"upstream_error"');
    const r = t.sink.records.at(-1)!;
    const prompt = reservedPrompt(body);
    expect(prompt).toBeGreaterThan(3_000); // two images and the declarations, not the 13 tokens of its text
    expect(r).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, inputTokens: prompt, outputTokens: 40 });
    // $1 per million tokens in and out: one micro-dollar a token.
    expect(r.costMicros).toBe(BigInt(prompt + 40));
  });

  it("a cut Anthropic-client stream to an OpenAI account bills the prompt the reservation counted for that upstream", async () => {
    const { t } = await protocolApp(mock.url, patient);
    const body = {
      model: MODEL_OF.openai,
      max_tokens: 30,
      stream: true,
      system: "Be brief.",
      tools: [{ name: "lookup_color", description: "Looks a color up.", input_schema: { type: "object", properties: { hex: { type: "string" } } } }],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "cut [[mock:reset_after=1]]" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo" } },
          ],
        },
      ],
    };
    const res = await t.post("/v1/messages", t.keyHeaders("anthropic", "active"), body);
    expect(res.statusCode).toBe(200);
    const inbound = parseInboundChatRequest("anthropic", body, {});
    if ("error" in inbound) throw new Error(inbound.error);
    const neutral = inboundToNeutral(inbound);
    if ("error" in neutral) throw new Error(neutral.error);
    const prompt = withImages(shapeProtocolChat(inbound, neutral, ["openai"]));
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, inputTokens: prompt, outputTokens: 30 });
  });

  it("a cut Anthropic stream keeps the provider's cached split from its start (cache reads at their price, not the full input price)", async () => {
    const { t } = await protocolApp(mock.url, patient);
    const body = { model: MODEL_OF.anthropic, max_tokens: 100, stream: true, messages: [{ role: "user", content: "cut [[mock:reset_after=2]] [[mock:prompt_tokens=100]] [[mock:cached_tokens=40]]" }] };
    const res = await t.post("/v1/messages", t.keyHeaders("anthropic", "active"), body);
    expect(res.statusCode).toBe(200);
    const r = t.sink.records.at(-1)!;
    expect(r).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, inputTokens: 100, cachedInputTokens: 40, outputTokens: 100 });
    // $1 input, $0.50 cached, $2 output per million: 60 + 20 + 200 micro-dollars.
    expect(r.costMicros).toBe(280n);
  });

  it("a client that leaves mid-stream: the upstream is read on for its usage, hidden reasoning tokens included", async () => {
    const { t, url } = await protocolApp(slow.url, patient, true);
    const body = {
      model: MODEL_OF.openai,
      stream: true,
      max_completion_tokens: 1_000,
      messages: [{ role: "user", content: "think hard [[mock:completion_tokens=20]] [[mock:reasoning_tokens=300]] [[mock:prompt_tokens=77]]" }],
    };
    await leaveMidStream(`${url}/v1/chat/completions`, t.keyHeaders("openai", "active"), body, 2);
    const r = await nextRecord(t.sink.records, 0);
    expect(r).toMatchObject({ outcome: Outcome.CLIENT_ABORTED, usageSource: UsageSource.PROVIDER, inputTokens: 77, outputTokens: 320 });
    expect(r.costMicros).toBe(BigInt(77 + 320));
  });

  it("a client that leaves mid-stream of an upstream that outlasts the usage grace: billed the held output, not the text it saw", async () => {
    const { t, url } = await protocolApp(slow.url, brief, true);
    const body = richBody("slow [[mock:reasoning_tokens=50]]", { max_tokens: 200 });
    const started = Date.now();
    await leaveMidStream(`${url}/v1/chat/completions`, t.keyHeaders("openai", "active"), body, 2);
    const r = await nextRecord(t.sink.records, 0);
    expect(Date.now() - started).toBeLessThan(2_000); // 60 chunks at 40 ms would take 2.4 s: the grace of 200 ms cut it
    expect(r).toMatchObject({ outcome: Outcome.CLIENT_ABORTED, usageSource: UsageSource.COUNTED, inputTokens: reservedPrompt(body), outputTokens: 200 });
  });

  it("a client that leaves while the provider works on its request (no answer yet) is billed the prompt the provider got", async () => {
    const { t, url } = await protocolApp(mock.url, patient, true);
    const body = { model: MODEL_OF.openai, max_tokens: 30, messages: [{ role: "user", content: "take long [[mock:hang]]" }] };
    const controller = new AbortController();
    const call = fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...t.keyHeaders("openai", "active") },
      body: JSON.stringify(body),
      signal: controller.signal,
    }).catch(() => null);
    await waitFor(() => mock.requests().length === 1, 5_000);
    controller.abort();
    await call;
    const r = await nextRecord(t.sink.records, 0);
    const prompt = reservedPrompt(body);
    expect(r).toMatchObject({ outcome: Outcome.CLIENT_ABORTED, usageSource: UsageSource.COUNTED, inputTokens: prompt, outputTokens: 0, attempts: 1 });
    expect(r.costMicros).toBe(BigInt(prompt));
    expect(t.ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });

  it("a request whose grant is answered after midnight is decided again in the new window (not refused until tomorrow)", async () => {
    const midnight = Date.UTC(2030, 0, 16);
    let clock = midnight - 50;
    const now = (): number => clock;
    const fixture = buildPolicyFixture(mock.baseUrl);
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const ledger = new BudgetLedger();
    const fixtureGrants = createFixtureGrantSource(ledger, store, now);
    const asked: GrantShortfall[][] = [];
    const grants = {
      reachable: () => true,
      acquire: async (shortfalls: readonly GrantShortfall[]): Promise<boolean> => {
        asked.push([...shortfalls]);
        clock = midnight + 10; // the grant's answer arrives after midnight
        return fixtureGrants.acquire(shortfalls);
      },
    };
    const sink = createMemorySink();
    const app = buildApp({ nodeId: "n", bootId: "b", store, ledger, limiter: new RateLimiter(), grants, usage: sink, upstream: patient.send, logger: silentLogger, now, bodyLimitBytes: 64 * 1024 });
    cleanups.push(() => app.close());
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: `Bearer ${fixture.secrets.usdBudget}` },
      payload: JSON.stringify({ model: "gpt-4o-mini", max_tokens: 10, messages: [{ role: "user", content: "hello" }] }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(asked.map((s) => s.map((x) => x.windowStart))).toEqual([[windowStartOf("DAY", midnight - 50)], [midnight]]);
    expect(sink.records.at(-1)!.charges.map((c) => Number(c.windowStartMs))).toEqual([midnight]);
  });

  it("a failed spool write keeps the record, refuses billable requests 503 usage_unavailable before upstream, and serves again once written", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-billing-spool-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const spool = await openUsageSpool({ dir, maxBytes: 1_000_000, now: Date.now });
    cleanups.push(() => spool.close());
    const fixture = buildPolicyFixture(mock.baseUrl);
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const ledger = new BudgetLedger();
    const app = buildApp({
      nodeId: "n",
      bootId: "b",
      store,
      ledger,
      limiter: new RateLimiter(),
      grants: createFixtureGrantSource(ledger, store, Date.now),
      usage: spool,
      upstream: patient.send,
      logger: silentLogger,
      bodyLimitBytes: 64 * 1024,
    });
    cleanups.push(() => app.close());
    const chat = () =>
      app.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { "content-type": "application/json", authorization: `Bearer ${fixture.secrets.usdBudget}` },
        payload: JSON.stringify({ model: "gpt-4o-mini", max_tokens: 5, messages: [{ role: "user", content: "hello" }] }),
      });
    // The disk goes away under the spool.
    await rm(dir, { recursive: true, force: true });
    const first = await chat();
    expect(first.statusCode).toBe(200);
    expect(spool.unwrittenRecords).toBe(1);
    const spent = ledger.entries().reduce((s, e) => s + e.spent, 0n);
    expect(spent).toBeGreaterThan(0n);

    expect((await app.inject({ url: "/metrics" })).body).toMatch(/^tollgate_usage_spool_unwritten_records 1$/m);
    const refused = await chat();
    expect([refused.statusCode, refused.json().error.code]).toEqual([503, "usage_unavailable"]);
    expect(mock.requests()).toHaveLength(1); // refused before upstream
    // The spend whose record is unwritten stays spent in the node's ledger (never granted again).
    expect(ledger.entries().reduce((s, e) => s + e.spent, 0n)).toBe(spent);

    await mkdir(dir, { recursive: true });
    await waitFor(() => !spool.isFull(), WRITE_RETRY_MS * 3);
    const again = await chat();
    expect(again.statusCode).toBe(200);
    expect(mock.requests()).toHaveLength(2);
    await spool.roll();
    const written = (await Promise.all(spool.readySegments().map((id) => spool.readSegment(id)))).flat();
    expect(written).toHaveLength(2);
    expect(written[0]!.costMicros).toBeGreaterThan(0n);
  });
});
