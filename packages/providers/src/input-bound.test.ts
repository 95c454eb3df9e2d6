import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHAT_PROTOCOLS, type ChatProtocol } from "./chat-model.js";
import { estimateAnthropicInputTokensUpperBound } from "./anthropic/messages-request.js";
import { estimateGoogleInputTokensUpperBound } from "./google/generate-request.js";
import { estimateChatInputTokensUpperBound } from "./input-bound.js";
import { estimateInputTokensUpperBound } from "./openai/chat-input-bound.js";
import { inboundToNeutral, parseInboundChatRequest } from "./protocol.js";
import { countTokens } from "./token-count.js";

const FIXTURE: Record<ChatProtocol, string> = { openai: "chat-request-tools.json", anthropic: "request-tools.json", google: "request-tools.json" };
const body = (p: ChatProtocol): unknown => JSON.parse(readFileSync(new URL(`./${p}/fixtures/${FIXTURE[p]}`, import.meta.url), "utf8"));

describe("estimateChatInputTokensUpperBound", () => {
  it.each(CHAT_PROTOCOLS)("bounds the neutral form of the %s fixture for every upstream, above the text's token count", (p) => {
    const inbound = parseInboundChatRequest(p, body(p), { model: "m" });
    if ("error" in inbound) throw new Error(inbound.error);
    const neutral = inboundToNeutral(inbound);
    if ("error" in neutral) throw new Error(neutral.error);
    const strings = [...neutral.system, ...neutral.messages.flatMap((m) => m.parts.flatMap((x) => (x.type === "text" ? [x.text] : [])))];
    const textTokens = strings.reduce((n, s) => n + countTokens(s), 0);
    for (const upstream of CHAT_PROTOCOLS) {
      expect(estimateChatInputTokensUpperBound(neutral, upstream)).toBeGreaterThan(textTokens);
    }
    expect(estimateChatInputTokensUpperBound(neutral, "anthropic")).toBeGreaterThan(estimateChatInputTokensUpperBound(neutral, "openai"));
    const native =
      inbound.protocol === "openai"
        ? estimateInputTokensUpperBound(inbound.parsed)
        : inbound.protocol === "anthropic"
          ? estimateAnthropicInputTokensUpperBound(inbound.parsed)
          : estimateGoogleInputTokensUpperBound(inbound.parsed);
    expect(native).toBeGreaterThan(textTokens);
  });
});
