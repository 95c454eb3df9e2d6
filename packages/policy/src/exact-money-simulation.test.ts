/**
 * Exact money, as a seeded property: random prices with up to six decimals per million tokens,
 * random requests with every token kind (plain input, cache reads, 5-minute and 1-hour cache
 * writes, output), decided, settled and charged. The recorded cost of each
 * request is its exact price, the sum over the window is the price of the summed tokens (rounding
 * per request would break this), the node's ledger holds exactly that sum, and it never spends
 * beyond what was granted.
 */
import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Admission } from "./decision.js";
import type { ModelPolicy, ModelPrice } from "./model.js";
import { formatUsdPicos, parseUsd } from "./money.js";
import { buildPolicyIndex } from "./policy-index.js";
import { computeCost } from "./pricing.js";
import { RateLimiter } from "./rate-limiter.js";
import { settleRequest } from "./settlement.js";
import { budget, makeInput, makeSnapshot, MINI, T0 } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

/** mulberry32: a small seeded PRNG so every run sees the same requests. */
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

/** A dollar price per million tokens as an admin types it: up to $30 with up to six decimals. */
function randomPriceText(int: (n: number) => number): string {
  const decimals = int(7);
  const whole = int(30);
  if (decimals === 0) return String(whole);
  return `${whole}.${String(int(10 ** decimals)).padStart(decimals, "0")}`;
}

/**
 * The oracle: dollars of `tokens` at a price typed as `text` (dollars per million), as an exact
 * decimal string, by long multiplication on the digits (no pricing code involved).
 */
function exactDollars(tokens: bigint, text: string): { digits: bigint; scale: number } {
  const [whole = "0", fraction = ""] = text.split(".");
  // price = whole.fraction dollars per 10^6 tokens -> tokens * price digits / 10^(fraction + 6) dollars.
  return { digits: tokens * BigInt(`${whole}${fraction}`), scale: fraction.length + 6 };
}

/** Σ of exact decimals, as a decimal string with 12 decimals trimmed like `formatUsdPicos`. */
function formatExactSum(parts: readonly { digits: bigint; scale: number }[]): string {
  const SCALE = 12;
  let total = 0n;
  for (const p of parts) {
    if (p.scale > SCALE) throw new Error("a price with more than six decimals per million is not exact in pico-dollars");
    total += p.digits * 10n ** BigInt(SCALE - p.scale);
  }
  const text = total.toString().padStart(SCALE + 1, "0");
  let fraction = text.slice(-SCALE);
  while (fraction.length > 2 && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return `${text.slice(0, -SCALE)}.${fraction}`;
}

describe("exact money: recorded costs, window sums and the ledger", () => {
  it("100 requests of 7 in / 20 out at $0.15 / $0.60 per million record $0.001305, not $0.001400", () => {
    const costs = Array.from({ length: 100 }, () => computeCost(MINI.price as ModelPrice, { inputTokens: 7, cachedInputTokens: 0, outputTokens: 20 }));
    expect(formatUsdPicos(costs.reduce((s, c) => s + c, 0n))).toBe("0.001305");
  });

  it.each([1, 42, 7_777, 20_261_207])("seed %i", (seed) => {
    const rand = seeded(seed);
    const int = (n: number): number => Math.floor(rand() * n);
    const text = { input: randomPriceText(int), output: randomPriceText(int), cached: randomPriceText(int), write: randomPriceText(int), write1h: randomPriceText(int) };
    const price: ModelPrice = {
      inputPerMillion: parseUsd(text.input),
      outputPerMillion: parseUsd(text.output),
      cachedInputPerMillion: parseUsd(text.cached),
      cacheWriteInputPerMillion: parseUsd(text.write),
      cacheWrite1hInputPerMillion: parseUsd(text.write1h),
    };
    const model: ModelPolicy = { ...MINI, price, maxOutputTokens: 4_000 };
    const daily = budget("bgt_day", "VIRTUAL_KEY", "vk_ci", 10n ** 18n, { window: "DAY" });
    const index = buildPolicyIndex(makeSnapshot({ models: [model], budgets: [daily] }));
    const ledger = new BudgetLedger();
    const limiter = new RateLimiter();
    const windowStart = windowStartOf("DAY", T0);
    let granted = 0n;
    const grant = (extra: bigint): void => {
      granted += extra;
      ledger.applyGrant("bgt_day", windowStart, granted, T0 + 86_400_000, false);
    };
    grant(BigInt(int(50_000_000)) * 1_000_000n);

    const open: { a: Admission; inputBound: number }[] = [];
    const totals = { uncached: 0n, cached: 0n, write: 0n, write1h: 0n, output: 0n };
    let recorded = 0n;
    let charged = 0n;
    let settled = 0;
    for (let step = 0; step < 2_000; step++) {
      const now = T0 + step * 10;
      if (rand() < 0.55) {
        const inputBound = 1 + int(20_000);
        const d = decide(
          index,
          ledger,
          limiter,
          makeInput({ now, allowPartial: rand() < 0.7, request: { inputTokensUpperBound: inputBound, requestedMaxOutputTokens: rand() < 0.5 ? null : int(4_000) } }),
          1,
        );
        if (d.allow) open.push({ a: d, inputBound });
        else if (d.shortfalls.length > 0 && rand() < 0.4) grant(d.shortfalls.reduce((s, f) => s + f.needed, 0n) + BigInt(int(1_000_000)));
      } else if (open.length > 0) {
        const item = open.splice(int(open.length), 1)[0];
        if (item === undefined) continue;
        const input = int(item.inputBound + 1);
        const cached = int(input + 1);
        const writes = int(input - cached + 1);
        const longWrites = int(writes + 1);
        const output = int(item.a.maxOutputTokens + 1);
        const usage = { inputTokens: input, cachedInputTokens: cached, outputTokens: output, cacheWriteInputTokens: writes, cacheWrite1hInputTokens: longWrites };
        const s = settleRequest(index, ledger, item.a, usage, "success", now);
        // The recorded cost is the exact price of this request's tokens.
        const plain = BigInt(input - cached - writes);
        const exact = formatExactSum([
          exactDollars(plain, text.input),
          exactDollars(BigInt(cached), text.cached),
          exactDollars(BigInt(writes - longWrites), text.write),
          exactDollars(BigInt(longWrites), text.write1h),
          exactDollars(BigInt(output), text.output),
        ]);
        expect(formatUsdPicos(s.costPicos)).toBe(exact);
        expect(s.costPicos).toBeLessThanOrEqual(item.a.estimatedCost);
        totals.uncached += plain;
        totals.cached += BigInt(cached);
        totals.write += BigInt(writes - longWrites);
        totals.write1h += BigInt(longWrites);
        totals.output += BigInt(output);
        recorded += s.costPicos;
        charged += s.charges.find((c) => c.budgetId === "bgt_day")?.amount ?? 0n;
        settled++;
      }
      for (const e of ledger.entries()) expect(e.spent + e.reserved).toBeLessThanOrEqual(e.grantedTotal);
    }
    for (const item of open) settleRequest(index, ledger, item.a, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, "failed", T0 + 30_000);

    expect(settled).toBeGreaterThan(100);
    // The window's sum is the price of the summed tokens: no rounding anywhere on the way.
    const windowSum = formatExactSum([
      exactDollars(totals.uncached, text.input),
      exactDollars(totals.cached, text.cached),
      exactDollars(totals.write, text.write),
      exactDollars(totals.write1h, text.write1h),
      exactDollars(totals.output, text.output),
    ]);
    expect(formatUsdPicos(recorded)).toBe(windowSum);
    expect(charged).toBe(recorded);
    const entry = ledger.entries().find((e) => e.budgetId === "bgt_day");
    expect(entry?.spent).toBe(recorded);
    expect(entry?.reserved).toBe(0n);
    expect((entry?.spent ?? 0n) <= granted).toBe(true);
  });
});
