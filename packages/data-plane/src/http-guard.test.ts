import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { measureJsonDepth } from "./json-body.js";
import { buildProtocolTestApp, chatBody, type ProtocolTestApp } from "./protocols.fixture.js";
import type { UpstreamSend } from "./upstream.client.js";

const neverCalled: UpstreamSend = () => Promise.reject(new Error("the upstream must not be called"));

/** Each route with its protocol and a valid body. */
const ROUTES = [
  { url: "/v1/chat/completions", protocol: "openai", body: chatBody("openai", "gpt-4o-mini", "hi") },
  { url: "/v1/embeddings", protocol: "openai", body: { model: "text-embedding-3-small", input: "hi" } },
  { url: "/v1/messages", protocol: "anthropic", body: chatBody("anthropic", "claude-haiku", "hi") },
  { url: "/v1beta/models/gemini-flash:generateContent", protocol: "google", body: chatBody("google", "gemini-flash", "hi") },
] as const;

/** The error message of a body in any protocol's shape, after checking the shape. */
function messageIn(protocol: string, status: number, body: Record<string, unknown>): string {
  const error = body.error as Record<string, unknown>;
  if (protocol === "anthropic") expect(body.type).toBe("error");
  if (protocol === "google") expect(error.code).toBe(status);
  if (protocol === "openai") expect(error).toHaveProperty("code");
  return String(error.message);
}

function deepJson(depth: number): string {
  return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${"[".repeat(depth)}${"]".repeat(depth)}}`;
}

/** Sends raw bytes to `port` and resolves with everything the server wrote before closing. */
function rawExchange(port: number, chunks: readonly string[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.on("data", (d) => {
      out += d.toString("utf8");
    });
    socket.on("error", (err) => (out === "" ? reject(err) : resolve(out)));
    socket.on("close", () => resolve(out));
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

function bodyOf(raw: string): Record<string, unknown> {
  return JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;
}

describe("JSON bodies", () => {
  let t: ProtocolTestApp;
  afterEach(async () => {
    await t?.app.close();
  });

  it("measures nesting linearly, ignoring brackets inside strings", () => {
    expect(measureJsonDepth('{"a":[1,{"b":"[[[[\\"]]"}]}', 100)).toBe(3);
    expect(measureJsonDepth("[".repeat(1_000_000), 64)).toBe(65);
  });

  it.each(ROUTES)("$url: 10,000-deep JSON is a 400 in its protocol's shape, before any upstream call", async ({ url, protocol }) => {
    t = buildProtocolTestApp("http://mock.invalid", neverCalled, undefined, { jsonMaxDepth: 64 });
    const res = await t.post(url, t.keyHeaders(protocol === "google" ? "google" : protocol, "active"), deepJson(10_000));
    expect(res.statusCode).toBe(400);
    expect(messageIn(protocol, 400, res.json())).toBe("the request body nests objects and arrays deeper than 64 levels");
    expect(t.sent).toHaveLength(0);
  });

  it.each(ROUTES)("$url: a __proto__ key is refused with a message saying so, and pollutes nothing", async ({ url, protocol, body }) => {
    t = buildProtocolTestApp("http://mock.invalid", neverCalled);
    const text = JSON.stringify(body).replace(/^\{/, '{"__proto__":{"polluted":true},');
    const res = await t.post(url, t.keyHeaders(protocol === "google" ? "google" : protocol, "active"), text);
    expect(res.statusCode).toBe(400);
    expect(messageIn(protocol, 400, res.json())).toContain('contains the key "__proto__"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const escaped = JSON.stringify(body).replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},');
    const res2 = await t.post(url, t.keyHeaders(protocol === "google" ? "google" : protocol, "active"), escaped);
    expect(messageIn(protocol, 400, res2.json())).toContain('contains the key "constructor.prototype"');
  });

  it("a __proto__ spelled with escapes, invalid UTF-8 and an empty body say what is wrong", async () => {
    t = buildProtocolTestApp("http://mock.invalid", neverCalled);
    const headers = { "content-type": "application/json", ...t.keyHeaders("openai", "active") };
    const escaped = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), '{"\\u005f_proto__":{"a":1},"model":"gpt-4o-mini","messages":[]}');
    expect(escaped.json().error.message).toContain('"__proto__"');
    const bad = await t.app.inject({ method: "POST", url: "/v1/chat/completions", headers, payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect([bad.statusCode, bad.json().error.message]).toEqual([400, "the request body is not valid UTF-8"]);
    const empty = await t.app.inject({ method: "POST", url: "/v1/messages", headers, payload: "" });
    expect([empty.statusCode, empty.json().type]).toEqual([400, "error"]);
    const text = await t.app.inject({ method: "POST", url: "/v1/chat/completions", headers: { ...headers, "content-type": "text/plain" }, payload: "{oops" });
    expect([text.statusCode, text.json().error.message]).toEqual([400, "the request body is not valid JSON"]);
    const badType = await t.app.inject({ method: "POST", url: "/v1/messages", headers: { ...headers, "content-type": ";;; =" }, payload: "{}" });
    expect([badType.statusCode, badType.json().type, badType.json().error.type]).toEqual([400, "error", "invalid_request_error"]);
  });
});

describe("the HTTP edge on a real socket", () => {
  let t: ProtocolTestApp;
  afterEach(async () => {
    await t?.app.close();
  });

  async function listen(limits: Parameters<typeof buildProtocolTestApp>[3] = {}): Promise<number> {
    t = buildProtocolTestApp("http://mock.invalid", neverCalled, undefined, limits);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
  }

  it.each([
    ["/v1/chat/completions", "openai"],
    ["/v1/messages", "anthropic"],
    ["/v1beta/models/gemini-flash:generateContent", "google"],
  ])("%s: a header over the limit is a 431 in the path's shape", async (path, protocol) => {
    const port = await listen({ maxHeaderBytes: 4096 });
    const raw = await rawExchange(port, [`POST ${path} HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(8_000)}\r\n\r\n`]);
    expect(raw.startsWith("HTTP/1.1 431 ")).toBe(true);
    expect(messageIn(protocol, 431, bodyOf(raw))).toBe("the request headers are larger than 4096 bytes");
  });

  it("a malformed header line is a 400 that names the problem", async () => {
    const port = await listen();
    const raw = await rawExchange(port, ["POST /v1/messages HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n"]);
    expect(raw.startsWith("HTTP/1.1 400 ")).toBe(true);
    expect(messageIn("anthropic", 400, bodyOf(raw))).toMatch(/^malformed HTTP request: /);
  });

  it("a body sent a byte at a time is cut off with a 408 after the request timeout", async () => {
    const port = await listen({ requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 });
    const started = Date.now();
    const head = "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    const raw = await rawExchange(port, [head, ..."{".repeat(100)], 200);
    const elapsed = Date.now() - started;
    expect(raw.startsWith("HTTP/1.1 408 ")).toBe(true);
    expect(messageIn("openai", 408, bodyOf(raw))).toBe("the request body was not received within 1500 ms");
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(3_500);
  });

  it("headers that never finish are cut off with a 408 after the headers timeout (OpenAI's shape: the path is not known yet)", async () => {
    const port = await listen({ requestTimeoutMs: 5_000, headersTimeoutMs: 1_000 });
    const raw = await rawExchange(port, ["POST /v1/messages HTTP/1.1\r\n", ...("x-a: b\r\n".repeat(40).match(/.{1,4}/g) ?? [])], 100);
    expect(raw.startsWith("HTTP/1.1 408 ")).toBe(true);
    expect(messageIn("openai", 408, bodyOf(raw))).toBe("the request headers were not received within 1000 ms");
  });

  it("an oversized upload reads the 413 (fetch, ten times)", async () => {
    const port = await listen({ bodyLimitBytes: 64 * 1024 });
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: "request_too_large",
        message: "the request body is larger than the limit of 65536 bytes",
      });
    }
  });

  it("after a 413 the rest of the body is read and discarded, and the connection stays open for the next request", async () => {
    const port = await listen({ bodyLimitBytes: 64 * 1024 });
    const size = 2 * 1024 * 1024;
    const head = `POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`;
    const next = "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    const raw = await rawExchange(port, [head, "a".repeat(size), next]);
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(["413", "200"]);
    expect(raw).toContain('"type":"request_too_large"');
  });

  it("a body past the drain bound is not read forever: the connection is closed after the 413", async () => {
    const port = await listen({ bodyLimitBytes: 64 * 1024, bodyDrainBytes: 256 * 1024 });
    const size = 4 * 1024 * 1024;
    const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: ${size}\r\n\r\n`;
    const raw = await rawExchange(port, [head, ...Array.from({ length: 64 }, () => "a".repeat(size / 64)), "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"], 5);
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(["413"]);
  });
});
