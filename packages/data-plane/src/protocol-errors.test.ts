import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome } from "@tollgate/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { protocolErrorBody, protocolOfPath, streamErrorEvent } from "./protocol-error.js";
import { MODEL_OF, buildProtocolTestApp, chatBody, chatUrl, type ProtocolTestApp } from "./protocols.fixture.js";
import { parseGeminiTarget } from "./gemini.route.js";
import { mapUpstreamError, scrubberOfRequest } from "./upstream-target.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

describe("refusals and failures in each protocol's error shape", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: ProtocolTestApp;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 5 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 10_000 });
  });
  afterAll(async () => {
    await t?.app.close();
    await upstream.close();
    await mock.close();
  });
  beforeEach(async () => {
    await t?.app.close();
    mock.reset();
    t = buildProtocolTestApp(mock.url, upstream.send);
  });

  const anthropic = (headers: Record<string, string>, body: unknown) => t.post("/v1/messages", headers, body);
  const gemini = (model: string, headers: Record<string, string>, body: unknown, method = "generateContent") => t.post(`/v1beta/models/${model}:${method}`, headers, body);

  it("Anthropic: 401 authentication_error, 403 permission_error, 404 not_found_error, 400 invalid_request_error", async () => {
    const body = chatBody("anthropic", "gpt-4o", "hi");
    const noKey = await anthropic({}, body);
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json()).toEqual({ type: "error", error: { type: "authentication_error", message: "no API key was provided" } });
    const bearer = await anthropic({ authorization: "Bearer tg_live_not-a-key" }, body);
    expect(bearer.json().error.type).toBe("authentication_error");
    const denied = await anthropic(t.keyHeaders("anthropic", "denyGpt4o"), body);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ type: "error", error: { type: "permission_error" } });
    expect(denied.json().error.message).toContain('model "gpt-4o" is not allowed');
    const paused = await anthropic(t.keyHeaders("anthropic", "paused"), body);
    expect([paused.statusCode, paused.json().error.type]).toEqual([403, "permission_error"]);
    const unknown = await anthropic(t.keyHeaders("anthropic", "active"), chatBody("anthropic", "nope", "hi"));
    expect([unknown.statusCode, unknown.json().error.type]).toEqual([404, "not_found_error"]);
    const invalid = await anthropic(t.keyHeaders("anthropic", "active"), { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } });
    const malformed = await anthropic(t.keyHeaders("anthropic", "active"), "{not json");
    expect([malformed.statusCode, malformed.json().type, malformed.json().error.type]).toEqual([400, "error", "invalid_request_error"]);
  });

  it("Anthropic: budget and rate-limit refusals are rate_limit_error (an hour away: x-should-retry false, the reset in the message), and recorded", async () => {
    for (let i = 0; i < 2; i++) expect((await anthropic(t.keyHeaders("anthropic", "rateLimited"), chatBody("anthropic", "gpt-4o-mini", "hi"))).statusCode).toBe(200);
    const limited = await anthropic(t.keyHeaders("anthropic", "rateLimited"), chatBody("anthropic", "gpt-4o-mini", "hi"));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.type).toBe("rate_limit_error");
    expect([limited.headers["x-should-retry"], limited.headers["retry-after"]]).toEqual(["false", undefined]);
    expect(limited.json().error.message).toMatch(/; resets at \S+Z$/);
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.REFUSED, errorCode: "rate_limit_exceeded", route: "/v1/messages" });
  });

  it("Google: UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, unknown method", async () => {
    const body = chatBody("google", "", "hi");
    const noKey = await gemini("gpt-4o", {}, body);
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json()).toEqual({ error: { code: 401, message: "no API key was provided", status: "UNAUTHENTICATED" } });
    const denied = await gemini("gpt-4o", t.keyHeaders("google", "denyGpt4o"), body);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    const unknown = await gemini("nope", t.keyHeaders("google", "active"), body);
    expect(unknown.json().error).toMatchObject({ code: 404, status: "NOT_FOUND" });
    const invalid = await gemini("gpt-4o", t.keyHeaders("google", "active"), { contents: [] });
    expect(invalid.json().error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT", message: "contents must be a non-empty array" });
    const method = await gemini("gpt-4o", t.keyHeaders("google", "active"), body, "predict");
    expect(method.json().error).toMatchObject({ code: 404, status: "NOT_FOUND" });
    const other = await t.post("/v1beta/tunedModels/x:generateContent", {}, body);
    expect(other.json().error).toMatchObject({ code: 404, status: "NOT_FOUND" });
  });

  it("OpenAI refusals keep the OpenAI shape", async () => {
    const res = await t.post("/v1/chat/completions", {}, chatBody("openai", MODEL_OF.anthropic, "hi"));
    expect(res.json()).toEqual({ error: { message: "no API key was provided", type: "authentication_error", param: null, code: "invalid_api_key" } });
  });

  it.each([
    ["anthropic", "google", 500, 502, "api_error"],
    ["google", "anthropic", 503, 502, "INTERNAL"],
    ["openai", "google", 429, 429, "rate_limit_error"],
    ["anthropic", "openai", 400, 400, "invalid_request_error"],
  ] as const)("%s client, %s upstream answering %i: %i in the client's shape, nothing billed", async (inbound, up, upstreamStatus, status, type) => {
    const model = MODEL_OF[up];
    const res = await t.post(chatUrl(inbound, model), t.keyHeaders(inbound, "active"), chatBody(inbound, model, `fail [[mock:status=${upstreamStatus}]]`));
    expect(res.statusCode).toBe(status);
    const body = res.json();
    const shapeType = inbound === "openai" ? body.error.type : inbound === "anthropic" ? body.error.type : body.error.status;
    expect(shapeType).toBe(type);
    expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, costMicros: 0n, status });
  });

  it("an upstream 400 passes its own message through, read in the upstream's protocol", () => {
    const scrubber = scrubberOfRequest({ url: "http://up/v1/messages", headers: { "x-api-key": "sk-ant-secret-0123456789" } });
    expect(mapUpstreamError("anthropic", 400, { type: "error", error: { type: "invalid_request_error", message: "bad thing" } }, scrubber)).toEqual({
      mapped: { status: 400, code: "invalid_request" },
      message: "bad thing",
    });
    expect(mapUpstreamError("google", 400, { error: { code: 400, message: "API key not valid.", status: "INVALID_ARGUMENT" } }, scrubber).mapped).toEqual({ status: 502, code: "upstream_error" });
    expect(mapUpstreamError("google", 504, null, scrubber)).toEqual({ mapped: { status: 504, code: "upstream_timeout" }, message: "the upstream provider answered 504" });
  });

  it("helpers: path protocols, Gemini targets, stream error events", () => {
    expect([protocolOfPath("/v1/messages?x=1"), protocolOfPath("/v1beta/models/a:b"), protocolOfPath("/v1/chat/completions")]).toEqual(["anthropic", "google", "openai"]);
    expect(parseGeminiTarget("acct/m-1:streamGenerateContent")).toEqual({ model: "acct/m-1", method: "streamGenerateContent" });
    expect(parseGeminiTarget("m-1:predict")).toBeNull();
    expect(parseGeminiTarget(":generateContent")).toBeNull();
    expect(streamErrorEvent("anthropic", "upstream_error", "cut", 502)).toBe('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"cut"}}\n\n');
    expect(protocolErrorBody("google", "not_ready", "later", 503)).toEqual({ error: { code: 503, message: "later", status: "UNAVAILABLE" } });
  });
});
