import { describe, expect, it } from "vitest";
import { settleRequestAttempts } from "./attempt-settlement.js";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Admission } from "./decision.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { settleRequest } from "./settlement.js";
import { budget, makeInput, makeSnapshot, T0 } from "./test-fixtures.js";
import { picosOfMicros } from "./money.js";
import { windowStartOf } from "./windows.js";

const MONTH = windowStartOf("MONTH", T0);
const DAY = windowStartOf("DAY", T0);
/** $2 per million input tokens: an account an earlier attempt went to. */
const DEAR = { inputPerMillion: 2_000_000n, outputPerMillion: 8_000_000n, cachedInputPerMillion: null };

function setup() {
  const budgets = [
    budget("bgt_usd", "TEAM", "team_search", picosOfMicros(1_000_000n), { window: "DAY" }), // $1
    budget("bgt_tok", "VIRTUAL_KEY", "vk_ci", 1_000_000n, { unit: "TOKENS" }),
    budget("bgt_req", "ORGANIZATION", "org_acme", 100n, { unit: "REQUESTS" }),
  ];
  const index = buildPolicyIndex(makeSnapshot({ budgets }));
  const ledger = new BudgetLedger();
  for (const b of budgets) ledger.applyGrant(b.id, windowStartOf(b.window, T0), b.unit === "USD" ? picosOfMicros(500_000n) : 500_000n, T0 + 300_000, false);
  const limiter = new RateLimiter();
  const admit = (): Admission => {
    const d = decide(index, ledger, limiter, makeInput(), 1);
    if (!d.allow) throw new Error(d.message);
    return d;
  };
  return { index, ledger, admit };
}

// gpt-4o-mini (the fixture): $0.15 in, $0.60 out per million; 1000-token prompts.
describe("settleRequestAttempts", () => {
  it("equals settleRequest when no attempt went unanswered", () => {
    const a = setup();
    const b = setup();
    const usage = { inputTokens: 800, cachedInputTokens: 200, outputTokens: 100 };
    const plain = settleRequest(a.index, a.ledger, a.admit(), usage, "success", T0 + 1);
    const withAttempts = settleRequestAttempts(b.index, b.ledger, b.admit(), usage, [], "success", T0 + 1);
    expect(withAttempts).toEqual({ ...plain, usage });
    expect(b.ledger.entries()).toEqual(a.ledger.entries());
  });

  it("charges each unanswered prompt at its own account's price, in the same settlement, once", () => {
    const { index, ledger, admit } = setup();
    const admission = admit();
    const usage = { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 100 };
    // The answer: 1000 * 0.15 + 100 * 0.6 = 210; the earlier prompt: 1000 * 2 = 2000 micro-dollars (pico-dollars x 10^6).
    const s = settleRequestAttempts(index, ledger, admission, usage, [{ price: DEAR, inputTokens: 1000 }], "success", T0 + 1);
    expect(s.costPicos).toBe(picosOfMicros(2210n));
    expect(s.usage).toEqual({ inputTokens: 2000, cachedInputTokens: 0, outputTokens: 100 });
    expect(s.charges).toEqual([
      { budgetId: "bgt_req", windowStart: MONTH, amount: 1n },
      { budgetId: "bgt_usd", windowStart: DAY, amount: picosOfMicros(2210n) },
      { budgetId: "bgt_tok", windowStart: MONTH, amount: 2100n },
    ]);
    expect(ledger.entries().map((e) => [e.budgetId, e.spent, e.reserved])).toEqual([
      ["bgt_usd", picosOfMicros(2210n), 0n],
      ["bgt_tok", 2100n, 0n],
      ["bgt_req", 1n, 0n],
    ]);
    // Settling again charges nothing more.
    settleRequestAttempts(index, ledger, admission, usage, [{ price: DEAR, inputTokens: 1000 }], "success", T0 + 2);
    expect(ledger.entries().map((e) => e.spent)).toEqual([picosOfMicros(2210n), 2100n, 1n]);
  });

  it("bills only the unanswered prompts of a request that got no answer (no request counted)", () => {
    const { index, ledger, admit } = setup();
    const s = settleRequestAttempts(
      index,
      ledger,
      admit(),
      null,
      [
        { price: DEAR, inputTokens: 500 },
        { price: DEAR, inputTokens: 500 },
      ],
      "failed",
      T0 + 1,
    );
    expect(s.costPicos).toBe(picosOfMicros(2000n));
    expect(s.usage).toEqual({ inputTokens: 1000, cachedInputTokens: 0, outputTokens: 0 });
    expect(s.charges.map((c) => [c.budgetId, c.amount])).toEqual([
      ["bgt_usd", picosOfMicros(2000n)],
      ["bgt_tok", 1000n],
    ]);
    expect(ledger.entries().every((e) => e.reserved === 0n)).toBe(true);
  });
});
