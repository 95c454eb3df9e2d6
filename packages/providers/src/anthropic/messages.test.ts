import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { countTokens } from "../token-count.js";
import { anthropicErrorBody, anthropicErrorFor, extractAnthropicErrorMessage } from "./errors.js";
import { estimateAnthropicInputTokensUpperBound, parseAnthropicCountTokensRequest, parseAnthropicMessagesRequest, type ParsedAnthropicRequest } from "./messages-request.js";
import { extractAnthropicCompletionText, extractAnthropicUsage } from "./messages-response.js";
import { anthropicAuthHeaders, anthropicMessagesUrl, buildAnthropicUpstreamBody } from "./upstream-request.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
const user = (content: unknown) => ({ role: "user", content });
const base = { model: "claude-sonnet-4-5", max_tokens: 64 };

function parsed(body: unknown): ParsedAnthropicRequest {
  const r = parseAnthropicMessagesRequest(body);
  if ("error" in r) throw new Error(r.error);
  return r;
}

describe("parseAnthropicMessagesRequest", () => {
  it.each([
    [null, "the request body must be a JSON object"],
    [{ max_tokens: 5, messages: [user("x")] }, "model: Field required"],
    [{ model: "m", messages: [user("x")] }, "max_tokens: Field required"],
    [{ ...base, max_tokens: 0, messages: [user("x")] }, "max_tokens: Input should be greater than or equal to 1"],
    [{ ...base, max_tokens: 2.5, messages: [user("x")] }, "max_tokens: Input should be a valid integer"],
    [{ ...base }, "messages: Field required"],
    [{ ...base, messages: [] }, "messages: at least one message is required"],
    [{ ...base, messages: [{ role: "system", content: "x" }] }, "messages.0.role: Input should be 'user' or 'assistant'"],
    [{ ...base, messages: [{ role: "user" }] }, "messages.0.content: Field required"],
    [{ ...base, messages: [user([{ type: "text" }])] }, "messages.0.content.0.text: Input should be a valid string"],
    [{ ...base, messages: [user([{ type: "tool_use", id: "t", name: "n", input: "x" }])] }, "messages.0.content.0.input: Input should be a valid dictionary"],
    [{ ...base, messages: [user([{ type: "tool_result" }])] }, "messages.0.content.0.tool_use_id: Field required"],
    [{ ...base, messages: [user([{ type: "image", source: { type: "base64", data: "x" } }])] }, "messages.0.content.0.source.media_type: Field required"],
    [{ ...base, system: 3, messages: [user("x")] }, "system: Input should be a valid string or list"],
    [{ ...base, tools: [{}], messages: [user("x")] }, "tools.0.name: Field required"],
    [{ ...base, tool_choice: { type: "required" }, messages: [user("x")] }, "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"],
    [{ ...base, tool_choice: { type: "tool" }, messages: [user("x")] }, "tool_choice.name: Field required"],
    [{ ...base, stop_sequences: "x", messages: [user("x")] }, "stop_sequences: Input should be a valid list of strings"],
    [{ ...base, temperature: "hot", messages: [user("x")] }, "temperature: Input should be a valid number"],
    [{ ...base, stream: "yes", messages: [user("x")] }, "stream: Input should be a valid boolean"],
  ])("rejects %j with %s", (body, error) => {
    expect(parseAnthropicMessagesRequest(body)).toEqual({ error });
  });

  it("accepts the recorded tool conversation and reads max_tokens and stream", () => {
    const body = fixture("request-tools.json");
    const r = parsed(body);
    expect(r).toMatchObject({ model: "claude-sonnet-4-5", maxTokens: 1024, stream: false });
    expect(r.body).toBe(body);
    expect(parsed({ ...base, stream: true, messages: [user("x")] }).stream).toBe(true);
  });

  it("count_tokens needs no max_tokens", () => {
    expect(parseAnthropicCountTokensRequest({ model: "m", messages: [user("hi")] })).toMatchObject({ model: "m" });
    expect(parseAnthropicCountTokensRequest({ model: "m" })).toEqual({ error: "messages: Field required" });
  });
});

describe("estimateAnthropicInputTokensUpperBound", () => {
  it("is at least the o200k count of all text, counts images flat, adds the tool-use prompt", () => {
    const text = "Bonjour! 東京は 🌸 «ça marche» ".repeat(40);
    const r = parsed({ ...base, system: "be brief", messages: [user(text), { role: "assistant", content: "ok" }, user("again")] });
    expect(estimateAnthropicInputTokensUpperBound(r)).toBeGreaterThanOrEqual(countTokens(text) + countTokens("be brief") + countTokens("okagain"));
    const tools = parsed(fixture("request-tools.json"));
    const bound = estimateAnthropicInputTokensUpperBound(tools);
    expect(bound).toBeGreaterThan(512 + 1600);
    const bigImage = { type: "image", source: { type: "base64", media_type: "image/png", data: "A".repeat(100_000) } };
    expect(estimateAnthropicInputTokensUpperBound(parsed({ ...base, messages: [user([bigImage])] }))).toBeLessThan(2000);
  });
});

describe("Anthropic upstream, usage and errors", () => {
  it("caps max_tokens, never raises it, and replaces the model", () => {
    const r = parsed({ ...base, messages: [user("x")] });
    expect(buildAnthropicUpstreamBody(r, { upstreamModel: "claude-x", maxOutputTokens: 10 })).toMatchObject({ model: "claude-x", max_tokens: 10 });
    expect(buildAnthropicUpstreamBody(r, { upstreamModel: "claude-x", maxOutputTokens: 1000 })["max_tokens"]).toBe(64);
    // service_tier "auto" may run on Priority Tier capacity (billed above the model's price): only standard_only is sent.
    expect(buildAnthropicUpstreamBody(parsed({ ...base, service_tier: "auto", messages: [user("x")] }), { upstreamModel: "claude-x", maxOutputTokens: null })).not.toHaveProperty("service_tier");
    expect(buildAnthropicUpstreamBody(parsed({ ...base, service_tier: "standard_only", messages: [user("x")] }), { upstreamModel: "claude-x", maxOutputTokens: null })["service_tier"]).toBe(
      "standard_only",
    );
    expect(anthropicMessagesUrl("https://api.anthropic.com/")).toBe("https://api.anthropic.com/v1/messages");
    expect(anthropicAuthHeaders("sk-ant")).toEqual({ "x-api-key": "sk-ant", "anthropic-version": "2023-06-01", "content-type": "application/json" });
  });

  it("counts cache reads and writes as input, reads as cached, writes (and their 1-hour part) as cache writes", () => {
    expect(extractAnthropicUsage(fixture("message-text.json"))).toEqual({ inputTokens: 2048, cachedInputTokens: 1920, outputTokens: 11 });
    expect(extractAnthropicUsage({ usage: { input_tokens: 10, cache_creation_input_tokens: 5, output_tokens: 3 } })).toEqual({
      inputTokens: 15,
      cachedInputTokens: 0,
      outputTokens: 3,
      cacheWriteInputTokens: 5,
    });
    const split = {
      input_tokens: 50,
      cache_read_input_tokens: 7,
      cache_creation_input_tokens: 100_000,
      cache_creation: { ephemeral_5m_input_tokens: 40_000, ephemeral_1h_input_tokens: 60_000 },
      output_tokens: 500,
    };
    expect(extractAnthropicUsage({ usage: split })).toEqual({ inputTokens: 100_057, cachedInputTokens: 7, outputTokens: 500, cacheWriteInputTokens: 100_000, cacheWrite1hInputTokens: 60_000 });
    expect(extractAnthropicUsage({ usage: { ...split, cache_creation: { ephemeral_1h_input_tokens: 9e9 } } })?.cacheWrite1hInputTokens).toBe(100_000);
    expect(extractAnthropicUsage({ content: [] })).toBeNull();
    expect(extractAnthropicCompletionText(fixture("message-tool-use.json"))).toBe(`I'll check the weather in Paris for you.get_weather{"city":"Paris, France","unit":"celsius"}`);
  });

  it.each([
    ["invalid_api_key", 401, "authentication_error"],
    ["key_paused", 403, "permission_error"],
    ["model_not_allowed", 403, "permission_error"],
    ["model_not_priced", 403, "permission_error"],
    ["model_not_found", 404, "not_found_error"],
    ["budget_exceeded", 429, "rate_limit_error"],
    ["rate_limit_exceeded", 429, "rate_limit_error"],
    ["invalid_request", 400, "invalid_request_error"],
    ["request_cost_limit", 400, "invalid_request_error"],
    ["guardrail_blocked", 400, "invalid_request_error"],
    ["request_too_large", 413, "request_too_large"],
    ["upstream_error", 502, "api_error"],
    ["upstream_timeout", 504, "api_error"],
    ["budget_unverifiable", 503, "overloaded_error"],
    ["usage_unavailable", 503, "overloaded_error"],
    ["overloaded", 503, "overloaded_error"],
    ["something_new", 500, "api_error"],
  ])("%s -> %i %s", (code, status, type) => {
    expect(anthropicErrorFor(code)).toEqual({ status, type });
    expect(anthropicErrorBody(code, "why")).toEqual({ type: "error", error: { type, message: "why" } });
  });

  it("reads an upstream error message", () => {
    expect(extractAnthropicErrorMessage(fixture("error-overloaded.json"))).toBe("Overloaded");
    expect(extractAnthropicErrorMessage({ error: "x" })).toBeNull();
  });
});
