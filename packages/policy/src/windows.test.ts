import { describe, expect, it } from "vitest";
import type { BudgetWindow } from "./model.js";
import { windowEndOf, windowLabel, windowStartOf } from "./windows.js";

const at = (iso: string): number => Date.parse(iso);

describe("windowStartOf / windowEndOf", () => {
  it.each<[BudgetWindow, string, string, string | null]>([
    ["DAY", "2024-03-15T12:34:56.789Z", "2024-03-15T00:00:00.000Z", "2024-03-16T00:00:00.000Z"],
    ["DAY", "2024-03-15T00:00:00.000Z", "2024-03-15T00:00:00.000Z", "2024-03-16T00:00:00.000Z"],
    ["DAY", "2024-03-15T23:59:59.999Z", "2024-03-15T00:00:00.000Z", "2024-03-16T00:00:00.000Z"],
    ["DAY", "2024-02-29T10:00:00.000Z", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    // Monday rule: Friday, Sunday late, Monday midnight.
    ["WEEK", "2024-03-15T12:00:00.000Z", "2024-03-11T00:00:00.000Z", "2024-03-18T00:00:00.000Z"],
    ["WEEK", "2024-03-17T23:59:59.999Z", "2024-03-11T00:00:00.000Z", "2024-03-18T00:00:00.000Z"],
    ["WEEK", "2024-03-18T00:00:00.000Z", "2024-03-18T00:00:00.000Z", "2024-03-25T00:00:00.000Z"],
    ["WEEK", "1970-01-01T00:00:00.000Z", "1969-12-29T00:00:00.000Z", "1970-01-05T00:00:00.000Z"],
    ["WEEK", "2025-01-01T08:00:00.000Z", "2024-12-30T00:00:00.000Z", "2025-01-06T00:00:00.000Z"],
    // Months, leap and not, and a year boundary.
    ["MONTH", "2024-02-29T23:59:59.999Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    ["MONTH", "2023-02-28T23:59:59.999Z", "2023-02-01T00:00:00.000Z", "2023-03-01T00:00:00.000Z"],
    ["MONTH", "2024-03-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"],
    ["MONTH", "2024-12-31T23:00:00.000Z", "2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"],
    ["TOTAL", "2024-03-15T12:00:00.000Z", "1970-01-01T00:00:00.000Z", null],
  ])("%s at %s starts %s and ends %s", (window, now, start, end) => {
    const s = windowStartOf(window, at(now));
    expect(new Date(s).toISOString()).toBe(start);
    const e = windowEndOf(window, s);
    expect(e === null ? null : new Date(e).toISOString()).toBe(end);
  });

  it("a leap February lasts 29 days and a common one 28", () => {
    const leap = windowStartOf("MONTH", at("2024-02-10T00:00:00Z"));
    const common = windowStartOf("MONTH", at("2023-02-10T00:00:00Z"));
    expect(((windowEndOf("MONTH", leap) ?? 0) - leap) / 86_400_000).toBe(29);
    expect(((windowEndOf("MONTH", common) ?? 0) - common) / 86_400_000).toBe(28);
  });

  it("every week starts on a Monday", () => {
    for (let d = 0; d < 30; d++) {
      const start = windowStartOf("WEEK", at("2024-05-01T06:00:00Z") + d * 86_400_000);
      expect(new Date(start).getUTCDay()).toBe(1);
    }
  });

  it("labels windows", () => {
    expect(["DAY", "WEEK", "MONTH", "TOTAL"].map((w) => windowLabel(w as BudgetWindow))).toEqual(["daily", "weekly", "monthly", "total"]);
  });
});
