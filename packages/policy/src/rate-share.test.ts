import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";
import { allocateRateShares, defaultMinimumShare, sharesChanged } from "./rate-share.js";
import type { RateLimitPolicy } from "./model.js";

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe("allocateRateShares", () => {
  it("splits by demand, keeps the minimum, and sums to the limit exactly", () => {
    const shares = allocateRateShares(60, [80, 10, 10]);
    expect(sum(shares)).toBe(60);
    // minimum 1 each, the other 57 by demand: 45.6, 5.7, 5.7 -> 45, 5, 5 and the 2 left to the largest remainders
    expect(shares).toEqual([46, 7, 7]);
  });

  it("falls back to the even split when nothing was demanded", () => {
    expect(allocateRateShares(60, [0, 0, 0])).toEqual([20, 20, 20]);
    expect(allocateRateShares(10, [0, 0, 0])).toEqual([4, 3, 3]);
  });

  it("gives an idle node its minimum and the rest to the busy one", () => {
    expect(allocateRateShares(1000, [5, 0], 25)).toEqual([975, 25]);
    expect(defaultMinimumShare(1000, 2)).toBe(25);
  });

  it("never exceeds the limit when it is smaller than the node count", () => {
    const shares = allocateRateShares(2, [1, 5, 3]);
    expect(sum(shares)).toBe(2);
    expect(shares).toEqual([0, 1, 1]);
  });

  it("holds sum == limit, the floor and proportionality on random inputs", () => {
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 2000; round++) {
      const n = 1 + Math.floor(rand() * 8);
      const limit = Math.floor(rand() * 5000);
      const demands = Array.from({ length: n }, () => (rand() < 0.3 ? 0 : Math.floor(rand() * 1000)));
      const minimum = defaultMinimumShare(limit, n);
      const shares = allocateRateShares(limit, demands, minimum);
      expect(sum(shares)).toBe(limit);
      const floorShare = Math.min(minimum, Math.floor(limit / n));
      for (const s of shares) expect(s).toBeGreaterThanOrEqual(floorShare);
      // proportional: more demand never gets a smaller share (ties within the rounding unit)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          if ((demands[i] as number) > (demands[j] as number)) expect(shares[i] as number).toBeGreaterThanOrEqual((shares[j] as number) - 1);
        }
      const demandSum = sum(demands);
      if (demandSum > 0) {
        const rest = limit - floorShare * n;
        shares.forEach((s, i) => expect(Math.abs(s - floorShare - (rest * (demands[i] as number)) / demandSum)).toBeLessThan(1));
      }
    }
  });
});

describe("sharesChanged", () => {
  it("ignores changes of 10% or less and sees new or dropped ids", () => {
    expect(sharesChanged(new Map([["rl_a", 100]]), new Map([["rl_a", 109]]))).toBe(false);
    expect(sharesChanged(new Map([["rl_a", 100]]), new Map([["rl_a", 111]]))).toBe(true);
    expect(sharesChanged(new Map([["rl_a", 100]]), new Map())).toBe(true);
    expect(sharesChanged(new Map(), new Map([["rl_b", 3]]))).toBe(true);
  });
});

describe("RateLimiter with demand-based shares", () => {
  const policy: RateLimitPolicy = { id: "rl_1", organizationId: "org_1", scope: "VIRTUAL_KEY", scopeId: "vk_1", unit: "REQUESTS", limit: 60, windowSeconds: 10, scopeLabel: "key" };

  it("enforces the share set for a limit while the control plane is unreachable, and the even split for others", () => {
    const limiter = new RateLimiter();
    const now = 1_000_000;
    expect(limiter.shareOf(policy, 3)).toBe(20);
    limiter.setShares(new Map([["rl_1", 47]]));
    expect(limiter.shareOf(policy, 3)).toBe(47);
    for (let i = 0; i < 47; i++) {
      expect(limiter.check([policy], { requests: 1, tokens: 0 }, now, 3).ok).toBe(true);
      limiter.consume([policy], { requests: 1, tokens: 0 }, now);
    }
    expect(limiter.check([policy], { requests: 1, tokens: 0 }, now, 3).ok).toBe(false);
    limiter.setShares(new Map());
    expect(limiter.shareOf(policy, 3)).toBe(20);
  });

  it("never uses a share above the limit itself", () => {
    const limiter = new RateLimiter();
    limiter.setShares(new Map([["rl_1", 500]]));
    expect(limiter.shareOf(policy, 1)).toBe(60);
  });
});
