/**
 * Rate limits over two nodes through the real request path and the real `RateAllocator`, against
 * a loopback PolicyService whose AcquireRateUnits keeps one pool per window with the control
 * plane's rule (`grantRateUnits`).
 */
import { create } from "@bufbuild/protobuf";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { grantRateUnits, type RateLimiter } from "@tollgate/policy";
import { AcquireRateUnitsResponseSchema, PolicyUpdateSchema, RateUnitGrantSchema, policyServiceDefinition, type AcquireRateUnitsRequest } from "@tollgate/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "./app.fixture.js";
import { createControlPlaneLink } from "./control-plane-link.js";
import { silentLogger, startLoopbackServer } from "./grpc.fixture.js";
import { buildPolicyFixture } from "./policy.fixture.js";
import type { PolicyStore } from "./policy-store.js";
import { RateAllocator } from "./rate-allocator.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

const CHAT = "/v1/chat/completions";
const say = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 };
const NOW = Date.UTC(2025, 0, 15, 12, 30);

interface PoolServer {
  readonly address: string;
  readonly calls: AcquireRateUnitsRequest[];
  close(): Promise<void>;
}

/** A PolicyService whose AcquireRateUnits allocates from one pool per window (limit 2, the fixture's `rl_requests`). */
async function startPoolServer(behaviour: { delayMs?: number; fail?: boolean; unserved?: boolean } = {}): Promise<PoolServer> {
  const pool = new Map<string, number>();
  const calls: AcquireRateUnitsRequest[] = [];
  const server = await startLoopbackServer((s) =>
    s.addService(policyServiceDefinition, {
      subscribe: () => undefined,
      acquireRateUnits: (call: { request: AcquireRateUnitsRequest }, cb: (e: { code: number; details: string } | null, r?: unknown) => void) => {
        calls.push(call.request);
        if (behaviour.fail) return cb({ code: 14, details: "unavailable" });
        const grants = call.request.requests.map((r) => {
          const key = `${r.rateLimitId}@${r.windowStartMs}`;
          const before = pool.get(key) ?? 0;
          if (behaviour.unserved) return create(RateUnitGrantSchema, { rateLimitId: r.rateLimitId, windowStartMs: r.windowStartMs, granted: 0, allocated: 0, limit: 0 });
          const granted = grantRateUnits(2, before, r.needed, r.want, call.request.connectedNodes);
          pool.set(key, before + granted);
          return create(RateUnitGrantSchema, { rateLimitId: r.rateLimitId, windowStartMs: r.windowStartMs, granted, allocated: before + granted, limit: 2 });
        });
        setTimeout(() => cb(null, create(AcquireRateUnitsResponseSchema, { grants })), behaviour.delayMs ?? 0);
      },
    }),
  );
  return { address: server.address, calls, close: () => server.close() };
}

describe("rate limits over two nodes (real allocator, loopback control plane)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 3 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, totalMs: 5_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** Two nodes on one fixture (same keys), both connected to `server`, each told 2 nodes are connected. */
  async function twoNodes(server: PoolServer, timeoutMs = 500): Promise<[TestApp, TestApp]> {
    const fixture = buildPolicyFixture(mock.baseUrl);
    const link = createControlPlaneLink([server.address], "tok");
    cleanups.push(async () => link.close());
    const make = (nodeId: string) => {
      const rates = (limiter: RateLimiter, store: PolicyStore) => new RateAllocator({ limiter, store, link, nodeId, bootId: "b", now: () => NOW, logger: silentLogger, timeoutMs });
      const t = buildTestApp({ baseUrl: mock.baseUrl, upstream: upstream.send, now: () => NOW, fixture, nodeId, rates });
      t.store.applyUpdate(create(PolicyUpdateSchema, { version: t.store.heldVersion(), full: false, connectedNodes: 2 }));
      t.store.setConnected(true);
      cleanups.push(() => t.app.close());
      return t;
    };
    return [make("node-a"), make("node-b")];
  }

  it("all traffic on one node: the whole limit (2) is admitted, then 429 with the key's limit in the headers", async () => {
    const server = await startPoolServer();
    cleanups.push(() => server.close());
    const [a] = await twoNodes(server);
    const first = await a.post(CHAT, "rateLimited", say);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.headers["x-ratelimit-limit-requests"]).toBe("2");
    expect(first.headers["x-ratelimit-remaining-requests"]).toBe("1");
    expect((await a.post(CHAT, "rateLimited", say)).statusCode).toBe(200);
    const third = await a.post(CHAT, "rateLimited", say);
    expect(third.statusCode).toBe(429);
    expect(third.json().error.code).toBe("rate_limit_exceeded");
    expect(third.headers["x-ratelimit-limit-requests"]).toBe("2");
    expect(third.headers["x-ratelimit-remaining-requests"]).toBe("0");
    // the node knew the pool was spent: the refusal cost no call
    expect(server.calls).toHaveLength(2);
    expect(server.calls[0]).toMatchObject({ nodeId: "node-a", connectedNodes: 2, requests: [{ rateLimitId: "rl_requests", needed: 1 }] });
  });

  it("traffic alternating between the nodes: 2 admitted in total, then 429 on either", async () => {
    const server = await startPoolServer();
    cleanups.push(() => server.close());
    const [a, b] = await twoNodes(server);
    expect((await a.post(CHAT, "rateLimited", say)).statusCode).toBe(200);
    expect((await b.post(CHAT, "rateLimited", say)).statusCode).toBe(200);
    const refusedA = await a.post(CHAT, "rateLimited", say);
    expect(refusedA.statusCode).toBe(429);
    expect(refusedA.headers["x-ratelimit-limit-requests"]).toBe("2");
    expect((await b.post(CHAT, "rateLimited", say)).statusCode).toBe(429);
  });

  it("a burst on one node: 2 admitted of 6 concurrent, in at most three calls", async () => {
    const server = await startPoolServer({ delayMs: 20 });
    cleanups.push(() => server.close());
    const [a] = await twoNodes(server);
    const codes = (await Promise.all(Array.from({ length: 6 }, () => a.post(CHAT, "rateLimited", say)))).map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(2);
    expect(codes.filter((c) => c === 429)).toHaveLength(4);
    expect(server.calls.length).toBeLessThanOrEqual(3);
  });

  it("a control plane that fails, is too slow, or does not serve the window: the node's last share applies (ceil(2 / 2) = 1), within the short deadline", async () => {
    for (const behaviour of [{ fail: true }, { delayMs: 1_000 }, { unserved: true }]) {
      const server = await startPoolServer(behaviour);
      cleanups.push(() => server.close());
      const [a] = await twoNodes(server, 100);
      const started = performance.now();
      expect((await a.post(CHAT, "rateLimited", say)).statusCode).toBe(200);
      expect(performance.now() - started).toBeLessThan(800);
      const second = await a.post(CHAT, "rateLimited", say);
      expect(second.statusCode).toBe(429);
      expect(second.headers["x-ratelimit-limit-requests"]).toBe("2");
    }
  });
});
