import type { AddressInfo } from "node:net";
import { EMBEDDING_DIMENSIONS, startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { countTokens } from "@tollgate/providers";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PROVIDER_API_KEY } from "./policy.fixture.js";
import { MODEL_OF, buildProtocolTestApp, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** Every kind of upstream account in the fixture, by public model. */
const UPSTREAMS = [
  ["OpenAI", MODEL_OF.openai],
  ["Anthropic", MODEL_OF.anthropic],
  ["Google", MODEL_OF.google],
  ["Azure OpenAI", "azure-4o"],
] as const;

describe("the official openai client: Responses API, Azure upstreams, embeddings on Gemini", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: ProtocolTestApp;
  let client: OpenAI;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 6, apiKey: PROVIDER_API_KEY });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 3_000, idleMs: 3_000, totalMs: 15_000 });
    t = buildProtocolTestApp(mock.url, upstream.send, mock.url);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (t.app.server.address() as AddressInfo).port;
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: t.fixture.secrets.active, maxRetries: 0 });
  });
  afterAll(async () => {
    await t?.app.close();
    await upstream.close();
    await mock.close();
  });
  beforeEach(() => mock.reset());

  it.each(UPSTREAMS)("responses.create (JSON) through a %s account", async (_kind, model) => {
    const res = await client.responses.create({ model, input: "hello there [[mock:completion_tokens=4]]", instructions: "Be brief.", max_output_tokens: 50 });
    expect(res.status).toBe("completed");
    expect(res.model).toBe(model);
    expect(res.output_text).toBe(" tok".repeat(4));
    expect(res.usage).toMatchObject({ output_tokens: 4, input_tokens_details: { cached_tokens: 0 } });
    const record = t.sink.records.at(-1)!;
    expect(record).toMatchObject({ route: "/v1/responses", model, outcome: Outcome.SUCCESS, usageSource: UsageSource.PROVIDER, outputTokens: 4, attempts: 1 });
    expect(record.inputTokens).toBe(res.usage!.input_tokens);
    const sent = mock.requests().at(-1)!;
    expect(JSON.stringify(sent.body)).toContain("Be brief.");
    expect(JSON.stringify(sent.body)).toContain("hello there");
    expect(JSON.stringify(sent.body)).toMatch(/"(max_tokens|maxOutputTokens)":50/);
  });

  it.each(UPSTREAMS)("responses.create (stream) through a %s account: created, text deltas, completed with usage", async (_kind, model) => {
    const stream = await client.responses.create({
      model,
      input: [{ role: "user", content: [{ type: "input_text", text: "stream it [[mock:completion_tokens=5]] [[mock:cached_tokens=2]]" }] }],
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") usage = event.response.usage;
    }
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.output_item.done");
    expect(text).toBe(" tok".repeat(5));
    expect(usage).toMatchObject({ output_tokens: 5, input_tokens_details: { cached_tokens: 2 } });
    expect(t.sink.records.at(-1)).toMatchObject({ route: "/v1/responses", stream: true, outcome: Outcome.SUCCESS, usageSource: UsageSource.PROVIDER, outputTokens: 5, cachedInputTokens: 2 });
  });

  it("carries function tools and tool results to the upstream in its own shape", async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: "function", name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false },
    ];
    const input: OpenAI.Responses.ResponseInput = [
      { role: "user", content: "weather in Paris?" },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "call_1", output: "15C" },
    ];
    await client.responses.create({ model: MODEL_OF.anthropic, input, tools });
    expect(mock.requests().at(-1)!.body).toMatchObject({
      tools: [{ name: "get_weather", input_schema: { type: "object" } }],
      messages: [
        { role: "user" },
        { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1" }] },
      ],
    });
    await client.responses.create({ model: MODEL_OF.google, input, tools });
    expect(mock.requests().at(-1)!.body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: "get_weather" }] }],
      contents: [
        { role: "user" },
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather" } }] },
      ],
    });
  });

  it("refuses in OpenAI's shape: the SDK raises its typed errors", async () => {
    await expect(client.responses.create({ model: "nope", input: "x" })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.create({ model: MODEL_OF.openai, input: "x", previous_response_id: "resp_1" })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const denied = new OpenAI({ baseURL: client.baseURL, apiKey: t.fixture.secrets.denyGpt4o, maxRetries: 0 });
    await expect(denied.responses.create({ model: "gpt-4o", input: "x" })).rejects.toMatchObject({ status: 403, code: "model_not_allowed" });
  });

  it("Azure OpenAI account: deployment path, api-version and api-key upstream, chat JSON and stream", async () => {
    const res = await client.chat.completions.create({ model: "azure-4o", messages: [{ role: "user", content: "hi [[mock:completion_tokens=3]]" }] });
    expect(res.choices[0]?.message.content).toBe(" tok".repeat(3));
    const sent = mock.requests().at(-1)!;
    expect(sent.path).toBe("/openai/deployments/my-4o-deployment/chat/completions?api-version=2024-10-21");
    expect(sent.headers["api-key"]).toBe(PROVIDER_API_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    const stream = await client.chat.completions.create({ model: "azure-4o", messages: [{ role: "user", content: "hi [[mock:completion_tokens=3]]" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(" tok".repeat(3));
    expect(t.sink.records.at(-1)).toMatchObject({ providerAccountId: "pa_4", upstreamModel: "my-4o-deployment", usageSource: UsageSource.PROVIDER, outputTokens: 3 });
  });

  it("embeddings.create on a Gemini account: batchEmbedContents upstream, vectors in OpenAI's shape (base64 and float), counted usage", async () => {
    const res = await client.embeddings.create({ model: "gemini-embed", input: ["first text", "second"] });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]!.embedding).toHaveLength(EMBEDDING_DIMENSIONS);
    const floats = await client.embeddings.create({ model: "gemini-embed", input: "first text", encoding_format: "float" });
    expect(floats.data[0]!.embedding[0]).toBeCloseTo(res.data[0]!.embedding[0]!, 5);
    const sent = mock.requests().at(-1)!;
    expect(sent.path).toBe("/v1beta/models/text-embedding-004:batchEmbedContents");
    expect(sent.body).toEqual({ requests: [{ model: "models/text-embedding-004", content: { parts: [{ text: "first text" }] } }] });
    expect(floats.usage.prompt_tokens).toBe(countTokens("first text"));
    expect(t.sink.records.at(-1)).toMatchObject({ route: "/v1/embeddings", providerAccountId: "pa_3", usageSource: UsageSource.COUNTED, inputTokens: countTokens("first text"), outputTokens: 0 });
    await expect(client.embeddings.create({ model: "gemini-embed", input: [[1, 2, 3]] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
