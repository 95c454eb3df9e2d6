import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import type { BudgetHold } from "./decision.js";

const W = 1_000;
const hold = (budgetId: string, amount: bigint, windowStart = W): BudgetHold => ({ budgetId, unit: "USD", windowStart, amount });

describe("BudgetLedger", () => {
  it("has nothing available without a grant, and nothing after the grant expires", () => {
    const ledger = new BudgetLedger();
    expect(ledger.available("bgt_a", W, 0)).toBe(0n);
    ledger.applyGrant("bgt_a", W, 100n, 5_000, false);
    expect(ledger.available("bgt_a", W, 4_999)).toBe(100n);
    expect(ledger.available("bgt_a", W, 5_000)).toBe(0n);
    expect(ledger.reserve([hold("bgt_a", 1n)], 5_000)).toBeNull();
  });

  it("never lowers granted within a window (stale answers are ignored) and renews the expiry", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 5_000, false);
    ledger.applyGrant("bgt_a", W, 60n, 9_000, true);
    expect(ledger.entries()[0]).toMatchObject({ grantedTotal: 100n, expiresAt: 5_000, exhausted: false });
    ledger.applyGrant("bgt_a", W, 100n, 9_000, true);
    expect(ledger.entries()[0]).toMatchObject({ grantedTotal: 100n, expiresAt: 9_000, exhausted: true });
    expect(ledger.isExhausted("bgt_a", W)).toBe(true);
  });

  it("reserves all or none across several budgets", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 10_000, false);
    ledger.applyGrant("bgt_b", W, 10n, 10_000, false);
    expect(ledger.reserve([hold("bgt_a", 50n), hold("bgt_b", 11n)], 0)).toBeNull();
    expect(ledger.available("bgt_a", W, 0)).toBe(100n);
    expect(ledger.available("bgt_b", W, 0)).toBe(10n);
    const r = ledger.reserve([hold("bgt_a", 50n), hold("bgt_b", 10n)], 0);
    expect(r).not.toBeNull();
    expect(ledger.available("bgt_a", W, 0)).toBe(50n);
    expect(ledger.available("bgt_b", W, 0)).toBe(0n);
  });

  it("sums holds on the same entry before checking room", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 10n, 10_000, false);
    expect(ledger.reserve([hold("bgt_a", 6n), hold("bgt_a", 6n)], 0)).toBeNull();
  });

  it("settles to the actual charge, releases the rest, and charges once", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 10_000, false);
    const r = ledger.reserve([hold("bgt_a", 40n)], 0);
    if (r === null) throw new Error("expected a reservation");
    ledger.settle(r, [{ budgetId: "bgt_a", windowStart: W, amount: 15n }], 1);
    ledger.settle(r, [{ budgetId: "bgt_a", windowStart: W, amount: 15n }], 1);
    expect(ledger.entries()[0]).toMatchObject({ spent: 15n, reserved: 0n });
    expect(ledger.available("bgt_a", W, 1)).toBe(85n);
  });

  it("release drops holds without charging", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 10_000, false);
    const r = ledger.reserve([hold("bgt_a", 40n)], 0);
    if (r === null) throw new Error("expected a reservation");
    ledger.release(r);
    ledger.release(r);
    ledger.settle(r, [{ budgetId: "bgt_a", windowStart: W, amount: 40n }], 1);
    expect(ledger.entries()[0]).toMatchObject({ spent: 0n, reserved: 0n });
  });

  it("keeps debt: a charge above the hold makes spent exceed granted and available stays 0", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 10_000, false);
    const r = ledger.reserve([hold("bgt_a", 90n)], 0);
    if (r === null) throw new Error("expected a reservation");
    ledger.settle(r, [{ budgetId: "bgt_a", windowStart: W, amount: 130n }], 1);
    expect(ledger.entries()[0]?.spent).toBe(130n);
    expect(ledger.available("bgt_a", W, 1)).toBe(0n);
    ledger.applyGrant("bgt_a", W, 150n, 10_000, false);
    expect(ledger.available("bgt_a", W, 1)).toBe(20n);
  });

  it("plans background renewals from recent demand and near expiry", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_busy", W, 1_000n, 300_000, false);
    ledger.applyGrant("bgt_idle", W, 1_000n, 30_000, false);
    ledger.applyGrant("bgt_calm", W, 1_000n, 300_000, false);
    for (let i = 0; i < 5; i++) {
      const r = ledger.reserve([hold("bgt_busy", 100n)], 1_000 + i);
      if (r === null) throw new Error("expected a reservation");
      ledger.settle(r, [{ budgetId: "bgt_busy", windowStart: W, amount: 90n }], 2_000 + i);
    }
    // busy: demand 500 in 30 s -> want max(1000, 400) = 1000, available 550 >= 500: no top-up yet.
    expect(ledger.planRenewals(3_000)).toEqual([]);
    const more = ledger.reserve([hold("bgt_busy", 100n)], 3_000);
    if (more === null) throw new Error("expected a reservation");
    // demand 600 -> want 1200, available 450 < 600: top up.
    expect(ledger.planRenewals(3_000)).toEqual([{ budgetId: "bgt_busy", windowStart: W, needed: 0n, want: 1_200n }]);
    // Demand older than 30 s no longer counts: nothing to renew.
    expect(ledger.planRenewals(40_000)).toEqual([]);
    // calm: small recent demand, plenty available, but its grant expires within 60 s: renewed.
    const calm = ledger.reserve([hold("bgt_calm", 10n)], 230_000);
    if (calm === null) throw new Error("expected a reservation");
    ledger.release(calm);
    expect(ledger.planRenewals(235_000)).toEqual([]);
    expect(ledger.planRenewals(245_000)).toEqual([{ budgetId: "bgt_calm", windowStart: W, needed: 0n, want: 40n }]);
  });

  it("plans shortfall requests with want >= needed", () => {
    const ledger = new BudgetLedger();
    expect(ledger.planShortfalls([{ budgetId: "bgt_a", windowStart: W, needed: 30n, upperBound: 50n }], 0)).toEqual([{ budgetId: "bgt_a", windowStart: W, needed: 30n, want: 200n }]);
  });

  it("asks for a debt on top of the shortfall, so the grant it gets can pay the next request", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_a", W, 100n, 300_000, false);
    const r = ledger.reserve([hold("bgt_a", 40n)], 0);
    if (r === null) throw new Error("expected a reservation");
    // The provider billed far more than the hold (a cache write): 250 spent of a 100 grant.
    ledger.settle(r, [{ budgetId: "bgt_a", windowStart: W, amount: 250n }], 1);
    expect(ledger.available("bgt_a", W, 2)).toBe(0n);
    const [plan] = ledger.planShortfalls([{ budgetId: "bgt_a", windowStart: W, needed: 40n, upperBound: 40n }], 2);
    expect(plan).toMatchObject({ needed: 190n });
    ledger.applyGrant("bgt_a", W, 100n + (plan?.needed ?? 0n), 300_000, false);
    expect(ledger.available("bgt_a", W, 3)).toBe(40n);
  });

  it("forgets ended windows but never one with holds", () => {
    const ledger = new BudgetLedger();
    ledger.applyGrant("bgt_day", 0, 100n, 500_000, false, 86_400_000);
    ledger.applyGrant("bgt_day", 86_400_000, 100n, 90_000_000, false, 172_800_000);
    ledger.applyGrant("bgt_old", 0, 100n, 1_000, false);
    ledger.applyGrant("bgt_old", 5_000, 100n, 10_000_000, false);
    const r = ledger.reserve([hold("bgt_day", 10n, 86_400_000)], 86_400_001);
    ledger.forgetWindowsBefore(200_000_000);
    expect(ledger.entries().map((e) => `${e.budgetId}@${e.windowStart}`)).toEqual(["bgt_day@86400000", "bgt_old@5000"]);
    if (r === null) throw new Error("expected a reservation");
    ledger.release(r);
    ledger.forgetWindowsBefore(200_000_000);
    expect(ledger.entries().map((e) => `${e.budgetId}@${e.windowStart}`)).toEqual(["bgt_old@5000"]);
  });
});

/** mulberry32: a small seeded PRNG so the property test is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("BudgetLedger property: never spend beyond grants", () => {
  it.each([1, 2, 3, 42, 1234])("seed %i: spent + reserved <= granted after every step", (seed) => {
    const rand = seeded(seed);
    const int = (n: number): number => Math.floor(rand() * n);
    const ledger = new BudgetLedger();
    const budgets = ["bgt_a", "bgt_b", "bgt_c"];
    const granted = new Map<string, bigint>();
    const open: { id: number; holds: readonly BudgetHold[] }[] = [];
    let now = 0;
    let admitted = 0;
    for (let step = 0; step < 3_000; step++) {
      now += int(50);
      const op = rand();
      if (op < 0.15) {
        const b = budgets[int(budgets.length)] ?? "bgt_a";
        const total = BigInt(int(2_000));
        ledger.applyGrant(b, W, total, now + 1_000 + int(10_000), rand() < 0.2);
        if (total > (granted.get(b) ?? 0n)) granted.set(b, total);
      } else if (op < 0.6) {
        const holds = budgets.filter(() => rand() < 0.6).map((b) => hold(b, BigInt(int(200))));
        const before = new Map(budgets.map((b) => [b, ledger.available(b, W, now)]));
        const r = ledger.reserve(holds, now);
        if (r !== null) {
          admitted++;
          open.push(r);
        } else {
          for (const b of budgets) expect(ledger.available(b, W, now)).toBe(before.get(b));
        }
      } else if (open.length > 0) {
        const r = open.splice(int(open.length), 1)[0];
        if (r === undefined) continue;
        if (rand() < 0.2) ledger.release(r);
        else {
          const charges = r.holds.map((h) => ({ budgetId: h.budgetId, windowStart: h.windowStart, amount: BigInt(int(Number(h.amount) + 1)) }));
          ledger.settle(r, charges, now);
        }
      }
      for (const e of ledger.entries()) {
        expect(e.spent + e.reserved).toBeLessThanOrEqual(e.grantedTotal);
        expect(e.grantedTotal).toBe(granted.get(e.budgetId) ?? 0n);
        expect(e.reserved).toBeGreaterThanOrEqual(0n);
      }
    }
    expect(admitted).toBeGreaterThan(100);
  });
});
