import type { ProviderAccountPolicy } from "@tollgate/policy";
import { describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.js";
import { upstreamStatusError } from "./upstream-exchange.js";
import { chatTargetOf, countTargetOf, MAX_UPSTREAM_MESSAGE_CHARS, openAIStyleEmbeddingsTargetOf, scrubberOfRequest, upstreamSecretsOf } from "./upstream-target.js";

const KEY = "sk-live-Hq3vN8xR2tY6uI0oP4aS7dF1";

function account(provider: ProviderAccountPolicy["provider"], baseUrl = "http://127.0.0.1:9/v1"): ProviderAccountPolicy {
  return { id: "pa_1", organizationId: "org_1", name: "main", provider, baseUrl, apiKey: KEY };
}

/** The body an upstream of `protocol` sends with `status`, echoing what it received. */
function echoBody(protocol: "openai" | "anthropic" | "google", status: number, echoed: string): string {
  const message = `Incorrect API key provided: ${echoed}. Check your account.`;
  if (protocol === "anthropic") return JSON.stringify({ type: "error", error: { type: "authentication_error", message } });
  if (protocol === "google") return JSON.stringify({ error: { code: status, message, status: "INVALID_ARGUMENT" } });
  return JSON.stringify({ error: { message, type: "invalid_request_error", param: echoed, code: echoed } });
}

describe("the credential an upstream request carried", () => {
  it.each(["OPENAI", "OPENAI_COMPATIBLE", "AZURE_OPENAI", "ANTHROPIC", "GOOGLE"] as const)("%s: every target's secrets include the account's key", (provider) => {
    const targets = [
      chatTargetOf(account(provider), "m", false),
      chatTargetOf(account(provider), "m", true),
      openAIStyleEmbeddingsTargetOf(account(provider), "m"),
      countTargetOf(account(provider), "m"),
    ];
    for (const target of targets) {
      if (target === null) continue;
      expect(upstreamSecretsOf(target.url, target.headers)).toContain(KEY);
      // Public headers (content-type, anthropic-version) are not secrets: they would garble ordinary text.
      expect(upstreamSecretsOf(target.url, target.headers)).not.toContain("application/json");
    }
  });

  it("includes a bearer token without its scheme, any other header value and the URL's user info", () => {
    const secrets = upstreamSecretsOf("http://user:p%40ss-word-99@h/v1", { authorization: `Bearer ${KEY}`, "x-extra": "org-1234567890", "anthropic-version": "2023-06-01" });
    expect(secrets).toEqual(expect.arrayContaining([`Bearer ${KEY}`, KEY, "org-1234567890", "user", "p@ss-word-99"]));
    expect(secrets).not.toContain("2023-06-01");
  });
});

describe("upstreamStatusError: every upstream error status through the scrubber", () => {
  const cases = (["openai", "anthropic", "google"] as const).flatMap((p) => [400, 401, 403, 404, 413, 422, 429, 500, 503].map((s) => [p, s] as const));
  it.each(cases)("%s upstream answering %i: the key is gone from every form, the reason stays", (protocol, status) => {
    const provider = protocol === "openai" ? "AZURE_OPENAI" : protocol === "anthropic" ? "ANTHROPIC" : "GOOGLE";
    const target = chatTargetOf(account(provider), "m", false);
    const echoed = `${KEY} (as sent: ${JSON.stringify(target.headers)}, base64 ${Buffer.from(`user:${KEY}`).toString("base64")}, masked ${KEY.slice(0, 10)}***${KEY.slice(-4)})`;
    const error = upstreamStatusError(protocol, { status, headers: {} }, echoBody(protocol, status, echoed), scrubberOfRequest(target));
    expect(error).toBeInstanceOf(GatewayError);
    const wire = JSON.stringify({ message: error.message, headers: error.responseHeaders() });
    for (let i = 0; i + 8 <= KEY.length; i++) expect(wire).not.toContain(KEY.slice(i, i + 8));
    expect(error.message).toContain("Incorrect API key provided: [redacted]");
    expect(error.message).toContain("Check your account.");
  });

  it("maps statuses and retry advice: the caller's 4xx never retry, the upstream's 429/5xx are transient", () => {
    const scrubber = scrubberOfRequest({ url: "http://h/v1", headers: { authorization: `Bearer ${KEY}` } });
    const of = (status: number, headers: Record<string, string> = {}) => upstreamStatusError("openai", { status, headers }, echoBody("openai", status, "x"), scrubber);
    expect([of(400).status, of(400).code, of(400).responseHeaders()]).toEqual([400, "invalid_request", { "x-should-retry": "false" }]);
    expect(of(400).message).toBe("Incorrect API key provided: x. Check your account.");
    expect([of(401).status, of(401).message]).toEqual([502, "the upstream provider answered 401: Incorrect API key provided: x. Check your account."]);
    expect(of(401).responseHeaders()).toEqual({});
    expect([of(429).status, of(429).responseHeaders()]).toEqual([429, {}]);
    expect(of(429, { "retry-after": "2" }).responseHeaders()).toEqual({ "retry-after": "2", "x-should-retry": "true" });
    expect(of(503, { "retry-after": "86400" }).responseHeaders()).toEqual({ "x-should-retry": "false" });
  });

  it("bounds the relayed reason and says only the status when there is none", () => {
    const scrubber = scrubberOfRequest({ url: "http://h/v1", headers: { authorization: `Bearer ${KEY}` } });
    const long = upstreamStatusError("openai", { status: 400, headers: {} }, JSON.stringify({ error: { message: "y".repeat(70_000) } }), scrubber);
    expect(long.message).toHaveLength(MAX_UPSTREAM_MESSAGE_CHARS);
    expect(upstreamStatusError("anthropic", { status: 500, headers: {} }, `<html>${KEY}</html>`, scrubber).message).toBe("the upstream provider answered 500");
  });
});

describe("GatewayError retry headers, the same for every inbound protocol", () => {
  it.each<[string, GatewayError, Record<string, string>]>([
    ["a budget resetting in 24 days", new GatewayError("budget_exceeded", "m", 24 * 86_400_000), { "x-should-retry": "false" }],
    ["a budget resetting in 30 s", new GatewayError("budget_exceeded", "m", 30_000), { "retry-after": "30", "x-should-retry": "true" }],
    ["a TOTAL budget (no reset)", new GatewayError("budget_exceeded", "m", null), { "x-should-retry": "false" }],
    [
      "a rate limit resetting in 1.5 s",
      new GatewayError("rate_limit_exceeded", "m", 1_500, { "x-ratelimit-reset-requests": "2s" }),
      { "x-ratelimit-reset-requests": "2s", "retry-after": "2", "x-should-retry": "true" },
    ],
    ["a rate limit resetting in an hour", new GatewayError("rate_limit_exceeded", "m", 3_600_000), { "x-should-retry": "false" }],
    ["a paused key", new GatewayError("key_paused", "m"), { "x-should-retry": "false" }],
    ["a guardrail", new GatewayError("guardrail_blocked", "m"), { "x-should-retry": "false" }],
    ["an invalid request", new GatewayError("invalid_request", "m"), { "x-should-retry": "false" }],
    ["a full spool", new GatewayError("usage_unavailable", "m", 5_000), { "retry-after": "5", "x-should-retry": "true" }],
    ["an upstream failure", new GatewayError("upstream_error", "m"), {}],
  ])("%s", (_name, error, headers) => {
    expect(error.responseHeaders()).toEqual(headers);
  });
});
