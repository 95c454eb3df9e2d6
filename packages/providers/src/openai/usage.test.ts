import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { extractOpenAICompletionText, extractOpenAIUsage, requestsOpenAIAudio } from "./usage.js";

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
      choices: [{ message: { content: null, refusal: "No." } }, { message: { content: null, tool_calls: [{ function: { name: "f", arguments: '{"a":1}' } }] } }],
    };
    expect(extractOpenAICompletionText(body)).toBe('No.f{"a":1}');
    expect(extractOpenAICompletionText({ choices: "x" })).toBe("");
  });
});

describe("audio", () => {
  it("reads audio input and output tokens (parts of prompt and completion tokens)", () => {
    const usage = {
      prompt_tokens: 1_100,
      completion_tokens: 550,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 1_000 },
      completion_tokens_details: { audio_tokens: 500, reasoning_tokens: 0 },
    };
    expect(extractOpenAIUsage({ usage })).toEqual({ inputTokens: 1_100, cachedInputTokens: 0, outputTokens: 550, audioInputTokens: 1_000, audioOutputTokens: 500 });
  });

  it("tells a request that sends or asks for audio", () => {
    const text = { model: "m", messages: [{ role: "user", content: "hi" }] };
    expect(requestsOpenAIAudio(text)).toBe(false);
    expect(requestsOpenAIAudio({ ...text, modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } })).toBe(true);
    expect(requestsOpenAIAudio({ ...text, audio: { voice: "alloy" } })).toBe(true);
    expect(requestsOpenAIAudio({ model: "m", messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }] })).toBe(true);
    expect(requestsOpenAIAudio({ model: "m", messages: [{ role: "user", content: [{ type: "text", text: "input_audio" }] }], modalities: ["text"] })).toBe(false);
  });
});
