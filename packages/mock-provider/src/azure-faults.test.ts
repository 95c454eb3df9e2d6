import { AzureOpenAI } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const API_KEY = "sk-mock-azure";
let mock: MockProvider;

beforeAll(async () => {
  mock = await startMockProvider({ apiKey: API_KEY, defaultCompletionTokens: 4 });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

const post = (path: string, body: unknown, headers: Record<string, string> = { "api-key": API_KEY }) =>
  fetch(`${mock.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("mock provider: Azure OpenAI deployments", () => {
  const azure = () => new AzureOpenAI({ endpoint: mock.url, apiKey: API_KEY, apiVersion: "2024-10-21", deployment: "my-4o", maxRetries: 0 });

  it("answers the official AzureOpenAI client (deployment path, api-version, api-key header), JSON and stream", async () => {
    const res = await azure().chat.completions.create({ model: "ignored", messages: [{ role: "user", content: "hi" }] });
    expect(res.choices[0]?.message.content).toBe(" tok".repeat(4));
    const seen = mock.requests().at(-1)!;
    expect(seen.path).toBe("/openai/deployments/my-4o/chat/completions?api-version=2024-10-21");
    expect(seen.headers["api-key"]).toBe(API_KEY);
    const stream = await azure().chat.completions.create({ model: "x", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    let completion = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      completion = chunk.usage?.completion_tokens ?? completion;
    }
    expect([text, completion]).toEqual([" tok".repeat(4), 4]);
    const emb = await azure().embeddings.create({ model: "emb", input: ["a", "b"] });
    expect(emb.data).toHaveLength(2);
  });

  it("refuses a Bearer token on a deployment path and a missing api-version", async () => {
    const bearer = await post("/openai/deployments/d/chat/completions?api-version=2024-10-21", { messages: [{ role: "user", content: "x" }] }, { authorization: `Bearer ${API_KEY}` });
    expect(bearer.status).toBe(401);
    const noVersion = await post("/openai/deployments/d/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect([noVersion.status, ((await noVersion.json()) as { error: { message: string } }).error.message]).toEqual([404, "Resource not found"]);
  });
});

describe("mock provider: chunk_delay_ms directive and scripted faults", () => {
  const chat = (content: string, stream = true) => post("/v1/chat/completions", { model: "m", stream, messages: [{ role: "user", content }] }, { authorization: `Bearer ${API_KEY}` });

  it("spaces stream chunks by [[mock:chunk_delay_ms=N]]", async () => {
    const started = Date.now();
    const res = await chat("slow [[mock:chunk_delay_ms=60]] [[mock:completion_tokens=3]]");
    const arrivals: number[] = [];
    const reader = res.body!.getReader();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      arrivals.push(Date.now() - started);
    }
    // role chunk, 3 content chunks, stop chunk, [DONE]: 5 gaps of about 60 ms.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(4 * 55);
    const fast = Date.now();
    await (await chat("[[mock:completion_tokens=3]]")).text();
    expect(Date.now() - fast).toBeLessThan(200);
  });

  it("scripts a status or a hang for every request until cleared, over the request's own directives", async () => {
    mock.setFault({ status: 503 });
    const failed = await chat("[[mock:status=200]]", false);
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { error: unknown }).error).toMatchObject({ type: expect.any(String) });
    mock.setFault({ hang: true });
    const hung = await Promise.race([chat("x", false).then(() => "answered"), new Promise((r) => setTimeout(() => r("hung"), 300))]);
    expect(hung).toBe("hung");
    mock.setFault(null);
    expect((await chat("x", false)).status).toBe(200);
  });
});
