import { ApiError, GoogleGenAI } from "@google/genai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EMBEDDING_DIMENSIONS } from "./embeddings.js";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const API_KEY = "AIza-mock-test";
let mock: MockProvider;
let ai: GoogleGenAI;

beforeAll(async () => {
  mock = await startMockProvider({ apiKey: API_KEY });
  ai = new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: mock.url } });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

describe("mock provider through the official @google/genai client", () => {
  it("answers generateContent with the shared token rules, system instruction counted as a message", async () => {
    const res = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Say hello", config: { systemInstruction: "Be brief." } });
    expect(res.text).toBe(" tok".repeat(20));
    expect(res.candidates?.[0]?.finishReason).toBe("STOP");
    expect(res.usageMetadata).toMatchObject({ promptTokenCount: Math.ceil(18 / 4) + 6, candidatesTokenCount: 20, totalTokenCount: Math.ceil(18 / 4) + 26 });
    const [recorded] = mock.requests();
    expect(recorded?.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(recorded?.headers["x-goog-api-key"]).toBe(API_KEY);
  });

  it("streams SSE chunks with usage in the last one, and honours maxOutputTokens", async () => {
    const stream = await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "[[mock:cached_tokens=3]] go", config: { maxOutputTokens: 4 } });
    let text = "";
    let last: Awaited<ReturnType<typeof ai.models.generateContent>> | undefined;
    for await (const chunk of stream) {
      text += chunk.text ?? "";
      last = chunk;
    }
    expect(text).toBe(" tok".repeat(4));
    expect(last?.candidates?.[0]?.finishReason).toBe("MAX_TOKENS");
    expect(last?.usageMetadata).toMatchObject({ candidatesTokenCount: 4, cachedContentTokenCount: 3 });
    expect(mock.requests()[0]?.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  });

  it("raises ApiError with the status for a wrong key and scripted errors", async () => {
    const wrong = new GoogleGenAI({ apiKey: "nope", httpOptions: { baseUrl: mock.url } });
    const err: unknown = await wrong.models.generateContent({ model: "g", contents: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 401 });
    expect((err as Error).message).toContain("UNAUTHENTICATED");
    await expect(ai.models.generateContent({ model: "g", contents: "[[mock:status=429]]" })).rejects.toMatchObject({ status: 429 });
  });

  it("accepts the key as ?key= and answers Google-shaped errors to fetch", async () => {
    const ok = await fetch(`${mock.url}/v1beta/models/g:generateContent?key=${API_KEY}`, { method: "POST", body: JSON.stringify({ contents: [{ parts: [{ text: "x" }] }] }) });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${mock.url}/v1beta/models/g:generateContent?key=${API_KEY}`, { method: "POST", body: JSON.stringify({ contents: [] }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    const array = await fetch(`${mock.url}/v1beta/models/g:streamGenerateContent?key=${API_KEY}`, {
      method: "POST",
      body: JSON.stringify({ contents: [{ parts: [{ text: "[[mock:completion_tokens=2]]" }] }] }),
    });
    const chunks = (await array.json()) as { candidates: { content: { parts: { text: string }[] } }[] }[];
    expect(chunks.map((c) => c.candidates[0]?.content.parts[0]?.text).join("")).toBe(" tok tok");
  });

  it("counts tokens and embeds (the SDK's embedContent calls batchEmbedContents)", async () => {
    const count = await ai.models.countTokens({ model: "g", contents: "Say hello" });
    expect(count.totalTokens).toBe(Math.ceil(9 / 4) + 3);
    const embed = await ai.models.embedContent({ model: "text-embedding-004", contents: ["hello", "wörld"] });
    expect(embed.embeddings).toHaveLength(2);
    expect(embed.embeddings?.[0]?.values).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(embed.embeddings?.[0]?.values).not.toEqual(embed.embeddings?.[1]?.values);
    expect(mock.requests().at(-1)?.path).toBe("/v1beta/models/text-embedding-004:batchEmbedContents");
    const single = await fetch(`${mock.url}/v1beta/models/e:embedContent`, {
      method: "POST",
      headers: { "x-goog-api-key": API_KEY },
      body: JSON.stringify({ content: { parts: [{ text: "hello" }] } }),
    });
    expect(((await single.json()) as { embedding: { values: number[] } }).embedding.values).toEqual(embed.embeddings?.[0]?.values);
  });
});
