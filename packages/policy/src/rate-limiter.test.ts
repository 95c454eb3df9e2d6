import { describe, expect, it } from "vitest";
import { nodeShareOf, RateLimiter } from "./rate-limiter.js";
import { rateLimit } from "./test-fixtures.js";

const perMinute = rateLimit("rl_req", "VIRTUAL_KEY", "vk_ci", "REQUESTS", 3, 60);
const tokens = rateLimit("rl_tok", "TEAM", "team_search", "TOKENS", 1_000, 60);
const one = { requests: 1, tokens: 100 };

describe("RateLimiter", () => {
  it.each([
    [10, 0, 10],
    [10, 1, 10],
    [10, 3, 4],
    [10, 20, 1],
    [0, 2, 0],
  ])("limit %i over %i nodes -> share %i", (limit, nodes, share) => {
    expect(nodeShareOf(limit, nodes)).toBe(share);
  });

  it("admits up to the limit in a window, then refuses until the window resets", () => {
    const limiter = new RateLimiter();
    const t = 120_000 + 10_000;
    for (let i = 0; i < 3; i++) {
      expect(limiter.check([perMinute], one, t + i)).toEqual({ ok: true });
      limiter.consume([perMinute], one, t + i);
    }
    const hit = limiter.check([perMinute], one, t + 5);
    expect(hit).toMatchObject({ ok: false, rateLimitId: "rl_req", limit: 3, remaining: 0, retryAfterMs: 49_995, resetMs: 49_995 });
    expect(limiter.check([perMinute], one, 180_000)).toEqual({ ok: true });
  });

  it("splits the limit across connected nodes", () => {
    const limiter = new RateLimiter();
    limiter.consume([perMinute], one, 0);
    limiter.consume([perMinute], one, 1);
    expect(limiter.check([perMinute], one, 2, 2)).toMatchObject({ ok: false, limit: 2 });
    expect(limiter.check([perMinute], one, 2, 1)).toEqual({ ok: true });
  });

  it("counts tokens and adjusts them to the actual count on settlement", () => {
    const limiter = new RateLimiter();
    const charges = limiter.consume([perMinute, tokens], { requests: 1, tokens: 900 }, 0);
    expect(limiter.check([tokens], { requests: 1, tokens: 200 }, 1)).toMatchObject({ ok: false, remaining: 100 });
    limiter.adjust(charges, 300);
    expect(limiter.status(tokens, 2)).toMatchObject({ remaining: 700 });
    expect(limiter.status(perMinute, 2)).toMatchObject({ remaining: 2 });
    expect(limiter.check([tokens], { requests: 1, tokens: 700 }, 3)).toEqual({ ok: true });
  });

  it("does not adjust a window that has already rolled", () => {
    const limiter = new RateLimiter();
    const charges = limiter.consume([tokens], { requests: 1, tokens: 900 }, 59_000);
    limiter.consume([tokens], { requests: 1, tokens: 50 }, 60_000);
    limiter.adjust(charges, 0);
    expect(limiter.status(tokens, 60_001)).toMatchObject({ remaining: 950 });
  });
});
