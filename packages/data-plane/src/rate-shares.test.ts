import { create } from "@bufbuild/protobuf";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { PolicyUpdateSchema } from "@tollgate/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./app.fixture.js";
import { toFullUpdate } from "./policy.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

const CHAT = "/v1/chat/completions";
const say = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 };

describe("demand-based rate-limit shares on the node", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 3 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 400, idleMs: 400, totalMs: 5_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });

  it("enforces the share a shares_only update sends, keeps the policy version, and drops shares a later update omits", async () => {
    // The fixture's key "rateLimited" has rl_requests: 2 requests per hour; 3 nodes split it evenly as ceil(2/3) = 1.
    const now = Date.UTC(2025, 0, 15, 12, 30);
    const t = buildTestApp({ baseUrl: mock.baseUrl, upstream: upstream.send, now: () => now });
    try {
      const version = t.store.heldVersion();
      let applied = 0;
      t.store.onApplied(() => applied++);
      t.store.applyUpdate(create(PolicyUpdateSchema, { version, full: false, connectedNodes: 3 }));
      expect(t.store.current()?.connectedNodes).toBe(3);
      applied = 0;

      // the control plane gives this busy node 2 of the limit (the others get 0 at this tiny limit)
      const result = t.store.applyUpdate(create(PolicyUpdateSchema, { version, sharesOnly: true, connectedNodes: 3, rateLimitShares: { rl_requests: 2 } }));
      expect(result).toMatchObject({ applied: true, version });
      expect(applied).toBe(0); // not a new policy
      expect(t.store.heldVersion()).toBe(version);
      expect(t.store.rateLimitShares()).toEqual(new Map([["rl_requests", 2]]));

      const first = await t.post(CHAT, "rateLimited", say);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.headers["x-ratelimit-limit-requests"]).toBe("2");
      expect((await t.post(CHAT, "rateLimited", say)).statusCode).toBe(200);
      const third = await t.post(CHAT, "rateLimited", say);
      expect(third.statusCode).toBe(429);
      expect(third.json().error.code).toBe("rate_limit_exceeded");

      // a shares_only update for an older version is stale: ignored
      expect(t.store.applyUpdate(create(PolicyUpdateSchema, { version: version - 1n, sharesOnly: true, rateLimitShares: { rl_requests: 0 } })).applied).toBe(false);
      const held = t.store.current()?.index.rateLimit("rl_requests");
      expect(held && t.limiter.shareOf(held, 3)).toBe(2);

      // a new policy version without shares: back to the even split ceil(2 / 3) = 1
      const next = toFullUpdate({ ...t.fixture.snapshot, version: version + 1n });
      next.connectedNodes = 3;
      expect(t.store.applyUpdate(next).applied).toBe(true);
      expect(applied).toBe(1);
      expect(t.store.rateLimitShares().size).toBe(0);
      const rl = t.store.current()?.index.rateLimit("rl_requests");
      expect(rl).not.toBeNull();
      if (rl) expect(t.limiter.shareOf(rl, 3)).toBe(1);
    } finally {
      await t.app.close();
    }
  });
});
