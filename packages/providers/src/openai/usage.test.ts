import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { extractOpenAICompletionText, extractOpenAIUsage } from "./usage.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));

describe("extractOpenAIUsage", () => {
  it("reads a reasoning model's completion with cached input (reasoning already inside completion_tokens)", () => {
    expect(extractOpenAIUsage(fixture("chat-completion.json"))).toEqual({ inputTokens: 2048, cachedInputTokens: 1920, outputTokens: 331 });
  });

  it("reads embeddings usage with zero output", () => {
    expect(extractOpenAIUsage(fixture("embeddings-response.json"))).toEqual({ inputTokens: 9, cachedInputTokens: 0, outputTokens: 0 });
  });

  it("returns null without a usable usage object", () => {
    for (const body of [null, "x", {}, { usage: null }, { usage: { completion_tokens: 3 } }, { usage: { prompt_tokens: -1 } }, { usage: { prompt_tokens: 1.5 } }]) {
      expect(extractOpenAIUsage(body)).toBeNull();
    }
  });

  it("never reports more cached than input tokens", () => {
    expect(extractOpenAIUsage({ usage: { prompt_tokens: 3, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 9 } } })).toEqual({
      inputTokens: 3,
      cachedInputTokens: 3,
      outputTokens: 1,
    });
  });
});

describe("extractOpenAICompletionText", () => {
  it("collects content, refusals and tool calls of every choice", () => {
    expect(extractOpenAICompletionText(fixture("chat-completion.json"))).toBe("The capital of Australia is Canberra.");
    const body = {
      choices: [
        { message: { content: null, refusal: "No." } },
        { message: { content: null, tool_calls: [{ function: { name: "f", arguments: '{"a":1}' } }] } },
      ],
    };
    expect(extractOpenAICompletionText(body)).toBe('No.f{"a":1}');
    expect(extractOpenAICompletionText({ choices: "x" })).toBe("");
  });
});
