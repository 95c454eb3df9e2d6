import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { DEMAND_SLICE_MS, DemandWindow } from "./demand-window.js";

describe("DemandWindow", () => {
  it("sums the amounts of the last horizon, a slice counting while its last millisecond is inside", () => {
    const w = new DemandWindow(30_000);
    w.add(1_000, 5n);
    w.add(1_050, 7n); // same 100 ms slice
    w.add(2_000, 11n);
    expect(w.size).toBe(2);
    expect(w.total(2_000)).toBe(23n);
    expect(w.total(31_098)).toBe(23n); // slice 1000..1099: its last ms is still after the cutoff 1_098
    expect(w.total(31_099)).toBe(11n);
    expect(w.total(32_100)).toBe(0n);
    w.prune(32_100);
    expect(w.size).toBe(0);
  });

  it("stays bounded by horizon / slice at any request rate, and its total matches an exact sliding sum within one slice", () => {
    const horizon = 30_000;
    const w = new DemandWindow(horizon);
    const exact: { at: number; amount: bigint }[] = [];
    let now = 0;
    let largest = 0;
    for (let i = 0; i < 250_000; i++) {
      now += 0.2; // 5,000 holds per second for 50 s
      const at = Math.floor(now);
      w.add(at, 3n);
      exact.push({ at, amount: 3n });
      largest = Math.max(largest, w.size);
    }
    expect(largest).toBeLessThanOrEqual(horizon / DEMAND_SLICE_MS + 1);
    const at = Math.floor(now);
    const inside = (from: number): bigint => exact.filter((s) => s.at > from).reduce((m, s) => m + s.amount, 0n);
    const total = w.total(at);
    expect(total).toBeGreaterThanOrEqual(inside(at - horizon));
    expect(total).toBeLessThanOrEqual(inside(at - horizon - DEMAND_SLICE_MS));
  });

  it("gives the ledger's grant planning the demand of the last 30 s", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", 0, 10n ** 12n, 10 ** 9, false);
    for (let t = 0; t < 60_000; t += 10) {
      const r = ledger.reserve([{ budgetId: "bgt_a", windowStart: 0, amount: 2n, unit: "USD" }], t);
      if (r === null) throw new Error("expected a reservation");
      ledger.settle(r, [{ budgetId: "bgt_a", windowStart: 0, amount: 1n }], t);
    }
    // 3,000 holds of 2 in the last 30 s (one slice of slack at most).
    const demand = ledger.recentDemand("bgt_a", 0, 59_990);
    expect(demand).toBeGreaterThanOrEqual(6_000n);
    expect(demand).toBeLessThanOrEqual(6_020n);
  });
});
