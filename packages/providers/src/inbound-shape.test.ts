import { describe, expect, it } from "vitest";
import type { ChatRequest } from "./chat-model.js";
import { isSimulatedPath, neutralPromptText, parseInboundRequest } from "./inbound-shape.js";

describe("parseInboundRequest: the shape the decision core sees, with the prompt text guardrails read", () => {
  it.each<[string, unknown, string]>([
    [
      "string contents, every role",
      {
        model: "m",
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "hi" },
        ],
      },
      "be brief\nhi",
    ],
    [
      "text parts; images skipped",
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "look" },
              { type: "image_url", image_url: { url: "https://x/y.png" } },
              { type: "text", text: "here" },
            ],
          },
        ],
      },
      "look\nhere",
    ],
    [
      "empty contents are skipped",
      {
        model: "m",
        messages: [
          { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
          { role: "user", content: "ok" },
        ],
      },
      "ok",
    ],
  ])("chat: %s", (_, body, text) => {
    const r = parseInboundRequest("/v1/chat/completions", body);
    if (!r.ok) throw new Error(r.message);
    expect(r.shape.promptText).toBe(text);
    expect(r.shape.operation).toBe("chat");
  });

  it("embeddings: the string inputs", () => {
    const r = parseInboundRequest("/v1/embeddings", { model: "e", input: ["a b", "c"] });
    if (!r.ok) throw new Error(r.message);
    expect(r.shape).toMatchObject({ operation: "embeddings", promptText: "a b\nc", requestedMaxOutputTokens: null });
  });

  it("reports the parser's error and knows its paths", () => {
    expect(parseInboundRequest("/v1/chat/completions", { model: "m" })).toMatchObject({ ok: false });
    expect(isSimulatedPath("/v1/embeddings")).toBe(true);
    expect(isSimulatedPath("/v1/messages")).toBe(false);
    expect(isSimulatedPath("/v1/responses")).toBe(true);
    const responses = parseInboundRequest("/v1/responses", { model: "m", input: "hello world", instructions: "be kind", max_output_tokens: 9, stream: true });
    expect(responses).toMatchObject({ ok: true, stream: true, shape: { model: "m", requestedMaxOutputTokens: 9, operation: "chat", promptText: "be kind\nhello world" } });
    expect(parseInboundRequest("/v1/responses", { model: "m" })).toEqual({ ok: false, message: "'input' is required" });
  });

  it("neutralPromptText: system blocks then every message's text parts", () => {
    const req: ChatRequest = {
      model: "m",
      system: ["sys"],
      tools: [],
      toolChoice: null,
      stopSequences: [],
      temperature: null,
      topP: null,
      maxOutputTokens: null,
      jsonOutput: false,
      stream: false,
      messages: [
        {
          role: "user",
          parts: [
            { type: "text", text: "u1" },
            { type: "image", source: { kind: "url", url: "https://x", mediaType: null } },
          ],
        },
        { role: "assistant", parts: [{ type: "text", text: "a1" }], toolCalls: [] },
        { role: "tool", toolCallId: "t", name: null, parts: [{ type: "text", text: "tool out" }], isError: false },
      ],
    };
    expect(neutralPromptText(req)).toBe("sys\nu1\na1\ntool out");
  });
});
