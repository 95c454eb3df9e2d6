import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { countTokens } from "../token-count.js";
import { extractGoogleErrorMessage, googleErrorBody, googleErrorFor } from "./errors.js";
import {
  estimateGoogleEmbedInputUpperBound,
  estimateGoogleInputTokensUpperBound,
  parseGoogleCountTokensRequest,
  parseGoogleEmbedRequest,
  parseGoogleGenerateRequest,
  type ParsedGoogleRequest,
} from "./generate-request.js";
import { extractGoogleCompletionText, extractGoogleUsage } from "./generate-response.js";
import { buildGoogleUpstreamBody, googleAuthHeaders, googleGenerateUrl } from "./upstream-request.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
const text = (t: string) => ({ role: "user", parts: [{ text: t }] });

function parsed(body: unknown, stream = false): ParsedGoogleRequest {
  const r = parseGoogleGenerateRequest("gemini-2.5-flash", body, stream);
  if ("error" in r) throw new Error(r.error);
  return r;
}

describe("parseGoogleGenerateRequest", () => {
  it.each([
    [null, "the request body must be a JSON object"],
    [{}, "contents is not specified"],
    [{ contents: [] }, "contents must be a non-empty array"],
    [{ contents: [{ role: "assistant", parts: [{ text: "x" }] }] }, 'contents[0].role must be "user" or "model"'],
    [{ contents: [{ role: "user", parts: [] }] }, "contents[0].parts must be a non-empty array"],
    [{ contents: [{ parts: [{ foo: 1 }] }] }, "contents[0].parts[0] must contain one of text, inlineData, fileData, functionCall, functionResponse"],
    [{ contents: [{ parts: [{ text: 5 }] }] }, "contents[0].parts[0].text must be a string"],
    [{ contents: [{ parts: [{ functionCall: {} }] }] }, "contents[0].parts[0].functionCall.name is required"],
    [{ contents: [text("x")], tools: {} }, "tools must be an array"],
    [{ contents: [text("x")], generationConfig: { maxOutputTokens: 0 } }, "generationConfig.maxOutputTokens must be a positive integer"],
    [{ contents: [text("x")], generationConfig: { stopSequences: [1] } }, "generationConfig.stopSequences must be an array of strings"],
    [{ contents: [text("x")], generationConfig: { temperature: "hot" } }, "generationConfig.temperature must be a number"],
  ])("rejects %j with %s", (body, error) => {
    expect(parseGoogleGenerateRequest("m", body, false)).toEqual({ error });
  });

  it("reads the recorded request, snake_case config, the stream flag and candidateCount", () => {
    expect(parsed(fixture("request-tools.json"))).toMatchObject({ model: "gemini-2.5-flash", requestedMaxOutputTokens: 1024, candidateCount: 1, stream: false });
    expect(parsed({ contents: [text("x")], generation_config: { max_output_tokens: 9, candidate_count: 2 } }, true)).toMatchObject({
      requestedMaxOutputTokens: 9,
      candidateCount: 2,
      stream: true,
    });
  });

  it("parses countTokens (both shapes) and embedContent", () => {
    expect(parseGoogleCountTokensRequest("m", { contents: [text("hi")] })).toMatchObject({ model: "m", stream: false });
    expect(parseGoogleCountTokensRequest("m", { generateContentRequest: { model: "models/m", contents: [text("hi")] } })).toMatchObject({ contents: [text("hi")] });
    const embed = parseGoogleEmbedRequest("text-embedding-004", { content: { parts: [{ text: "hello" }, { text: "wörld" }] }, title: "t" });
    expect(embed).toMatchObject({ texts: ["hello", "wörld"] });
    if (!("error" in embed)) expect(estimateGoogleEmbedInputUpperBound(embed)).toBe(5 + 6 + 1);
    expect(parseGoogleEmbedRequest("m", {})).toEqual({ error: "content is not specified" });
  });
});

describe("estimateGoogleInputTokensUpperBound", () => {
  it("is at least the o200k count of the text and counts media flat", () => {
    const t = "Bonjour! 東京は 🌸 «ça marche» ".repeat(40);
    const r = parsed({ systemInstruction: { parts: [{ text: "be brief" }] }, contents: [text(t), { role: "model", parts: [{ text: "ok" }] }] });
    expect(estimateGoogleInputTokensUpperBound(r)).toBeGreaterThanOrEqual(countTokens(t) + countTokens("be brief") + countTokens("ok"));
    const img = parsed({ contents: [{ parts: [{ inlineData: { mimeType: "image/png", data: "A".repeat(100_000) } }] }] });
    expect(estimateGoogleInputTokensUpperBound(img)).toBeLessThan(2000);
    expect(estimateGoogleInputTokensUpperBound(parsed(fixture("request-tools.json")))).toBeGreaterThan(1600 + 64);
  });
});

describe("Gemini upstream, usage and errors", () => {
  it("builds URLs, headers and a capped body", () => {
    expect(googleGenerateUrl("https://generativelanguage.googleapis.com/", "gemini-2.5-flash", false)).toBe("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent");
    expect(googleGenerateUrl("http://h", "gemini-2.5-flash", true)).toBe("http://h/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    expect(googleAuthHeaders("k")).toEqual({ "x-goog-api-key": "k", "content-type": "application/json" });
    const r = parsed({ contents: [text("x")], generation_config: { max_output_tokens: 50, temperature: 1 } });
    expect(buildGoogleUpstreamBody(r, 20)).toEqual({ contents: [text("x")], generationConfig: { temperature: 1, maxOutputTokens: 20 } });
    expect(buildGoogleUpstreamBody(parsed({ contents: [text("x")] }), 20)).toEqual({ contents: [text("x")], generationConfig: { maxOutputTokens: 20 } });
    expect(buildGoogleUpstreamBody(r, null)).toEqual(r.body);
  });

  it("counts thoughts as output and tool-use prompts as input", () => {
    expect(extractGoogleUsage(fixture("generate-text.json"))).toEqual({ inputTokens: 2048, cachedInputTokens: 1920, outputTokens: 331 });
    expect(extractGoogleUsage({ usageMetadata: { promptTokenCount: 10, toolUsePromptTokenCount: 4, candidatesTokenCount: 2 } })).toEqual({ inputTokens: 14, cachedInputTokens: 0, outputTokens: 2 });
    expect(extractGoogleUsage({ candidates: [] })).toBeNull();
    expect(extractGoogleCompletionText(fixture("generate-function-call.json"))).toBe(`I'll check the weather in Paris for you.get_weather{"city":"Paris, France","unit":"celsius"}`);
  });

  it.each([
    ["invalid_api_key", 401, "UNAUTHENTICATED"],
    ["key_paused", 403, "PERMISSION_DENIED"],
    ["model_not_allowed", 403, "PERMISSION_DENIED"],
    ["model_not_priced", 403, "PERMISSION_DENIED"],
    ["model_not_found", 404, "NOT_FOUND"],
    ["budget_exceeded", 429, "RESOURCE_EXHAUSTED"],
    ["rate_limit_exceeded", 429, "RESOURCE_EXHAUSTED"],
    ["invalid_request", 400, "INVALID_ARGUMENT"],
    ["request_cost_limit", 400, "INVALID_ARGUMENT"],
    ["guardrail_blocked", 400, "INVALID_ARGUMENT"],
    ["request_too_large", 413, "INVALID_ARGUMENT"],
    ["upstream_error", 502, "INTERNAL"],
    ["upstream_timeout", 504, "DEADLINE_EXCEEDED"],
    ["budget_unverifiable", 503, "UNAVAILABLE"],
    ["usage_unavailable", 503, "UNAVAILABLE"],
    ["overloaded", 503, "UNAVAILABLE"],
    ["something_new", 500, "INTERNAL"],
  ])("%s -> %i %s", (code, status, googleStatus) => {
    expect(googleErrorFor(code)).toEqual({ status, googleStatus });
    expect(googleErrorBody(code, "why")).toEqual({ error: { code: status, message: "why", status: googleStatus } });
  });

  it("reads an upstream error message (object or array form)", () => {
    const body = fixture("error-429.json");
    expect(extractGoogleErrorMessage(body)).toMatch(/exceeded your current quota/);
    expect(extractGoogleErrorMessage([body])).toMatch(/exceeded your current quota/);
    expect(extractGoogleErrorMessage({})).toBeNull();
  });
});
