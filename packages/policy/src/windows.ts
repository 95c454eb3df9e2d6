/**
 * Budget windows in UTC: DAY from 00:00, WEEK from Monday 00:00, MONTH from the 1st 00:00,
 * TOTAL from epoch 0 and never ending. Pure calendar arithmetic on epoch milliseconds.
 */
import type { BudgetWindow } from "./model.js";

const DAY_MS = 86_400_000;

/** Epoch ms of the start of the window of kind `window` that contains `nowMs`. */
export function windowStartOf(window: BudgetWindow, nowMs: number): number {
  switch (window) {
    case "DAY":
      return Math.floor(nowMs / DAY_MS) * DAY_MS;
    case "WEEK": {
      const day = Math.floor(nowMs / DAY_MS);
      // Day 0 (1970-01-01) was a Thursday: 3 days after a Monday.
      const sinceMonday = (((day + 3) % 7) + 7) % 7;
      return (day - sinceMonday) * DAY_MS;
    }
    case "MONTH": {
      const d = new Date(nowMs);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    case "TOTAL":
      return 0;
    default:
      return assertNever(window);
  }
}

/** Epoch ms at which the window that started at `startMs` ends (exclusive); null for TOTAL. */
export function windowEndOf(window: BudgetWindow, startMs: number): number | null {
  switch (window) {
    case "DAY":
      return startMs + DAY_MS;
    case "WEEK":
      return startMs + 7 * DAY_MS;
    case "MONTH": {
      const d = new Date(startMs);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
    case "TOTAL":
      return null;
    default:
      return assertNever(window);
  }
}

/** Human word for a window in messages: "daily", "weekly", "monthly", "total". */
export function windowLabel(window: BudgetWindow): string {
  switch (window) {
    case "DAY":
      return "daily";
    case "WEEK":
      return "weekly";
    case "MONTH":
      return "monthly";
    case "TOTAL":
      return "total";
    default:
      return assertNever(window);
  }
}

/** Exhaustiveness guard for switches over unions; throws only on a bug. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
