import { describe, expect, it } from "vitest";
import { countTokens } from "../token-count.js";
import { IMAGE_PART_TOKENS, isParseError, parseOpenAIChatRequest, type ParsedChatRequest } from "./chat-request.js";
import { estimateInputTokensUpperBound } from "./chat-input-bound.js";
import { estimateEmbeddingInputUpperBound, parseOpenAIEmbeddingsRequest } from "./embeddings-request.js";
import { countOpenAIChatPromptTokens } from "../prompt-count.js";

function parsed(body: unknown): ParsedChatRequest {
  const r = parseOpenAIChatRequest(body);
  if (isParseError(r)) throw new Error(r.error);
  return r;
}

const user = (content: unknown) => ({ role: "user", content });

describe("parseOpenAIChatRequest", () => {
  it.each([
    [null, "the request body must be a JSON object"],
    [[1], "the request body must be a JSON object"],
    [{ messages: [user("hi")] }, "'model' is required"],
    [{ model: 3, messages: [user("hi")] }, "'model' must be a non-empty string"],
    [{ model: "m" }, "'messages' is required"],
    [{ model: "m", messages: "hi" }, "'messages' must be an array"],
    [{ model: "m", messages: [] }, "'messages' must contain at least one message"],
    [{ model: "m", messages: ["hi"] }, "'messages[0]' must be an object"],
    [{ model: "m", messages: [user("a"), { content: "x" }] }, "'messages[1].role' is required"],
    [{ model: "m", messages: [{ role: "user" }] }, "'messages[0].content' is required"],
    [{ model: "m", messages: [user(42)] }, "'messages[0].content' must be a string or an array of content parts"],
    [{ model: "m", messages: [user([{ text: "x" }])] }, "'messages[0].content[0].type' is required"],
    [{ model: "m", messages: [user("a")], stream: "yes" }, "'stream' must be a boolean"],
    [{ model: "m", messages: [user("a")], max_tokens: 0 }, "'max_tokens' must be a positive integer"],
    [{ model: "m", messages: [user("a")], max_completion_tokens: 1.5 }, "'max_completion_tokens' must be a positive integer"],
    [{ model: "m", messages: [user("a")], n: -1 }, "'n' must be a positive integer"],
  ])("rejects %j with %s", (body, error) => {
    expect(parseOpenAIChatRequest(body)).toEqual({ error });
  });

  it("accepts an assistant tool-call message without content", () => {
    const r = parsed({
      model: "gpt-4o",
      messages: [
        user("weather?"),
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "w", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
      ],
    });
    expect(r.messages).toHaveLength(3);
  });

  it("reads stream, include_usage, n and the output limit field", () => {
    const body = { model: "gpt-4o-mini", messages: [user("hi")], stream: true, stream_options: { include_usage: true }, max_tokens: 50, n: 2 };
    const r = parsed(body);
    expect(r).toMatchObject({ model: "gpt-4o-mini", stream: true, includeUsage: true, requestedMaxOutputTokens: 50, maxTokensField: "max_tokens", n: 2 });
    expect(r.body).toBe(body);
    const both = parsed({ model: "m", messages: [user("x")], max_tokens: 50, max_completion_tokens: 70 });
    expect(both).toMatchObject({ requestedMaxOutputTokens: 70, maxTokensField: "max_completion_tokens", stream: false, includeUsage: false, n: 1 });
    expect(parsed({ model: "m", messages: [user("x")] })).toMatchObject({ requestedMaxOutputTokens: null, maxTokensField: null });
  });
});

/** Deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABETS = ["abc xyz", "日本語の文章です。", "🌸🚀👩‍👩‍👧 ", "مرحبا بالعالم", "e\u0301a\u0300", "{}[]();=>\n\t  ", "0123456789", "Привет мир"];

function randomText(next: () => number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) {
    const alphabet = ALPHABETS[Math.floor(next() * ALPHABETS.length)] ?? "a";
    const chars = [...alphabet];
    s += chars[Math.floor(next() * chars.length)] ?? "";
  }
  return s;
}

const SAMPLES = [
  "Hello, world! How are you today?",
  "東京は日本の首都です。大阪は西日本の中心です。",
  "🚀🌕 emoji soup 👩‍💻🧑🏽‍🚀 and flags 🇫🇷🇯🇵",
  "function fib(n: number): number {\n  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n}\n",
  "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY 1;",
  "a".repeat(20_000),
  " ".repeat(5_000) + "\n".repeat(300),
  "1234567890".repeat(500),
  "<|endoftext|> special tokens are plain text here <|im_start|>",
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(400),
];

/** Token count of a chat prompt the way OpenAI's cookbook counts it (3 per message, 1 per name, 3 priming). */
function cookbookCount(messages: ReadonlyArray<Record<string, string>>): number {
  let total = 3;
  for (const m of messages) {
    total += 3;
    for (const [k, v] of Object.entries(m)) total += countTokens(v) + (k === "name" ? 1 : 0);
  }
  return total;
}

describe("estimateInputTokensUpperBound", () => {
  it("never counts fewer tokens than o200k on varied text (unicode, code, long, random)", () => {
    const next = rng(42);
    const texts = [...SAMPLES];
    for (let i = 0; i < 200; i++) texts.push(randomText(next, 1 + Math.floor(next() * 400)));
    for (const text of texts) {
      expect(Buffer.byteLength(text, "utf8")).toBeGreaterThanOrEqual(countTokens(text));
      const messages: Array<Record<string, string>> = [
        { role: "system", content: "You are terse." },
        { role: "user", name: "alice", content: text },
      ];
      const bound = estimateInputTokensUpperBound(parsed({ model: "gpt-4o", messages }));
      expect(bound).toBeGreaterThanOrEqual(cookbookCount(messages));
    }
  });

  it("adds bytes of every string, 8 per message and 16 per request", () => {
    const r = parsed({ model: "m", messages: [{ role: "user", content: "héllo" }] });
    // "user" (4) + "héllo" (6 bytes) + 8 + 16
    expect(estimateInputTokensUpperBound(r)).toBe(4 + 6 + 8 + 16);
  });

  it("counts text parts, images, tool calls and tool declarations", () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const r = parsed({
      model: "m",
      tools,
      messages: [
        user([
          { type: "text", text: "what is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64," + "A".repeat(100_000) } },
        ]),
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      ],
    });
    const bound = estimateInputTokensUpperBound(r);
    const textBytes = "user".length + "text".length + "what is this?".length;
    const callBytes = "assistant".length + "call_1".length + "function".length + "get_weather".length + '{"city":"Paris"}'.length;
    expect(bound).toBe(16 + 8 * 2 + textBytes + IMAGE_PART_TOKENS + callBytes + Buffer.byteLength(JSON.stringify(tools)) + 32);
  });
});

describe("embeddings", () => {
  it("validates input shapes", () => {
    expect(parseOpenAIEmbeddingsRequest({ model: "e" })).toEqual({ error: "'input' is required" });
    expect(parseOpenAIEmbeddingsRequest({ input: "x" })).toEqual({ error: "'model' is required" });
    for (const bad of [[], [1, "a"], [[]], { a: 1 }, [-1]]) {
      expect(parseOpenAIEmbeddingsRequest({ model: "e", input: bad })).toHaveProperty("error");
    }
  });

  it("bounds strings by bytes and token arrays by length, never below o200k", () => {
    const r = parseOpenAIEmbeddingsRequest({ model: "e", input: [SAMPLES[1], SAMPLES[3]] });
    if ("error" in r) throw new Error(r.error);
    const bound = estimateEmbeddingInputUpperBound(r);
    expect(bound).toBe(Buffer.byteLength(SAMPLES[1] ?? "") + Buffer.byteLength(SAMPLES[3] ?? ""));
    expect(bound).toBeGreaterThanOrEqual(countTokens(SAMPLES[1] ?? "") + countTokens(SAMPLES[3] ?? ""));
    const tokens = parseOpenAIEmbeddingsRequest({ model: "e", input: [[1, 2, 3], [4]] });
    if ("error" in tokens) throw new Error(tokens.error);
    expect(estimateEmbeddingInputUpperBound(tokens)).toBe(4);
    const single = parseOpenAIEmbeddingsRequest({ model: "e", input: [5, 6] });
    if ("error" in single) throw new Error(single.error);
    expect(single.inputs).toEqual([[5, 6]]);
  });
});

describe("countOpenAIChatPromptTokens", () => {
  it("counts like the cookbook and stays within the upper bound", () => {
    const messages = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "東京 🌸 café" },
    ];
    const req = parsed({ model: "m", messages });
    const expected = 3 + (3 + countTokens("system") + countTokens("You are terse.")) + (3 + countTokens("user") + countTokens("東京 🌸 café"));
    expect(countOpenAIChatPromptTokens(req)).toBe(expected);
    for (const text of SAMPLES) {
      const r = parsed({
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text },
              { type: "image_url", image_url: { url: "u" } },
            ],
          },
        ],
        tools: [{ type: "function", function: { name: "f" } }],
      });
      expect(countOpenAIChatPromptTokens(r)).toBeLessThanOrEqual(estimateInputTokensUpperBound(r));
    }
  });
});
