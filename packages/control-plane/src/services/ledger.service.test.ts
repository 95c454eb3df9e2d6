import { describe, expect, it } from "vitest";
import { holderKey, sizeGrant } from "./ledger.service.js";

describe("sizeGrant", () => {
  it.each([
    // free, needed, want -> amount, exhausted
    [1000n, 100n, 300n, 300n, false],
    [1000n, 100n, 2000n, 100n, true], // tail: free cannot give the want and as much again
    [1000n, 100n, 500n, 500n, false],
    [1000n, 100n, 551n, 100n, true],
    [100n, 100n, 500n, 100n, true],
    [60n, 100n, 500n, 60n, true],
    [0n, 10n, 10n, 0n, true],
    [-50n, 10n, 10n, 0n, true],
    [1000n, 0n, 0n, 0n, false],
    [1000n, 0n, 400n, 400n, false],
    [1000n, 200n, 100n, 200n, false],
  ])("free %s, needed %s, want %s -> %s (exhausted %s)", (free, needed, want, amount, exhausted) => {
    expect(sizeGrant(free, needed, want)).toEqual({ amount, exhausted });
  });

  it("never grants more than is free, and leaves room for other nodes", () => {
    for (let free = 0n; free < 200n; free += 7n) {
      for (const needed of [0n, 5n, 50n, 150n]) {
        const { amount } = sizeGrant(free, needed, 1000n);
        expect(amount).toBeLessThanOrEqual(free);
        if (free > needed + 1n) expect(amount).toBeLessThan(free);
      }
    }
  });

  it("keys holders by node id and boot id", () => {
    expect(holderKey({ nodeId: "n1", bootId: "b1" })).toBe("n1/b1");
  });
});
