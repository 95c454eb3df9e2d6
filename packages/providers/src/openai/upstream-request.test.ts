import { describe, expect, it } from "vitest";
import { isParseError, parseOpenAIChatRequest, type ParsedChatRequest } from "./chat-request.js";
import { parseOpenAIEmbeddingsRequest } from "./embeddings-request.js";
import { buildOpenAIUpstreamChatBody, buildOpenAIUpstreamEmbeddingsBody, openAIAuthHeaders, openAIChatUrl, openAIEmbeddingsUrl, openAIModelsUrl } from "./upstream-request.js";

function parsed(body: Record<string, unknown>): ParsedChatRequest {
  const r = parseOpenAIChatRequest({ model: "team-model", messages: [{ role: "user", content: "hi" }], ...body });
  if (isParseError(r)) throw new Error(r.error);
  return r;
}

const base = { upstreamModel: "gpt-4o-mini-2024-07-18", maxOutputTokens: null, forceStreamUsage: true };

describe("buildOpenAIUpstreamChatBody", () => {
  it("replaces the model and keeps everything else, without mutating the client's body", () => {
    const req = parsed({ temperature: 0.2, max_tokens: 99 });
    const out = buildOpenAIUpstreamChatBody(req, base);
    expect(out).toEqual({ ...req.body, model: "gpt-4o-mini-2024-07-18" });
    expect(req.body["model"]).toBe("team-model");
    expect(out).not.toHaveProperty("stream_options");
  });

  it("sends service_tier only when it is billed at the model's price (default, flex)", () => {
    for (const tier of ["priority", "scale", "auto", 7, null]) expect(buildOpenAIUpstreamChatBody(parsed({ service_tier: tier }), base)).not.toHaveProperty("service_tier");
    for (const tier of ["default", "flex"]) expect(buildOpenAIUpstreamChatBody(parsed({ service_tier: tier }), base)["service_tier"]).toBe(tier);
  });

  it("writes the cap into the field the client used", () => {
    expect(buildOpenAIUpstreamChatBody(parsed({ max_completion_tokens: 500 }), { ...base, maxOutputTokens: 120 })).toMatchObject({ max_completion_tokens: 120 });
    const legacy = buildOpenAIUpstreamChatBody(parsed({ max_tokens: 500 }), { ...base, maxOutputTokens: 120 });
    expect(legacy).toMatchObject({ max_tokens: 120 });
    expect(legacy).not.toHaveProperty("max_completion_tokens");
  });

  it("uses max_tokens when the client sent no limit (or the configured field) and lowers both when both were sent", () => {
    const none = buildOpenAIUpstreamChatBody(parsed({}), { ...base, maxOutputTokens: 64 });
    expect(none).toMatchObject({ max_tokens: 64 });
    expect(none).not.toHaveProperty("max_completion_tokens");
    expect(buildOpenAIUpstreamChatBody(parsed({}), { ...base, maxOutputTokens: 64, fieldWhenAbsent: "max_completion_tokens" })).toMatchObject({
      max_completion_tokens: 64,
    });
    expect(buildOpenAIUpstreamChatBody(parsed({ max_tokens: 900, max_completion_tokens: 800 }), { ...base, maxOutputTokens: 64 })).toMatchObject({
      max_tokens: 64,
      max_completion_tokens: 64,
    });
  });

  it("forces include_usage on streams and keeps the client's other stream options", () => {
    const out = buildOpenAIUpstreamChatBody(parsed({ stream: true, stream_options: { include_obfuscation: false } }), base);
    expect(out["stream_options"]).toEqual({ include_obfuscation: false, include_usage: true });
    const off = buildOpenAIUpstreamChatBody(parsed({ stream: true }), { ...base, forceStreamUsage: false });
    expect(off).not.toHaveProperty("stream_options");
  });
});

describe("urls and headers", () => {
  it("joins paths onto the SDK-style base URL", () => {
    expect(openAIChatUrl("https://api.openai.com/v1")).toBe("https://api.openai.com/v1/chat/completions");
    expect(openAIChatUrl("http://127.0.0.1:9090/v1//")).toBe("http://127.0.0.1:9090/v1/chat/completions");
    expect(openAIEmbeddingsUrl("https://api.openai.com/v1/")).toBe("https://api.openai.com/v1/embeddings");
    expect(openAIModelsUrl("https://api.openai.com/v1")).toBe("https://api.openai.com/v1/models");
    expect(openAIAuthHeaders("sk-test")).toEqual({ authorization: "Bearer sk-test", "content-type": "application/json" });
  });

  it("builds the embeddings body with the upstream model", () => {
    const req = parseOpenAIEmbeddingsRequest({ model: "emb", input: "x", dimensions: 8 });
    if ("error" in req) throw new Error(req.error);
    expect(buildOpenAIUpstreamEmbeddingsBody(req, "text-embedding-3-small")).toEqual({ model: "text-embedding-3-small", input: "x", dimensions: 8 });
  });
});
