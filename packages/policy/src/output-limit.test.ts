import { describe, expect, it } from "vitest";
import { upstreamOutputLimit } from "./output-limit.js";

describe("upstreamOutputLimit", () => {
  it("sends the admitted limit when the client sent none (the upstream would write to its own maximum)", () => {
    expect(upstreamOutputLimit(4096, null, 1)).toBe(4096);
  });

  it("leaves the client's limit alone when it already fits the reservation", () => {
    expect(upstreamOutputLimit(4096, 100, 1)).toBeNull();
    expect(upstreamOutputLimit(4096, 4096, 1)).toBeNull();
  });

  it("lowers a client limit larger than the reservation", () => {
    expect(upstreamOutputLimit(500, 1000, 1)).toBe(500);
  });

  it("splits the reservation across n choices", () => {
    expect(upstreamOutputLimit(300, null, 3)).toBe(100);
    expect(upstreamOutputLimit(300, 100, 3)).toBeNull();
    expect(upstreamOutputLimit(300, 101, 3)).toBe(100);
  });

  it("never lets the output exceed what was admitted (seeded sweep)", () => {
    let seed = 7;
    const next = (m: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % m;
    };
    for (let i = 0; i < 5000; i++) {
      const choices = 1 + next(8);
      const admitted = choices + next(20000);
      const requested = next(3) === 0 ? null : 1 + next(30000);
      const limit = upstreamOutputLimit(admitted, requested, choices);
      const perChoice = limit ?? requested;
      expect(perChoice).not.toBeNull();
      expect((perChoice ?? 0) * choices).toBeLessThanOrEqual(admitted);
    }
  });
});
