import {
  CHAT_PROTOCOLS,
  anthropicAuthHeaders,
  anthropicMessagesUrl,
  createChatStreamParser,
  createSseSplitter,
  createStreamTranslator,
  estimateChatInputTokensUpperBound,
  googleAuthHeaders,
  googleGenerateUrl,
  openAIAuthHeaders,
  openAIChatUrl,
  parseChatResponse,
  translateRequest,
  translateResponse,
  type ChatProtocol,
  type RenderContext,
} from "@tollgate/providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAnthropicInput } from "./anthropic-message.js";
import { collectMessageTexts, countPromptTokensOf, type CompletionInput } from "./chat-completion.js";
import { readGeminiInput } from "./gemini-content.js";
import { startMockProvider, type MockProvider } from "./mock-provider.server.js";

const KEY = "k-test";
let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider({ apiKey: KEY });
});
afterAll(async () => {
  await mock.close();
});

const ctx: RenderContext = { requestId: "req_t", model: "public-model", nowMs: 1_750_000_000_000, includeUsage: true };
const PAIRS = CHAT_PROTOCOLS.flatMap((from) => CHAT_PROTOCOLS.map((to) => [from, to] as const));
const SYSTEM = "Tu es un assistant concis. 東京 🌸";
const PROMPT = "[[mock:completion_tokens=6]] Résume «ça marche» en une phrase, s'il te plaît.";

/** The same conversation in each inbound protocol. */
function inboundBody(p: ChatProtocol, stream: boolean): Record<string, unknown> {
  switch (p) {
    case "openai":
      return {
        model: "public-model",
        stream,
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: PROMPT },
        ],
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      };
    case "anthropic":
      return { model: "public-model", max_tokens: 64, stream, system: SYSTEM, messages: [{ role: "user", content: PROMPT }] };
    case "google":
      return { systemInstruction: { parts: [{ text: SYSTEM }] }, contents: [{ role: "user", parts: [{ text: PROMPT }] }] };
  }
}

/** The mock's own reading of an upstream body. */
function mockInput(p: ChatProtocol, body: Record<string, unknown>): CompletionInput {
  const input =
    p === "openai"
      ? { texts: collectMessageTexts(body["messages"] as unknown[]), messageCount: (body["messages"] as unknown[]).length }
      : p === "anthropic"
        ? readAnthropicInput(body, true)
        : readGeminiInput("m", body);
  if ("error" in input) throw new Error(input.error);
  return input as CompletionInput;
}

/** Calls the mock in protocol `to`. */
function callMock(to: ChatProtocol, body: Record<string, unknown>, stream: boolean): Promise<Response> {
  const [url, headers] =
    to === "openai"
      ? [openAIChatUrl(mock.baseUrl), openAIAuthHeaders(KEY)]
      : to === "anthropic"
        ? [anthropicMessagesUrl(mock.url), anthropicAuthHeaders(KEY)]
        : [googleGenerateUrl(mock.url, "gemini-x", stream), googleAuthHeaders(KEY)];
  return fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
}

describe("every inbound protocol against every upstream protocol, through the live mock", () => {
  it.each(PAIRS)("%s client -> %s upstream: text, stop reason and usage survive, and the bound covers the mock's count", async (from, to) => {
    for (const stream of [false, true]) {
      const t = translateRequest(from, to, inboundBody(from, stream), { model: "public-model", stream, upstreamModel: "up", maxOutputTokens: 50 });
      if ("error" in t) throw new Error(t.error);
      const input = mockInput(to, t.body);
      const counted = countPromptTokensOf(input.texts, input.messageCount);
      expect(t.neutral).not.toBeNull();
      if (t.neutral !== null) expect(estimateChatInputTokensUpperBound(t.neutral, to)).toBeGreaterThanOrEqual(counted);
      const res = await callMock(to, t.body, stream);
      expect(res.status).toBe(200);
      const expectedUsage = { inputTokens: counted, cachedInputTokens: 0, outputTokens: 6 };
      if (!stream) {
        const out = translateResponse(to, from, await res.json(), ctx);
        const back = parseChatResponse(from, out);
        expect(back?.parts).toEqual([{ type: "text", text: " tok".repeat(6) }]);
        expect(back?.stopReason).toBe("stop");
        expect(back?.usage).toEqual(expectedUsage);
        continue;
      }
      const translator = createStreamTranslator({ from: to, to: from, ctx });
      const bytes = Buffer.concat([translator.push(new Uint8Array(await res.arrayBuffer())), translator.end()]);
      expect(translator.usage()).toEqual(expectedUsage);
      expect(translator.completed).toBe(true);
      const splitter = createSseSplitter();
      const parser = createChatStreamParser(from);
      const events = [...splitter.push(bytes), ...splitter.end()].flatMap((e) => parser.parse(e));
      expect(events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("")).toBe(" tok".repeat(6));
      expect(events.filter((e) => e.type === "stop")).toEqual([{ type: "stop", reason: "stop" }]);
      expect(events.filter((e) => e.type === "usage").at(-1)).toEqual({ type: "usage", usage: expectedUsage });
    }
  });

  it("caps the output of a translated request (max_tokens on the wire, length as the stop reason)", async () => {
    const t = translateRequest("google", "anthropic", inboundBody("google", false), { model: "g", maxOutputTokens: 4 });
    if ("error" in t) throw new Error(t.error);
    expect(t.body["max_tokens"]).toBe(4);
    const out = translateResponse("anthropic", "google", await (await callMock("anthropic", t.body, false)).json(), ctx);
    expect(out).toMatchObject({ candidates: [{ finishReason: "MAX_TOKENS" }], usageMetadata: { candidatesTokenCount: 4 } });
  });
});
