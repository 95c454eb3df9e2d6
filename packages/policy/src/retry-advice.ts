/**
 * The one rule of "does this refusal say retry, and when": the official SDKs retry 408/409/429/5xx
 * by default and sleep for whatever `Retry-After` says, uncapped, but obey `x-should-retry` first.
 * So a refusal that waiting cannot fix soon says `x-should-retry: false` and no `Retry-After`; one
 * that can succeed within `MAX_RETRY_AFTER_MS` says when; a transient failure without a hint is
 * left to the client's own backoff.
 */

/** Longest wait a client is told to sleep before retrying (a reset further away is "do not retry"). */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How a refusal or failure relates to retrying the same request: `never` (nothing changes by
 * waiting), `at_reset` (it can succeed once its window resets; no reset = never), `transient`
 * (it may succeed soon).
 */
export type RetryClass = "never" | "at_reset" | "transient";

/** What to tell the client: `shouldRetry` null = say nothing (its default); `retryAfterSeconds` only with `shouldRetry` true. */
export interface RetryAdvice {
  readonly shouldRetry: boolean | null;
  readonly retryAfterSeconds: number | null;
}

/** The advice for a refusal of class `retryClass` whose window resets in `resetInMs` (null = no known reset). */
export function adviseRetry(retryClass: RetryClass, resetInMs: number | null): RetryAdvice {
  if (retryClass === "never") return { shouldRetry: false, retryAfterSeconds: null };
  if (resetInMs === null) return { shouldRetry: retryClass === "at_reset" ? false : null, retryAfterSeconds: null };
  if (resetInMs > MAX_RETRY_AFTER_MS) return { shouldRetry: false, retryAfterSeconds: null };
  return { shouldRetry: true, retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)) };
}

/** The largest epoch-ms a `Date` holds. */
const MAX_DATE_MS = 8.64e15;

/** `message` with the reset time appended as an ISO instant, rounded to the second (`...; resets at 2027-01-01T00:00:00.000Z`); unchanged without one. */
export function withResetTime(message: string, nowMs: number, resetInMs: number | null): string {
  if (resetInMs === null || !(Math.abs(nowMs + resetInMs) <= MAX_DATE_MS)) return message;
  // Windows reset on whole seconds; `resetInMs` was measured at a slightly earlier `now`.
  const resetAt = Math.round((nowMs + Math.max(0, resetInMs)) / 1000) * 1000;
  return `${message}; resets at ${new Date(resetAt).toISOString()}`;
}
