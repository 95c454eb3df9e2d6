import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EMBEDDING_DIMENSIONS } from "./embeddings.js";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const API_KEY = "sk-mock-test";
let mock: MockProvider;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockProvider({ apiKey: API_KEY, now: () => 1_750_000_000_000 });
  client = new OpenAI({ baseURL: mock.baseUrl, apiKey: API_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

const ask = (content: string) => [{ role: "user" as const, content }];

describe("mock provider through the official openai client", () => {
  it("answers a non-stream completion deterministically and records the request", async () => {
    const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages: ask("Say hello") });
    expect(res.id).toBe("chatcmpl-mock1");
    expect(res.created).toBe(1_750_000_000);
    expect(res.choices[0]?.message.content).toBe(" tok".repeat(20));
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.usage).toMatchObject({ prompt_tokens: Math.ceil(9 / 4) + 3, completion_tokens: 20, total_tokens: 26 });
    const [recorded] = mock.requests();
    expect(recorded).toMatchObject({ method: "POST", path: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: ask("Say hello") } });
    expect(recorded?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it("streams with usage when asked", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: ask("[[mock:completion_tokens=5]] [[mock:cached_tokens=2]]"),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(" tok".repeat(5));
    expect(finish).toBe("stop");
    expect(usage).toMatchObject({ completion_tokens: 5, prompt_tokens_details: { cached_tokens: 2 } });
  });

  it("streams without usage when not asked, and caps at max_tokens with finish_reason length", async () => {
    const stream = await client.chat.completions.create({ model: "m", messages: ask("go"), stream: true, max_tokens: 3 });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(" tok tok tok");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("length");
    const capped = await client.chat.completions.create({ model: "m", messages: ask("go"), max_completion_tokens: 4 });
    expect(capped.usage?.completion_tokens).toBe(4);
    expect(capped.choices[0]?.finish_reason).toBe("length");
  });

  it("honours prompt_tokens and scripted error statuses", async () => {
    const res = await client.chat.completions.create({ model: "m", messages: ask("[[mock:prompt_tokens=123]]") });
    expect(res.usage?.prompt_tokens).toBe(123);
    await expect(client.chat.completions.create({ model: "m", messages: ask("[[mock:status=429]]") })).rejects.toMatchObject({
      status: 429,
      code: "rate_limit_exceeded",
    });
    await expect(client.chat.completions.create({ model: "m", messages: ask("[[mock:status=500]]") })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });

  it("rejects a wrong key with a 401 OpenAI error", async () => {
    const wrong = new OpenAI({ baseURL: mock.baseUrl, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
  });

  it("resets a stream after N content chunks, which the client sees as an error", async () => {
    const stream = await client.chat.completions.create({ model: "m", messages: ask("[[mock:reset_after=3]]"), stream: true, stream_options: { include_usage: true } });
    let text = "";
    const consume = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    };
    await expect(consume()).rejects.toThrow();
    expect(text).toBe(" tok tok tok");
  });

  it("applies latency and hangs until the client gives up", async () => {
    const started = Date.now();
    await client.chat.completions.create({ model: "m", messages: ask("[[mock:latency_ms=150]]") });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const controller = new AbortController();
    const pending = client.chat.completions.create({ model: "m", messages: ask("[[mock:hang]]") }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow();
    expect(mock.requests()).toHaveLength(2);
  });

  it("embeds deterministically as floats and as the client's default base64", async () => {
    const a = await client.embeddings.create({ model: "text-embedding-3-small", input: ["hello", "wörld"] });
    const b = await client.embeddings.create({ model: "text-embedding-3-small", input: "hello", encoding_format: "float" });
    expect(a.data).toHaveLength(2);
    expect(a.data[0]?.embedding).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(a.data[0]?.embedding).toEqual(b.data[0]?.embedding);
    expect(a.data[1]?.embedding).not.toEqual(a.data[0]?.embedding);
    expect(a.usage).toEqual({ prompt_tokens: Math.ceil(5 / 4) + Math.ceil(6 / 4), total_tokens: 4 });
  });

  it("lists models", async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain("gpt-4o-mini");
  });
});

describe("mock provider options", () => {
  it("uses the configured default length, chunk delay and no auth", async () => {
    const open = await startMockProvider({ defaultCompletionTokens: 2, chunkDelayMs: 5 });
    try {
      const anyKey = new OpenAI({ baseURL: open.baseUrl, apiKey: "whatever", maxRetries: 0 });
      const stream = await anyKey.chat.completions.create({ model: "m", messages: ask("x"), stream: true });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe(" tok tok");
      expect(open.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(open.baseUrl).toBe(`${open.url}/v1`);
    } finally {
      await open.close();
    }
  });
});
