import { describe, expect, it } from "vitest";
import { addressKey, AuthFailureThrottle } from "./auth-throttle.js";

function throttleAt(clock: { t: number }, overrides: Partial<{ limit: number; windowMs: number; lockoutMs: number; maxAddresses: number }> = {}): AuthFailureThrottle {
  return new AuthFailureThrottle({ limit: 3, windowMs: 60_000, lockoutMs: 300_000, maxAddresses: 100, now: () => clock.t, ...overrides });
}

describe("AuthFailureThrottle", () => {
  it("locks an address out at the limit-th failure within the window, for the lockout", () => {
    const clock = { t: 1_000_000 };
    const t = throttleAt(clock);
    expect(t.recordFailure("10.0.0.1")).toBe(0);
    expect(t.recordFailure("10.0.0.1")).toBe(0);
    expect(t.retryAfterMs("10.0.0.1")).toBe(0);
    expect(t.recordFailure("10.0.0.1")).toBe(300_000);
    expect(t.retryAfterMs("10.0.0.1")).toBe(300_000);
    expect(t.retryAfterMs("10.0.0.2")).toBe(0);
    clock.t += 299_999;
    expect(t.retryAfterMs("10.0.0.1")).toBe(1);
    clock.t += 1;
    expect(t.retryAfterMs("10.0.0.1")).toBe(0);
    // After the lockout the count starts again from zero.
    expect(t.recordFailure("10.0.0.1")).toBe(0);
  });

  it("forgets failures older than the window", () => {
    const clock = { t: 0 };
    const t = throttleAt(clock);
    t.recordFailure("10.0.0.1");
    t.recordFailure("10.0.0.1");
    clock.t += 60_000;
    expect(t.recordFailure("10.0.0.1")).toBe(0);
    expect(t.recordFailure("10.0.0.1")).toBe(0);
    expect(t.recordFailure("10.0.0.1")).toBe(300_000);
  });

  it("keeps the table bounded, forgetting the least recently seen address", () => {
    const clock = { t: 0 };
    const t = throttleAt(clock, { maxAddresses: 50 });
    for (let i = 0; i < 10_000; i++) t.recordFailure(`10.1.${Math.floor(i / 256)}.${i % 256}`);
    expect(t.size).toBe(50);
    // The newest addresses are the ones kept.
    t.recordFailure("10.1.39.15");
    expect(t.recordFailure("10.1.39.15")).toBe(300_000);
  });

  it("counts an IPv6 /64 as one address and an IPv4-mapped address as its IPv4 address", () => {
    const clock = { t: 0 };
    const t = throttleAt(clock);
    t.recordFailure("2001:db8:1:2::1");
    t.recordFailure("2001:db8:1:2:ffff::9");
    expect(t.recordFailure("2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd")).toBe(300_000);
    expect(t.retryAfterMs("2001:db8:1:3::1")).toBe(0);
    t.recordFailure("::ffff:192.0.2.7");
    t.recordFailure("192.0.2.7");
    expect(t.recordFailure("::ffff:192.0.2.7")).toBe(300_000);
  });
});

describe("addressKey", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["2001:db8::", "2001:db8:0:0::/64"],
  ])("%s -> %s", (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
