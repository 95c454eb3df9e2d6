import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Admission } from "./decision.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { settleRequest } from "./settlement.js";
import { budget, HMAC, makeInput, makeSnapshot, T0 } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

/** mulberry32: a small seeded PRNG so the simulation is reproducible. */
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

describe("decide + settle simulation: CAP_OUTPUT and STRICT never spend beyond grants", () => {
  it.each([7, 99, 2024])("seed %i", (seed) => {
    const rand = seeded(seed);
    const int = (n: number): number => Math.floor(rand() * n);
    const budgets = [
      budget("bgt_org", "ORGANIZATION", "org_acme", 0n, { window: "DAY" }),
      budget("bgt_team", "TEAM", "team_search", 0n, { unit: "TOKENS", enforcement: "STRICT" }),
      budget("bgt_user", "USER", "usr_alice", 0n, { unit: "REQUESTS", window: "WEEK" }),
      budget("bgt_soft", "VIRTUAL_KEY", "vk_alice", 1n, { mode: "SOFT" }),
    ];
    const index = buildPolicyIndex(makeSnapshot({ budgets }));
    const ledger = new BudgetLedger();
    const limiter = new RateLimiter();
    const granted = new Map<string, bigint>();
    const grant = (id: string, extra: bigint, now: number): void => {
      const b = index.budget(id);
      if (b === null) return;
      const total = (granted.get(id) ?? 0n) + extra;
      granted.set(id, total);
      ledger.applyGrant(id, windowStartOf(b.window, now), total, now + 300_000, false);
    };
    const open: { a: Admission; inputBound: number }[] = [];
    let now = T0;
    let admittedCount = 0;
    let cappedCount = 0;
    grant("bgt_org", 20_000_000_000n, now);
    grant("bgt_team", 60_000n, now);
    grant("bgt_user", 60n, now);
    for (let step = 0; step < 1_500; step++) {
      now += int(100);
      if (rand() < 0.5) {
        const inputBound = int(3_000);
        const d = decide(
          index,
          ledger,
          limiter,
          makeInput({
            keyHmac: HMAC.personal,
            now,
            allowPartial: rand() < 0.7,
            request: { inputTokensUpperBound: inputBound, requestedMaxOutputTokens: rand() < 0.5 ? null : int(2_000) },
          }),
          1,
        );
        if (d.allow) {
          admittedCount++;
          if (d.outputCapped) cappedCount++;
          open.push({ a: d, inputBound });
        } else if (d.shortfalls.length > 0 && rand() < 0.3) {
          for (const s of d.shortfalls) grant(s.budgetId, s.needed + BigInt(int(500)), now);
        }
      } else if (open.length > 0) {
        const item = open.splice(int(open.length), 1)[0];
        if (item === undefined) continue;
        const { a } = item;
        // Sound bounds: the provider never counts more input than the bound nor more output than the cap.
        const input = int(item.inputBound + 1);
        const usage = { inputTokens: input, cachedInputTokens: int(input + 1), outputTokens: int(a.maxOutputTokens + 1) };
        const s = settleRequest(index, ledger, a, usage, rand() < 0.9 ? "success" : "failed", now);
        expect(s.costPicos).toBeLessThanOrEqual(a.estimatedCost);
        for (const h of a.reservation.holds) {
          const charge = s.charges.find((c) => c.budgetId === h.budgetId)?.amount ?? 0n;
          expect(charge).toBeLessThanOrEqual(h.amount);
        }
      }
      for (const e of ledger.entries()) expect(e.spent + e.reserved).toBeLessThanOrEqual(e.grantedTotal);
    }
    expect(admittedCount).toBeGreaterThan(50);
    expect(cappedCount).toBeGreaterThan(0);
  });
});
