import { countTokens, estimateInputTokensUpperBound, isParseError, parseOpenAIChatRequest } from "@tollgate/providers";
import { describe, expect, it } from "vitest";
import { COMPLETION_WORD, buildChatCompletion, buildStreamEvents, buildUsage, countPromptTokens, findResetIndex, planChat } from "./chat-completion.js";
import { NO_DIRECTIVES, parseDirectives } from "./directives.js";

const ctx = { id: "chatcmpl-mock1", created: 1_750_000_000, defaultCompletionTokens: 20 };

describe("the completion word", () => {
  it("is exactly one o200k_base token each, however many are repeated", () => {
    for (const n of [1, 2, 3, 7, 20, 100, 1000]) expect(countTokens(COMPLETION_WORD.repeat(n))).toBe(n);
  });
});

describe("countPromptTokens", () => {
  const conversations: unknown[][] = [
    [{ role: "user", content: "hi" }],
    [
      { role: "system", content: "Tu es un assistant concis. 東京 🌸" },
      {
        role: "user",
        content: [
          { type: "text", text: "Décris cette image" },
          { type: "image_url", image_url: { url: "https://x/y.png" } },
        ],
      },
      { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c", content: "x".repeat(5000) },
    ],
    [{ role: "user", content: "" }],
  ];

  it("is ceil(bytes/4) + 3 per message", () => {
    expect(countPromptTokens([{ role: "user", content: "héllo" }])).toBe(Math.ceil(6 / 4) + 3);
  });

  it("never exceeds the providers' sound upper bound", () => {
    for (const messages of conversations) {
      const req = parseOpenAIChatRequest({ model: "m", messages });
      if (isParseError(req)) throw new Error(req.error);
      expect(countPromptTokens(messages)).toBeLessThanOrEqual(estimateInputTokensUpperBound(req));
    }
  });
});

describe("parseDirectives", () => {
  it("reads every directive and ignores unknown ones", () => {
    const d = parseDirectives([
      "a [[mock:completion_tokens=7]] b [[mock:prompt_tokens=123]]",
      "[[mock:cached_tokens=5]][[mock:cache_write_tokens=9]][[mock:cache_write_1h_tokens=4]][[mock:status=429]][[mock:latency_ms=200]][[mock:hang]][[mock:reset_after=3]][[mock:nope=1]][[mock:chunk_delay_ms=40]][[mock:echo_key=401]][[mock:reasoning_tokens=64]]",
    ]);
    expect(d).toEqual({
      completionTokens: 7,
      promptTokens: 123,
      cachedTokens: 5,
      cacheWriteTokens: 9,
      cacheWrite1hTokens: 4,
      reasoningTokens: 64,
      status: 429,
      latencyMs: 200,
      hang: true,
      resetAfter: 3,
      chunkDelayMs: 40,
      echoKey: 401,
    });
    expect(parseDirectives(["[[mock:echo_key=700]]"]).echoKey).toBeNull();
    expect(parseDirectives(["plain text"])).toBe(NO_DIRECTIVES);
    expect(parseDirectives(["[[mock:status=99]]"]).status).toBeNull();
  });
});

describe("planChat and the response shapes", () => {
  const messages = [{ role: "user", content: "hello there" }];

  it("caps at max_completion_tokens ?? max_tokens with finish_reason length", () => {
    expect(planChat({ max_tokens: 5 }, messages, NO_DIRECTIVES, ctx)).toMatchObject({ completionTokens: 5, finishReason: "length" });
    expect(planChat({ max_tokens: 50, max_completion_tokens: 3 }, messages, NO_DIRECTIVES, ctx)).toMatchObject({ completionTokens: 3 });
    expect(planChat({ max_tokens: 20 }, messages, NO_DIRECTIVES, ctx)).toMatchObject({ completionTokens: 20, finishReason: "stop" });
    expect(planChat({}, messages, { ...NO_DIRECTIVES, completionTokens: 7 }, ctx)).toMatchObject({ completionTokens: 7, finishReason: "stop" });
  });

  it("bills hidden reasoning tokens in the usage, never in the text, within the output limit", () => {
    const plan = planChat({ max_completion_tokens: 50 }, messages, { ...NO_DIRECTIVES, completionTokens: 10, reasoningTokens: 100 }, ctx);
    expect(plan).toMatchObject({ completionTokens: 10, reasoningTokens: 40 });
    expect(buildUsage(plan)).toMatchObject({ completion_tokens: 50, completion_tokens_details: { reasoning_tokens: 40 } });
    expect(buildChatCompletion(plan)).toMatchObject({ choices: [{ message: { content: " tok".repeat(10) } }] });
  });

  it("builds a non-stream completion whose usage matches its text", () => {
    const plan = planChat({ model: "gpt-4o-mini", n: 2 }, messages, { ...NO_DIRECTIVES, completionTokens: 4, cachedTokens: 2 }, ctx);
    const body = buildChatCompletion(plan);
    expect(body).toMatchObject({ id: "chatcmpl-mock1", object: "chat.completion", model: "gpt-4o-mini" });
    expect(body["usage"]).toMatchObject({ prompt_tokens: 3 + 3, completion_tokens: 8, total_tokens: 14, prompt_tokens_details: { cached_tokens: 2 } });
    expect(body["choices"]).toHaveLength(2);
  });

  it("streams role, one chunk per token, finish, usage with choices [], then [DONE]", () => {
    const plan = planChat({ model: "m", stream: true, stream_options: { include_usage: true } }, messages, { ...NO_DIRECTIVES, completionTokens: 3 }, ctx);
    const events = buildStreamEvents(plan);
    expect(events.map((e) => e.isContent)).toEqual([false, true, true, true, false, false, false]);
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e.data.slice("data: ".length)) as Record<string, unknown>);
    expect(parsed.every((c) => c["object"] === "chat.completion.chunk")).toBe(true);
    expect(parsed.slice(0, 5).every((c) => c["usage"] === null)).toBe(true);
    expect(parsed[5]).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
    expect(events.at(-1)?.data).toBe("data: [DONE]\n\n");
    const noUsage = buildStreamEvents({ ...plan, includeUsage: false });
    expect(noUsage).toHaveLength(6);
    expect(noUsage.some((e) => e.data.includes('"usage"'))).toBe(false);
    expect(findResetIndex(events, 2)).toBe(2);
    expect(findResetIndex(events, 0)).toBe(0);
    expect(findResetIndex(events, 99)).toBe(3);
    expect(findResetIndex(events, null)).toBe(-1);
  });
});
