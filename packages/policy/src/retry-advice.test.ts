import { describe, expect, it } from "vitest";
import type { RefusalCode } from "./decision.js";
import { REFUSAL_RETRY } from "./refusal-status.js";
import { adviseRetry, MAX_RETRY_AFTER_MS, withResetTime, type RetryAdvice } from "./retry-advice.js";

const NO: RetryAdvice = { shouldRetry: false, retryAfterSeconds: null };

describe("adviseRetry", () => {
  it.each<[string, Parameters<typeof adviseRetry>, RetryAdvice]>([
    ["never, whatever the hint", ["never", 1_000], NO],
    ["a window resetting in 24 days (the hung SDK of issue 8)", ["at_reset", 24 * 86_400_000], NO],
    ["a window resetting just past a minute", ["at_reset", MAX_RETRY_AFTER_MS + 1], NO],
    ["a window that never resets (TOTAL budget)", ["at_reset", null], NO],
    ["a window resetting in exactly a minute", ["at_reset", MAX_RETRY_AFTER_MS], { shouldRetry: true, retryAfterSeconds: 60 }],
    ["a window resetting in 2.2 s (rounded up)", ["at_reset", 2_200], { shouldRetry: true, retryAfterSeconds: 3 }],
    ["a window resetting now (at least 1 s)", ["at_reset", 0], { shouldRetry: true, retryAfterSeconds: 1 }],
    ["a transient failure with a hint", ["transient", 5_000], { shouldRetry: true, retryAfterSeconds: 5 }],
    ["a transient failure without a hint: the client's backoff", ["transient", null], { shouldRetry: null, retryAfterSeconds: null }],
    ["a transient failure with a far hint", ["transient", 3_600_000], NO],
  ])("%s", (_name, args, expected) => {
    expect(adviseRetry(...args)).toEqual(expected);
  });

  it("tells apps never to retry what waiting cannot fix", () => {
    const never: RefusalCode[] = ["invalid_api_key", "key_paused", "model_not_allowed", "model_not_found", "model_not_priced", "request_cost_limit", "guardrail_blocked"];
    for (const code of never) expect(adviseRetry(REFUSAL_RETRY[code], 1_000), code).toEqual(NO);
    expect(REFUSAL_RETRY.budget_exceeded).toBe("at_reset");
    expect(REFUSAL_RETRY.rate_limit_exceeded).toBe("at_reset");
  });
});

describe("withResetTime", () => {
  it("appends the reset instant in ISO form", () => {
    const now = Date.UTC(2026, 11, 7, 22, 0, 0);
    expect(withResetTime("budget exhausted", now, 3_600_000)).toBe("budget exhausted; resets at 2026-12-07T23:00:00.000Z");
    // Measured a few ms before `now`: still the window's whole second.
    expect(withResetTime("budget exhausted", now + 7, 3_600_000 - 3)).toBe("budget exhausted; resets at 2026-12-07T23:00:00.000Z");
  });

  it("leaves the message alone without a reset or with an impossible one", () => {
    expect(withResetTime("m", 0, null)).toBe("m");
    expect(withResetTime("m", 0, Number.MAX_SAFE_INTEGER)).toBe("m");
    expect(withResetTime("m", 0, Number.NaN)).toBe("m");
  });
});
