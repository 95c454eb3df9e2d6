import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { extractOpenAIErrorMessage, mapUpstreamStatus, openAIErrorBody } from "./errors.js";

describe("openAIErrorBody", () => {
  it.each([
    ["invalid_api_key", "authentication_error"],
    ["key_paused", "permission_error"],
    ["model_not_allowed", "permission_error"],
    ["model_not_priced", "permission_error"],
    ["model_not_found", "invalid_request_error"],
    ["budget_exceeded", "insufficient_quota"],
    ["rate_limit_exceeded", "rate_limit_error"],
    ["request_cost_limit", "invalid_request_error"],
    ["guardrail_blocked", "invalid_request_error"],
    ["invalid_request", "invalid_request_error"],
    ["request_too_large", "invalid_request_error"],
    ["upstream_error", "api_error"],
    ["upstream_timeout", "api_error"],
    ["budget_unverifiable", "api_error"],
    ["overloaded", "api_error"],
  ])("%s has type %s", (code, type) => {
    expect(openAIErrorBody(code, "why")).toEqual({ error: { message: "why", type, param: null, code } });
  });

  it("takes an explicit type", () => {
    expect(openAIErrorBody("x", "m", "server_error").error.type).toBe("server_error");
  });
});

describe("mapUpstreamStatus", () => {
  it.each([
    [400, 400, "invalid_request"],
    [422, 400, "invalid_request"],
    [401, 502, "upstream_error"],
    [403, 502, "upstream_error"],
    [404, 502, "upstream_error"],
    [413, 413, "request_too_large"],
    [429, 429, "rate_limit_exceeded"],
    [408, 504, "upstream_timeout"],
    [504, 504, "upstream_timeout"],
    [500, 502, "upstream_error"],
    [503, 502, "upstream_error"],
  ])("%i -> %i %s", (upstream, status, code) => {
    expect(mapUpstreamStatus(upstream)).toEqual({ status, code });
  });

  it("reads an upstream error message from a recorded body", () => {
    const body: unknown = JSON.parse(readFileSync(new URL("./fixtures/error-429.json", import.meta.url), "utf8"));
    expect(extractOpenAIErrorMessage(body)).toMatch(/^Rate limit reached for gpt-4o-mini/);
    expect(extractOpenAIErrorMessage({ error: "x" })).toBeNull();
  });
});
