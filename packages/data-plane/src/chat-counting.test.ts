import type { ProviderAccountPolicy } from "@tollgate/policy";
import {
  countNeutralPromptTokens,
  countTokens,
  estimateAnthropicInputTokensUpperBound,
  estimateChatInputTokensUpperBound,
  inboundToNeutral,
  parseInboundChatRequest,
  type ChatRequest,
  type InboundChatRequest,
} from "@tollgate/providers";
import { describe, expect, it } from "vitest";
import { shapeProtocolChat } from "./chat-counting.js";
import { chatTargetOf, countTargetOf, protocolOfProvider } from "./upstream-target.js";

function parse(protocol: "openai" | "anthropic" | "google", body: unknown, model = "m"): { inbound: InboundChatRequest; neutral: ChatRequest } {
  const inbound = parseInboundChatRequest(protocol, body, { model, stream: false });
  if ("error" in inbound) throw new Error(inbound.error);
  const neutral = inboundToNeutral(inbound);
  if ("error" in neutral) throw new Error(neutral.error);
  return { inbound, neutral };
}

describe("admission shape of translated chat requests", () => {
  const tools = [{ type: "function", function: { name: "lookup", description: "find", parameters: { type: "object", properties: { q: { type: "string" } } } } }];
  const openai = parse("openai", {
    model: "m",
    n: 1,
    max_tokens: 30,
    tools,
    messages: [
      { role: "system", content: "be brief" },
      { role: "user", content: "héllo wörld" },
    ],
  });

  it("bounds the prompt with the upstream's overheads (Anthropic's hidden tool prompt is larger than OpenAI's)", () => {
    const toAnthropic = shapeProtocolChat(openai.inbound, openai.neutral, ["anthropic"]);
    const toGoogle = shapeProtocolChat(openai.inbound, openai.neutral, ["google"]);
    expect(toAnthropic.inputTokensUpperBound).toBe(estimateChatInputTokensUpperBound(openai.neutral, "anthropic"));
    expect(toGoogle.inputTokensUpperBound).toBe(estimateChatInputTokensUpperBound(openai.neutral, "google"));
    expect(toAnthropic.inputTokensUpperBound).toBeGreaterThan(toGoogle.inputTokensUpperBound);
    expect(toAnthropic).toMatchObject({ model: "m", requestedMaxOutputTokens: 30, operation: "chat", promptText: "be brief\nhéllo wörld" });
  });

  it("keeps the inbound protocol's own bound when the upstream speaks it, and Gemini's candidateCount scales output", () => {
    const anthropic = parse("anthropic", { model: "m", max_tokens: 9, system: "s", messages: [{ role: "user", content: "x" }] });
    if (anthropic.inbound.protocol !== "anthropic") throw new Error("unreachable");
    expect(shapeProtocolChat(anthropic.inbound, anthropic.neutral, ["anthropic"]).inputTokensUpperBound).toBe(estimateAnthropicInputTokensUpperBound(anthropic.inbound.parsed));
    const google = parseInboundChatRequest("google", { contents: [{ parts: [{ text: "x" }] }], generationConfig: { maxOutputTokens: 10, candidateCount: 3 } }, { model: "g" });
    if ("error" in google) throw new Error(google.error);
    expect(shapeProtocolChat(google, null, ["google"]).requestedMaxOutputTokens).toBe(30);
  });

  it("counts a neutral prompt with the tokenizer: priming, per-message overhead and text", () => {
    expect(countNeutralPromptTokens(openai.neutral)).toBe(3 + 3 + countTokens("be brief") + 3 + countTokens("héllo wörld") + countTokens(JSON.stringify(openai.neutral.tools)));
  });
});

describe("upstream targets per provider kind", () => {
  const account = (provider: ProviderAccountPolicy["provider"], baseUrl: string): ProviderAccountPolicy => ({ id: "pa", organizationId: "org", name: "a", provider, baseUrl, apiKey: "sk-x" });

  it("maps each provider kind to its protocol, URL and credential header", () => {
    expect(["OPENAI", "OPENAI_COMPATIBLE", "AZURE_OPENAI", "ANTHROPIC", "GOOGLE"].map((p) => protocolOfProvider(p as ProviderAccountPolicy["provider"]))).toEqual([
      "openai",
      "openai",
      "openai",
      "anthropic",
      "google",
    ]);
    expect(chatTargetOf(account("OPENAI", "https://api.openai.com/v1/"), "gpt", false)).toEqual({
      url: "https://api.openai.com/v1/chat/completions",
      headers: { authorization: "Bearer sk-x", "content-type": "application/json" },
    });
    expect(chatTargetOf(account("AZURE_OPENAI", "https://res.openai.azure.com"), "dep 1", true).url).toBe(
      "https://res.openai.azure.com/openai/deployments/dep%201/chat/completions?api-version=2024-10-21",
    );
    expect(chatTargetOf(account("ANTHROPIC", "https://api.anthropic.com"), "c", true)).toEqual({
      url: "https://api.anthropic.com/v1/messages",
      headers: { "x-api-key": "sk-x", "anthropic-version": "2023-06-01", "content-type": "application/json" },
    });
    expect(chatTargetOf(account("GOOGLE", "https://generativelanguage.googleapis.com"), "gemini-2.0-flash", true)).toEqual({
      url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
      headers: { "x-goog-api-key": "sk-x", "content-type": "application/json" },
    });
    expect(countTargetOf(account("OPENAI_COMPATIBLE", "http://vllm/v1"), "m")).toBeNull();
    expect(countTargetOf(account("GOOGLE", "https://g"), "m")?.url).toBe("https://g/v1beta/models/m:countTokens");
  });
});
