import { describe, expect, it } from "vitest";
import { grantRateUnits, outageAllowance, sizeRateClaim } from "./rate-allocation.js";
import { nodeShareOf, RateLimiter } from "./rate-limiter.js";
import { rateLimit } from "./test-fixtures.js";

const perMinute = rateLimit("rl_req", "VIRTUAL_KEY", "vk_ci", "REQUESTS", 3, 60);
const tokens = rateLimit("rl_tok", "TEAM", "team_search", "TOKENS", 1_000, 60);
const one = { requests: 1, tokens: 100 };

describe("rate allocation rules", () => {
  it.each([
    // limit, allocated, needed, want, nodes -> granted
    [3, 0, 1, 1, 2, 1],
    [3, 0, 1, 5, 1, 2],
    [3, 0, 1, 5, 2, 1],
    [3, 2, 1, 2, 2, 1],
    [3, 3, 1, 1, 2, 0],
    [1_000, 900, 200, 200, 2, 0],
    [1_000, 800, 200, 50, 2, 200],
    [1_000, 0, 1, 1_000, 2, 250],
    [1_000, 0, 1, 100, 2, 100],
    [10, 12, 1, 1, 2, 0],
    [10, 0, 0, 0, 2, 1],
  ])("limit %i, allocated %i, needed %i, want %i, %i nodes -> %i", (limit, allocated, needed, want, nodes, granted) => {
    expect(grantRateUnits(limit, allocated, needed, want, nodes)).toBe(granted);
  });

  it.each([
    // limit, allocatedKnown, needed, nodes -> want
    [3, 0, 1, 2, 1],
    [600, 0, 1, 2, 150],
    [600, 500, 1, 2, 25],
    [600, 600, 1, 2, 1],
    [1_000, 0, 400, 3, 400],
  ])("claim for limit %i, known allocated %i, needed %i over %i nodes -> %i", (limit, allocated, needed, nodes, want) => {
    expect(sizeRateClaim(limit, allocated, needed, nodes)).toBe(want);
  });

  it("an outage allows the larger of the window's grant and the last share", () => {
    expect(outageAllowance(5, 2)).toBe(5);
    expect(outageAllowance(0, 2)).toBe(2);
  });
});

describe("RateLimiter", () => {
  it.each([
    [10, 0, 10],
    [10, 1, 10],
    [10, 3, 4],
    [10, 20, 1],
    [0, 2, 0],
  ])("limit %i over %i nodes -> fallback share %i", (limit, nodes, share) => {
    expect(nodeShareOf(limit, nodes)).toBe(share);
  });

  it("held: admits only allocated units, asks to borrow the rest, reports the key's limit", () => {
    const limiter = new RateLimiter();
    const t = 130_000;
    const first = limiter.check([perMinute], one, t, 2, "held");
    expect(first).toMatchObject({ ok: false, limit: 3, remaining: 3, shortfalls: [{ rateLimitId: "rl_req", windowStart: 120_000, needed: 1, want: 1 }] });
    limiter.applyAllocation(perMinute, 120_000, 2, 2, t);
    for (let i = 0; i < 2; i++) {
      expect(limiter.check([perMinute], one, t + i, 2, "held")).toEqual({ ok: true });
      limiter.consume([perMinute], one, t + i);
    }
    expect(limiter.status(perMinute, t + 2)).toEqual({ rateLimitId: "rl_req", unit: "REQUESTS", limit: 3, remaining: 1, resetMs: 49_998 });
    // another node took the last unit: this node learns the pool is spent and stops asking
    limiter.applyAllocation(perMinute, 120_000, 0, 3, t + 3);
    const hit = limiter.check([perMinute], one, t + 5, 2, "held");
    expect(hit).toMatchObject({ ok: false, limit: 3, remaining: 0, retryAfterMs: 49_995, shortfalls: [] });
    expect(limiter.check([perMinute], one, 180_000, 2, "held")).toMatchObject({ ok: false, remaining: 3, shortfalls: [{ windowStart: 180_000 }] });
  });

  it("an allocation answer for a window that has ended is ignored", () => {
    const limiter = new RateLimiter();
    limiter.applyAllocation(perMinute, 0, 3, 3, 60_001);
    expect(limiter.available(perMinute, 60_001, "held")).toBe(0);
  });

  it("fallback: admits up to the last share (or the window's grant) when the control plane is unreachable", () => {
    const limiter = new RateLimiter();
    limiter.consume([perMinute], one, 0);
    limiter.consume([perMinute], one, 1);
    expect(limiter.check([perMinute], one, 2, 2, "fallback")).toMatchObject({ ok: false, limit: 3, remaining: 0 });
    // the headers never promise more than the node can admit on its own: 1 cluster-wide, 0 here
    expect(limiter.status(perMinute, 2, "held")).toMatchObject({ limit: 3, remaining: 1 });
    expect(limiter.status(perMinute, 2, "fallback", 2)).toMatchObject({ limit: 3, remaining: 0 });
    expect(limiter.check([perMinute], one, 2, 1, "fallback")).toEqual({ ok: true });
    const granted = new RateLimiter();
    granted.applyAllocation(perMinute, 0, 3, 3, 0);
    granted.consume([perMinute], one, 0);
    granted.consume([perMinute], one, 1);
    expect(granted.check([perMinute], one, 2, 2, "fallback")).toEqual({ ok: true });
  });

  it("estimate (Simulator): passes while the best-known remainder covers the request", () => {
    const limiter = new RateLimiter();
    expect(limiter.check([perMinute], one, 0, 2, "estimate")).toEqual({ ok: true });
    limiter.applyAllocation(perMinute, 0, 1, 3, 0);
    expect(limiter.check([perMinute], one, 0, 2, "estimate")).toEqual({ ok: true });
    limiter.consume([perMinute], one, 0);
    expect(limiter.check([perMinute], one, 0, 2, "estimate")).toMatchObject({ ok: false, remaining: 0 });
  });

  it("counts tokens and adjusts them to the actual count on settlement", () => {
    const limiter = new RateLimiter();
    limiter.applyAllocation(tokens, 0, 1_000, 1_000, 0);
    const charges = limiter.consume([perMinute, tokens], { requests: 1, tokens: 900 }, 0);
    expect(limiter.check([tokens], { requests: 1, tokens: 200 }, 1, 1, "held")).toMatchObject({ ok: false, remaining: 100, shortfalls: [] });
    limiter.adjust(charges, 300);
    expect(limiter.status(tokens, 2)).toMatchObject({ remaining: 700 });
    expect(limiter.status(perMinute, 2)).toMatchObject({ remaining: 2 });
    expect(limiter.check([tokens], { requests: 1, tokens: 700 }, 3, 1, "held")).toEqual({ ok: true });
  });

  it("does not adjust a window that has already rolled", () => {
    const limiter = new RateLimiter();
    const charges = limiter.consume([tokens], { requests: 1, tokens: 900 }, 59_000);
    limiter.consume([tokens], { requests: 1, tokens: 50 }, 60_000);
    limiter.adjust(charges, 0);
    expect(limiter.status(tokens, 60_001)).toMatchObject({ remaining: 950 });
  });
});
