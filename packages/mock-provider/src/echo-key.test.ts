import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const KEY = "sk-echo-test-0123456789abcdef";
let mock: MockProvider;

beforeAll(async () => {
  mock = await startMockProvider({ defaultCompletionTokens: 3 });
});
afterAll(async () => {
  await mock.close();
});

const post = (path: string, headers: Record<string, string>, body: unknown): Promise<Response> =>
  fetch(`${mock.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("[[mock:echo_key=N]]: a careless upstream that repeats the credential it received", () => {
  it.each([
    ["OpenAI Bearer", "/v1/chat/completions", { authorization: `Bearer ${KEY}` }, { model: "m", messages: [{ role: "user", content: "x [[mock:echo_key=400]]" }] }, 400],
    ["Azure api-key", "/openai/deployments/d/embeddings?api-version=2024-10-21", { "api-key": KEY }, { input: "x [[mock:echo_key=422]]" }, 422],
    ["Anthropic x-api-key", "/v1/messages", { "x-api-key": KEY }, { model: "m", max_tokens: 5, messages: [{ role: "user", content: "x [[mock:echo_key=403]]" }] }, 403],
    ["Gemini x-goog-api-key", "/v1beta/models/g:generateContent", { "x-goog-api-key": KEY }, { contents: [{ parts: [{ text: "x [[mock:echo_key=500]]" }] }] }, 500],
  ])("%s: answers the status with the key in the message and other fields", async (_name, path, headers, body, status) => {
    const res = await post(path, headers, body);
    expect(res.status).toBe(status);
    const text = await res.text();
    expect(text.split(KEY).length - 1).toBeGreaterThanOrEqual(2);
    expect(text).toContain(Buffer.from(`user:${KEY}`).toString("base64"));
    expect(text).toContain("Incorrect API key provided");
  });

  it("200 on a stream: one content event, then an error event echoing the key", async () => {
    const res = await post("/v1/messages", { authorization: `Bearer ${KEY}` }, { model: "m", max_tokens: 5, stream: true, messages: [{ role: "user", content: "x [[mock:echo_key=200]]" }] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("content_block_delta");
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"Incorrect API key provided: sk-echo/);
    expect(text).not.toContain("message_stop");
  });
});
