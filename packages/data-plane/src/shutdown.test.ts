import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, type SubscribeRequest } from "@tollgate/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataPlaneConfig } from "./config.js";
import { nodeDataPaths, startDataPlane } from "./data-plane.server.js";
import { buildTestApp } from "./app.fixture.js";
import { addPolicyService, addUsageService, createFakeUsageService, silentLogger, startLoopbackServer, type LoopbackServer } from "./grpc.fixture.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { ShutdownGate } from "./shutdown-gate.js";
import type { UpstreamSend } from "./upstream.client.js";

const TOKEN = "node-token-for-tests";

describe("a node's graceful close during a long stream", () => {
  let mock: MockProvider;
  let dataDir: string;
  let cp: LoopbackServer;
  const usage = createFakeUsageService();
  let fixture: ReturnType<typeof buildPolicyFixture>;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 4, apiKey: null });
    dataDir = await mkdtemp(join(tmpdir(), "tg-shutdown-"));
    fixture = buildPolicyFixture(mock.baseUrl, 3n);
    cp = await startLoopbackServer((s) => {
      addUsageService(s, usage);
      addPolicyService(s, (call) => {
        call.on("data", (m: SubscribeRequest) => {
          if (m.msg.case === "hello") call.write(toFullUpdate(fixture.snapshot, "n1"));
        });
        call.on("error", () => undefined);
      });
    }, 0);
  });
  afterAll(async () => {
    await cp.close();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("turns not ready, ends the stream with an error event at the deadline and reports its usage before close() resolves", async () => {
    const config = loadDataPlaneConfig({
      TOLLGATE_NODE_TOKEN: TOKEN,
      CONTROL_PLANE_URL: cp.address,
      PORT: "0",
      NODE_ID: "node-s",
      TOLLGATE_DATA_DIR: dataDir,
      LOG_LEVEL: "silent",
      SHUTDOWN_GRACE_MS: "1000",
    });
    const node = await startDataPlane(config, { logger: silentLogger });
    await node.ready;
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${fixture.secrets.active}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "[[mock:completion_tokens=100]] [[mock:chunk_delay_ms=100]] long" }] }),
    });
    expect(res.status).toBe(200);
    const text = res.text();
    const started = Date.now();
    const closed = node.close().then(() => Date.now() - started);
    await new Promise((r) => setTimeout(r, 100));
    const ready = await fetch(`${node.url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    expect(ready).not.toBe(200);
    const body = await text;
    const endedAfter = Date.now() - started;
    const last = body.trim().split("\n\n").at(-1) ?? "";
    expect(JSON.parse(last.replace(/^data: /, ""))).toMatchObject({ error: { code: "overloaded" } });
    expect(endedAfter).toBeGreaterThanOrEqual(900);
    expect(endedAfter).toBeLessThan(2_500);
    const closedAfter = await closed;
    expect(closedAfter).toBeLessThan(6_000);
    const records = usage.batches.flatMap((b) => b.records);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, errorCode: "overloaded", stream: true });
    expect(records[0]?.outputTokens).toBeGreaterThan(0);
  }, 20_000);

  it("lets a stream that ends within the grace period finish normally, and closes as soon as it did", async () => {
    const config = loadDataPlaneConfig({
      TOLLGATE_NODE_TOKEN: TOKEN,
      CONTROL_PLANE_URL: cp.address,
      PORT: "0",
      NODE_ID: "node-t",
      TOLLGATE_DATA_DIR: dataDir,
      LOG_LEVEL: "silent",
      SHUTDOWN_GRACE_MS: "8000",
    });
    const node = await startDataPlane(config, { logger: silentLogger });
    await node.ready;
    const before = usage.batches.flatMap((b) => b.records).length;
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${fixture.secrets.active}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "[[mock:completion_tokens=10]] [[mock:chunk_delay_ms=100]] short" }],
      }),
    });
    const text = res.text();
    const started = Date.now();
    const closed = node.close().then(() => Date.now() - started);
    expect((await text).trim().endsWith("data: [DONE]")).toBe(true);
    expect(await closed).toBeLessThan(4_000);
    const records = usage.batches.flatMap((b) => b.records).slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: Outcome.SUCCESS, outputTokens: 10 });
  }, 20_000);

  it("waits for the control plane's acknowledgement only up to SHUTDOWN_USAGE_FLUSH_MS; what is not acknowledged stays spooled", async () => {
    // A control plane that serves policy but never acknowledges usage (no usage service).
    const mute = await startLoopbackServer((srv) => {
      addPolicyService(srv, (call) => {
        call.on("data", (m: SubscribeRequest) => {
          if (m.msg.case === "hello") call.write(toFullUpdate(fixture.snapshot, "n1"));
        });
        call.on("error", () => undefined);
      });
    }, 0);
    try {
      const config = loadDataPlaneConfig({
        TOLLGATE_NODE_TOKEN: TOKEN,
        CONTROL_PLANE_URL: mute.address,
        PORT: "0",
        NODE_ID: "node-m",
        TOLLGATE_DATA_DIR: dataDir,
        LOG_LEVEL: "silent",
        SHUTDOWN_USAGE_FLUSH_MS: "700",
      });
      const node = await startDataPlane(config, { logger: silentLogger });
      await node.ready;
      const res = await fetch(`${node.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${fixture.secrets.active}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      const started = Date.now();
      await node.close();
      expect(Date.now() - started).toBeLessThan(4_000);
      const spooled = (await readdir(nodeDataPaths(dataDir, "node-m").spool)).filter((f) => f.endsWith(".log"));
      expect(spooled.length).toBeGreaterThan(0);
    } finally {
      await mute.close();
    }
  }, 20_000);
});

describe("the shutdown gate", () => {
  it("announced, reports not ready while still serving; once draining, refuses new requests in the route's protocol, keeps /healthz, and /readyz turns 503", async () => {
    const shutdown = new ShutdownGate();
    const never: UpstreamSend = () => Promise.reject(new Error("not called"));
    const t = buildTestApp({ baseUrl: "http://mock.invalid", upstream: never, shutdown });
    try {
      expect((await t.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
      shutdown.announce();
      expect((await t.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
      const stillServed = await t.post("/v1/chat/completions", "active", { model: "gpt-4o-mini", messages: "not a list" });
      expect(stillServed.json().error.code).toBe("invalid_request");
      shutdown.beginDrain();
      const openai = await t.post("/v1/chat/completions", "active", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
      expect([openai.statusCode, openai.json().error.code, openai.headers.connection]).toEqual([503, "overloaded", "close"]);
      expect(openai.json().error.message).toBe("this gateway node is shutting down; retry the request");
      const anthropic = await t.post("/v1/messages", "active", { model: "gpt-4o-mini", max_tokens: 5, messages: [] });
      expect([anthropic.statusCode, anthropic.json().type, anthropic.json().error.type]).toEqual([503, "error", "overloaded_error"]);
      expect((await t.app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "not_ready", reason: "shutting down" });
      expect((await t.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await t.app.close();
    }
  });

  it("settled() waits for tracked records and open streams, within its bound", async () => {
    const gate = new ShutdownGate();
    let release: () => void = () => undefined;
    gate.track(
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    const closeStream = gate.openStream(() => undefined);
    expect(await gate.settled(150)).toBe(false);
    release();
    expect(await gate.settled(150)).toBe(false);
    let ended = 0;
    const closeSecond = gate.openStream(() => ended++);
    expect(gate.endStreams()).toBe(2);
    expect(ended).toBe(1);
    closeStream();
    expect(gate.openStreams).toBe(1);
    closeSecond();
    expect(await gate.settled(150)).toBe(true);
  });
});
