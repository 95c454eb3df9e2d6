import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const API_KEY = "sk-ant-mock-test";
let mock: MockProvider;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockProvider({ apiKey: API_KEY });
  client = new Anthropic({ baseURL: mock.url, apiKey: API_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

const ask = (content: string) => [{ role: "user" as const, content }];

describe("mock provider through the official @anthropic-ai/sdk client", () => {
  it("answers a message with the same token rules as the OpenAI routes, system counted as a message", async () => {
    const res = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, system: "Be brief.", messages: ask("Say hello") });
    expect(res.id).toBe("msg_mock1");
    expect(res.content).toEqual([{ type: "text", text: " tok".repeat(20) }]);
    expect(res.stop_reason).toBe("end_turn");
    expect(res.usage).toMatchObject({ input_tokens: Math.ceil((9 + 9) / 4) + 3 * 2, output_tokens: 20, cache_read_input_tokens: 0 });
    const [recorded] = mock.requests();
    expect(recorded).toMatchObject({ method: "POST", path: "/v1/messages", body: { model: "claude-sonnet-4-5", max_tokens: 100 } });
  });

  it("accepts both x-api-key (SDK 0.x) and Bearer (SDK 1.x) and rejects a wrong key with authentication_error", async () => {
    await client.messages.create({ model: "m", max_tokens: 5, messages: ask("x") });
    const headers = mock.requests()[0]?.headers ?? {};
    expect(headers["x-api-key"] === API_KEY || headers.authorization === `Bearer ${API_KEY}`).toBe(true);
    const viaHeader = await fetch(`${mock.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": API_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", max_tokens: 3, messages: ask("x") }),
    });
    expect(viaHeader.status).toBe(200);
    const wrong = new Anthropic({ baseURL: mock.url, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(wrong.messages.create({ model: "m", max_tokens: 5, messages: ask("x") })).rejects.toMatchObject({ status: 401, type: "authentication_error" });
  });

  it("streams named events the SDK accumulates, with usage, cached tokens and max_tokens", async () => {
    const stream = client.messages.stream({ model: "m", max_tokens: 3, messages: ask("[[mock:cached_tokens=2]] go") });
    const types: string[] = [];
    stream.on("streamEvent", (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: "text", text: " tok tok tok" }]);
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.usage).toMatchObject({ output_tokens: 3, cache_read_input_tokens: 2 });
    expect(final.usage.input_tokens + (final.usage.cache_read_input_tokens ?? 0)).toBe(Math.ceil(Buffer.byteLength("[[mock:cached_tokens=2]] go") / 4) + 3);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
  });

  it("raises the SDK's typed errors for scripted statuses and a missing max_tokens", async () => {
    await expect(client.messages.create({ model: "m", max_tokens: 5, messages: ask("[[mock:status=429]]") })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    await expect(client.messages.create({ model: "m", max_tokens: 5, messages: ask("[[mock:status=529]]") })).rejects.toMatchObject({ status: 529, type: "overloaded_error" });
    const raw = await fetch(`${mock.url}/v1/messages`, { method: "POST", headers: { "x-api-key": API_KEY }, body: JSON.stringify({ model: "m", messages: ask("x") }) });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } });
  });

  it("resets a stream after N text deltas, which the SDK sees as an error", async () => {
    const stream = client.messages.stream({ model: "m", max_tokens: 50, messages: ask("[[mock:reset_after=2]]") });
    let text = "";
    stream.on("text", (t) => (text += t));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(text).toBe(" tok tok");
  });

  it("counts tokens", async () => {
    const res = await client.messages.countTokens({ model: "m", system: "Be brief.", messages: ask("Say hello") });
    expect(res.input_tokens).toBe(Math.ceil(18 / 4) + 6);
  });
});
