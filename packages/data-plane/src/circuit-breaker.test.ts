import { describe, expect, it } from "vitest";
import { CircuitBreakers } from "./circuit-breaker.js";
import { RetryBudget } from "./retry-budget.js";

describe("CircuitBreakers", () => {
  it("opens after 5 consecutive failures, lets one probe through after 10 s, closes on its success", () => {
    let now = 0;
    const b = new CircuitBreakers(() => now);
    for (let i = 0; i < 4; i++) b.recordFailure("pa_1");
    expect([b.state("pa_1"), b.tryAcquire("pa_1")]).toEqual(["closed", true]);
    b.recordSuccess("pa_1");
    for (let i = 0; i < 4; i++) b.recordFailure("pa_1");
    expect(b.state("pa_1")).toBe("closed"); // a success in between resets the count
    b.recordFailure("pa_1");
    expect([b.state("pa_1"), b.tryAcquire("pa_1"), b.tryAcquire("pa_2")]).toEqual(["open", false, true]);
    now = 9_999;
    expect(b.tryAcquire("pa_1")).toBe(false);
    now = 10_000;
    expect(b.state("pa_1")).toBe("half_open");
    expect([b.tryAcquire("pa_1"), b.tryAcquire("pa_1")]).toEqual([true, false]);
    b.recordSuccess("pa_1");
    expect([b.state("pa_1"), b.tryAcquire("pa_1"), b.tryAcquire("pa_1")]).toEqual(["closed", true, true]);
  });

  it("re-opens on a failed probe, frees the probe slot on a neutral end, and replaces a probe that never reports", () => {
    let now = 0;
    const b = new CircuitBreakers(() => now, { failureThreshold: 2, openMs: 1_000 });
    b.recordFailure("a");
    b.recordFailure("a");
    now = 1_000;
    expect(b.tryAcquire("a")).toBe(true);
    b.recordFailure("a");
    expect([b.state("a"), b.tryAcquire("a")]).toEqual(["open", false]);
    now = 2_000;
    expect(b.tryAcquire("a")).toBe(true);
    b.recordNeutral("a");
    expect(b.tryAcquire("a")).toBe(true);
    expect(b.tryAcquire("a")).toBe(false);
    now = 3_000;
    expect(b.tryAcquire("a")).toBe(true);
  });
});

describe("RetryBudget", () => {
  it("allows retries up to 20% of the minute's requests, with a floor, over a sliding window", () => {
    let now = 0;
    const budget = new RetryBudget(() => now, { minPerMinute: 2 });
    for (let i = 0; i < 20; i++) budget.recordRequest();
    // 20% of 20 = 4 retries.
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, true, true, false]);
    now = 30_000;
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect([budget.tryRetry(), budget.tryRetry()]).toEqual([true, true]); // 30 requests: 6 allowed
    expect(budget.canRetry()).toBe(false);
    now = 61_000; // the first 20 requests and 4 retries left the window: 10 requests, 2 retries
    expect(budget.canRetry()).toBe(false); // floor 2 reached
    now = 91_000; // everything left the window
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]); // the floor
  });
});
