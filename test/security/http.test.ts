/**
 * Issue 8, rows "JSON nested 10,000 deep", "SIGTERM during a long stream" and the HTTP items of
 * "Also seen", on real processes (mock provider, control plane, one data-plane node): every bad
 * request is answered in the route's protocol shape with a message that says what was wrong; slow
 * bodies are cut off with a 408; a 40 MB upload reads the 413 with curl and fetch alike; and a
 * node stopped during long streams ends each one with its protocol's error event and delivers
 * their usage to the control plane before it exits.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { createKey, keyUsage, setupTenant, type Tenant, type TestKey } from "../support/tenant.js";

const run = promisify(execFile);
const REQUEST_TIMEOUT_MS = 3_000;
const GRACE_MS = 3_000;

let stack: Stack;
let tenant: Tenant;
let key: TestKey;
let dir: string;

const node = (): string => stack.nodeUrls[0] ?? "";
const port = (): number => Number(new URL(node()).port);

type Protocol = "openai" | "anthropic" | "google";

/** Each JSON route with its protocol and a valid body for the tenant's model. */
const ROUTES: readonly { path: string; protocol: Protocol; body: Record<string, unknown> }[] = [
  { path: "/v1/chat/completions", protocol: "openai", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] } },
  { path: "/v1/embeddings", protocol: "openai", body: { model: "gpt-4o-mini", input: "hi" } },
  { path: "/v1/completions", protocol: "openai", body: { model: "gpt-4o-mini", prompt: "hi" } },
  { path: "/v1/responses", protocol: "openai", body: { model: "gpt-4o-mini", input: "hi" } },
  { path: "/v1/messages", protocol: "anthropic", body: { model: "gpt-4o-mini", max_tokens: 20, messages: [{ role: "user", content: "hi" }] } },
  { path: "/v1beta/models/gpt-4o-mini:generateContent", protocol: "google", body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] } },
];

function authHeaders(protocol: Protocol): Record<string, string> {
  if (protocol === "anthropic") return { "x-api-key": key.secret };
  return protocol === "google" ? { "x-goog-api-key": key.secret } : { authorization: `Bearer ${key.secret}` };
}

/** Checks `body` is an error in `protocol`'s shape with `status`, and returns its message. */
function errorMessage(protocol: Protocol, status: number, body: unknown): string {
  const b = body as { type?: string; error?: { message?: string; code?: unknown; type?: string; status?: string } };
  expect(b.error).toBeDefined();
  if (protocol === "anthropic") expect([b.type, typeof b.error?.type]).toEqual(["error", "string"]);
  if (protocol === "google") expect([b.error?.code, typeof b.error?.status]).toEqual([status, "string"]);
  if (protocol === "openai") expect(typeof b.error?.code).toBe("string");
  return b.error?.message ?? "";
}

/** Writes `chunks` on a raw connection to `port()` (`gapMs` apart) and resolves with all the server wrote until it closed. */
function rawExchange(chunks: readonly string[], gapMs = 0, to = port()): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(to, "127.0.0.1");
    let text = "";
    const done = (): void => resolve({ text, ms: Date.now() - started });
    socket.on("data", (d) => {
      text += d.toString("utf8");
    });
    socket.on("error", done);
    socket.on("close", done);
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

const bodyOf = (raw: string): unknown => JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tollgate-http-"));
  stack = await startStack(1, {
    controlPlaneEnv: { CONTROL_PLANE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), CONTROL_PLANE_HEADERS_TIMEOUT_MS: "2000" },
    nodeEnv: () => ({ DATA_PLANE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATA_PLANE_HEADERS_TIMEOUT_MS: "2000", SHUTDOWN_GRACE_MS: String(GRACE_MS) }),
  });
  tenant = await setupTenant(stack.gql, stack.mockUrl);
  key = await createKey(stack.gql, tenant.orgId, "http-key");
  // The key reaches the node through the policy stream.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${node()}/v1/models`, { headers: { authorization: `Bearer ${key.secret}` } });
    if (res.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("bad requests are answered in the route's protocol", () => {
  it.each(ROUTES)("$path: JSON nested 10,000 deep is a 400 saying so", async ({ path: route, protocol, body }) => {
    const deep = JSON.stringify(body).replace(/^\{/, `{"x":${"[".repeat(10_000)}${"]".repeat(10_000)},`);
    const res = await fetch(`${node()}${route}`, { method: "POST", headers: { "content-type": "application/json", ...authHeaders(protocol) }, body: deep });
    expect(res.status).toBe(400);
    expect(errorMessage(protocol, 400, await res.json())).toBe("the request body nests objects and arrays deeper than 64 levels");
  });

  it.each(ROUTES)("$path: a __proto__ key is refused by name (not as invalid JSON), and the node keeps serving", async ({ path: route, protocol, body }) => {
    const text = JSON.stringify(body).replace(/^\{/, '{"__proto__":{"isAdmin":true},');
    const res = await fetch(`${node()}${route}`, { method: "POST", headers: { "content-type": "application/json", ...authHeaders(protocol) }, body: text });
    expect(res.status).toBe(400);
    expect(errorMessage(protocol, 400, await res.json())).toContain('contains the key "__proto__"');
    const ok = await fetch(`${node()}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...authHeaders("openai") }, body: JSON.stringify(ROUTES[0]?.body) });
    expect(ok.status).toBe(200);
  });

  it.each([
    ["/v1/chat/completions", "openai"],
    ["/v1/messages", "anthropic"],
    ["/v1beta/models/gpt-4o-mini:generateContent", "google"],
  ] as const)("%s: a 64 KB header is a 431 in the path's shape (raw socket and curl)", async (route, protocol) => {
    const raw = await rawExchange([`POST ${route} HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(64 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`]);
    expect(raw.text.startsWith("HTTP/1.1 431 ")).toBe(true);
    expect(errorMessage(protocol, 431, bodyOf(raw.text))).toBe("the request headers are larger than 16384 bytes");
    const { stdout } = await run("curl", ["-s", "-H", `x-big: ${"a".repeat(64 * 1024)}`, "-H", "content-type: application/json", "-d", "{}", "-w", "\n%{http_code}", `${node()}${route}`]);
    const [json, code] = [stdout.slice(0, stdout.lastIndexOf("\n")), stdout.slice(stdout.lastIndexOf("\n") + 1)];
    expect(code).toBe("431");
    expect(errorMessage(protocol, 431, JSON.parse(json))).toContain("headers are larger");
  });

  it("a malformed request line and a bad header are 400s that say what was wrong", async () => {
    const badHeader = await rawExchange(["POST /v1/messages HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n"]);
    expect(badHeader.text.startsWith("HTTP/1.1 400 ")).toBe(true);
    expect(errorMessage("anthropic", 400, bodyOf(badHeader.text))).toBe("malformed HTTP request: a header name or value holds a character that is not allowed");
    const both = await rawExchange(["POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}"]);
    expect(both.text.startsWith("HTTP/1.1 400 ")).toBe(true);
    expect(errorMessage("openai", 400, bodyOf(both.text))).toMatch(/^malformed HTTP request: /);
  });

  it("a body sent a byte per second is cut off with a 408 within the request timeout", async () => {
    const head = `POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-api-key: ${key.secret}\r\ncontent-length: 200\r\n\r\n`;
    const raw = await rawExchange([head, ..."{".repeat(200)], 1_000);
    expect(raw.text.startsWith("HTTP/1.1 408 ")).toBe(true);
    expect(errorMessage("anthropic", 408, bodyOf(raw.text))).toBe(`the request body was not received within ${REQUEST_TIMEOUT_MS} ms`);
    expect(raw.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(raw.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
    console.log(`[http] a body sent a byte per second: 408 after ${raw.ms} ms (request timeout ${REQUEST_TIMEOUT_MS} ms)`);
  });

  it("the control plane's GraphQL endpoint cuts off a slow body with a 408 too", async () => {
    const head = "POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n";
    const raw = await rawExchange([head, ..."{".repeat(200)], 1_000, Number(new URL(stack.graphqlUrl).port));
    expect(raw.text.startsWith("HTTP/1.1 408 ")).toBe(true);
    expect(raw.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
  });

  it("a 40 MB upload reads the 413 every time, with curl and with fetch", async () => {
    const file = path.join(dir, "big.json");
    const big = Buffer.alloc(40 * 1024 * 1024, 0x61);
    writeFileSync(file, big);
    const url = `${node()}/v1/chat/completions`;
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const { stdout } = await run(
        "curl",
        ["-s", "-S", "-H", "content-type: application/json", "-H", `authorization: Bearer ${key.secret}`, "--data-binary", `@${file}`, "-w", "\n%{http_code}", url],
        { maxBuffer: 1 << 20 },
      );
      const code = stdout.slice(stdout.lastIndexOf("\n") + 1);
      expect(code).toBe("413");
      expect(errorMessage("openai", 413, JSON.parse(stdout.slice(0, stdout.lastIndexOf("\n"))))).toBe("the request body is larger than the limit of 4194304 bytes");
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` }, body: big });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
    }
    console.log(`[http] 40 MB uploads: 10 of 10 read the 413 (5 curl, 5 fetch) in ${Date.now() - started} ms`);
  }, 60_000);
});

/** Starts a long stream on `protocol`'s route and resolves once its first bytes arrived, with a promise of the whole text. */
async function openLongStream(protocol: Protocol): Promise<{ text: Promise<string> }> {
  const prompt = "[[mock:completion_tokens=200]] [[mock:chunk_delay_ms=250]] tell me a long story";
  const request = {
    openai: { path: "/v1/chat/completions", body: { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: prompt }] } },
    anthropic: { path: "/v1/messages", body: { model: "gpt-4o-mini", stream: true, max_tokens: 500, messages: [{ role: "user", content: prompt }] } },
    google: { path: "/v1beta/models/gpt-4o-mini:streamGenerateContent?alt=sse", body: { contents: [{ role: "user", parts: [{ text: prompt }] }] } },
  }[protocol];
  const res = await fetch(`${node()}${request.path}`, { method: "POST", headers: { "content-type": "application/json", ...authHeaders(protocol) }, body: JSON.stringify(request.body) });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const first = await reader.read();
  text += decoder.decode(first.value ?? new Uint8Array(), { stream: true });
  const rest = async (): Promise<string> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  };
  return { text: rest() };
}

describe("SIGTERM during long streams", () => {
  it("ends each stream with its protocol's error event and delivers their usage before the node exits", async () => {
    const before = await keyUsage(stack.gql, tenant.orgId, key.id);
    const streams = { openai: (await openLongStream("openai")).text, anthropic: (await openLongStream("anthropic")).text, google: (await openLongStream("google")).text };
    const nodeProcess = stack.nodes[0];
    if (!nodeProcess) throw new Error("no node");
    const exited = new Promise<number | null>((resolve) => nodeProcess.child.once("exit", (code) => resolve(code)));
    const signalledAt = Date.now();
    nodeProcess.child.kill("SIGTERM");
    // Readiness turns false at once while the streams go on.
    await new Promise((r) => setTimeout(r, 300));
    const ready = await fetch(`${node()}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    expect(ready).not.toBe(200);
    const [openai, anthropic, google] = await Promise.all([streams.openai, streams.anthropic, streams.google]);
    const endedAfter = Date.now() - signalledAt;
    expect(endedAfter).toBeGreaterThanOrEqual(GRACE_MS - 200);
    expect(endedAfter).toBeLessThan(GRACE_MS + 3_000);
    const lastEvent = (text: string): string =>
      text
        .trim()
        .split(/\r?\n\r?\n/)
        .at(-1) ?? "";
    expect(lastEvent(openai)).toMatch(/^data: \{"error":\{"message":"this gateway node is shutting down/);
    expect(JSON.parse(lastEvent(openai).slice(6))).toMatchObject({ error: { code: "overloaded" } });
    expect(lastEvent(anthropic)).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(lastEvent(anthropic).split("\ndata: ")[1] ?? "")).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    expect(JSON.parse(lastEvent(google).slice(6))).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    const code = await exited;
    expect(code).toBe(0);
    console.log(`[http] SIGTERM during 3 streams: error events after ${endedAfter} ms (grace ${GRACE_MS} ms), node exited after ${Date.now() - signalledAt} ms with their usage delivered`);
    // The node is gone and not restarted: the three streams' usage reached the control plane before it exited.
    const after = await keyUsage(stack.gql, tenant.orgId, key.id);
    expect(after.requests - before.requests).toBe(3);
    expect(Number(after.cost)).toBeGreaterThan(Number(before.cost));
  }, 60_000);
});
