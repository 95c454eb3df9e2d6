import { describe, expect, it } from "vitest";
import { ScrubberCache } from "./upstream-target.js";

const request = (key: string) => ({ url: "https://api.example.test/v1/chat/completions", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } });

describe("ScrubberCache", () => {
  it("shares one scrubber per set of secrets, so its search forms are built once per account", () => {
    const cache = new ScrubberCache();
    const a = cache.of(request("sk-account-a-0123456789"));
    expect(cache.of(request("sk-account-a-0123456789"))).toBe(a);
    const b = cache.of(request("sk-account-b-9876543210"));
    expect(b).not.toBe(a);
    // Each still scrubs its own account's key (and only knows its own).
    expect(a.scrubText("echo sk-account-a-0123456789")).toBe("echo [redacted]");
    expect(b.scrubText("echo sk-account-b-9876543210")).toBe("echo [redacted]");
  });

  it("stays bounded: at its limit it starts over rather than grow", () => {
    const cache = new ScrubberCache(2);
    const first = cache.of(request("sk-first-000000000000"));
    cache.of(request("sk-second-00000000000"));
    cache.of(request("sk-third-000000000000"));
    expect(cache.of(request("sk-first-000000000000"))).not.toBe(first);
  });
});
