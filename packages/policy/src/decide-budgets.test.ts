import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Admission, Decision, Refusal } from "./decision.js";
import type { BudgetPolicy } from "./model.js";
import { buildPolicyIndex, type PolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { releaseAdmission, settleRequest } from "./settlement.js";
import { budget, HMAC, type InputPatch, makeInput, makeSnapshot, T0 } from "./test-fixtures.js";
import { windowEndOf, windowStartOf } from "./windows.js";

const MONTH = windowStartOf("MONTH", T0);
const EXPIRY = T0 + 300_000;
/** Pico-dollars per micro-dollar: USD amounts below are written in micro-dollars times M. */
const M = 1_000_000n;

/** An index with these budgets, and a ledger granted `grants[budgetId]` in each budget's current window. */
function setup(budgets: BudgetPolicy[], grants: Record<string, bigint>, now = T0) {
  const index: PolicyIndex = buildPolicyIndex(makeSnapshot({ budgets }));
  const ledger = new BudgetLedger();
  for (const b of budgets) {
    const g = grants[b.id];
    if (g !== undefined) ledger.applyGrant(b.id, windowStartOf(b.window, now), g, now + 300_000, false);
  }
  const limiter = new RateLimiter();
  const run = (patch: InputPatch = {}): Decision => decide(index, ledger, limiter, makeInput({ now, ...patch }), 1);
  return { index, ledger, limiter, run };
}

function admitted(d: Decision): Admission {
  if (!d.allow) throw new Error(`expected an admission, got ${d.code}: ${d.message}`);
  return d;
}
function refused(d: Decision): Refusal {
  if (d.allow) throw new Error("expected a refusal");
  return d;
}

// gpt-4o-mini, 1000 input tokens, model max output 1000: input costs 150 micro-dollars, output 0.6 per token.
describe("decide: budgets", () => {
  it("holds the full upper bound at every level when it fits", () => {
    const org = budget("bgt_org", "ORGANIZATION", "org_acme", 10_000n * M);
    const tok = budget("bgt_tok", "TEAM", "team_search", 10_000n, { unit: "TOKENS", window: "DAY" });
    const req = budget("bgt_req", "VIRTUAL_KEY", "vk_ci", 10n, { unit: "REQUESTS", window: "TOTAL" });
    const { run, ledger } = setup([org, tok, req], { bgt_org: 1_000n * M, bgt_tok: 5_000n, bgt_req: 3n });
    const d = admitted(run());
    expect(d.outputCapped).toBe(false);
    expect(d.reservation.holds.map((h) => [h.budgetId, h.amount])).toEqual([
      ["bgt_org", 750n * M],
      ["bgt_tok", 2_000n],
      ["bgt_req", 1n],
    ]);
    expect(ledger.available("bgt_org", MONTH, T0)).toBe(250n * M);
    expect(ledger.available("bgt_req", 0, T0)).toBe(2n);
  });

  it("first pass: a short budget yields budget_exceeded with shortfalls and holds nothing", () => {
    const b = budget("bgt_team", "TEAM", "team_search", 10_000n * M);
    const { run, ledger } = setup([b], { bgt_team: 450n * M });
    const r = refused(run());
    expect(r).toMatchObject({
      code: "budget_exceeded",
      message: 'monthly USD budget of team "search" is exhausted',
      shortfalls: [{ budgetId: "bgt_team", windowStart: MONTH, needed: 300n * M, upperBound: 750n * M }],
      retryAfterMs: Date.UTC(2024, 3, 1) - T0,
    });
    expect(r.checks.at(-1)).toMatchObject({ name: "budget", level: "TEAM", passed: false });
    expect(ledger.entries()[0]?.reserved).toBe(0n);
  });

  it.each<[string, bigint, number | null, number | null]>([
    // grant, requested max, expected cap (null = refused)
    ["pays half the output", 450n * M, null, 500],
    ["rounds the cap down", 449n * M, null, 498],
    ["exactly the minimum of 16 tokens", 160n * M, null, 16],
    ["below the minimum", 159n * M, null, null],
    ["cannot even pay the input", 149n * M, null, null],
    ["a small requested max needs no capping", 156n * M, 10, 10],
    ["a small requested max with room to spare", 157n * M, 10, 10],
    ["below a small requested max", 155n * M, 10, null],
  ])("CAP_OUTPUT second pass: %s", (_, grant, requested, cap) => {
    const b = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const { run, ledger } = setup([b], { bgt_key: grant });
    const d = run({ allowPartial: true, request: { requestedMaxOutputTokens: requested } });
    if (cap === null) {
      expect(refused(d)).toMatchObject({ code: "budget_exceeded", message: 'monthly USD budget of virtual key "ci" is exhausted', shortfalls: [] });
      expect(ledger.entries()[0]?.reserved).toBe(0n);
      return;
    }
    const a = admitted(d);
    expect(a.maxOutputTokens).toBe(cap);
    expect(a.outputCapped).toBe(cap < (requested ?? 1000));
    expect(a.estimatedCost).toBeLessThanOrEqual(grant);
    expect(a.reservation.holds[0]?.amount).toBe(a.estimatedCost);
    expect(ledger.available("bgt_key", MONTH, T0)).toBe(grant - a.estimatedCost);
  });

  it("CAP_OUTPUT on tokens and requests; the tightest budget sets the cap", () => {
    const usd = budget("bgt_usd", "ORGANIZATION", "org_acme", 10_000n * M);
    const tok = budget("bgt_tok", "TEAM", "team_search", 10_000n, { unit: "TOKENS" });
    const req = budget("bgt_req", "VIRTUAL_KEY", "vk_ci", 10n, { unit: "REQUESTS" });
    const { run } = setup([usd, tok, req], { bgt_usd: 450n * M, bgt_tok: 1_300n, bgt_req: 1n });
    const a = admitted(run({ allowPartial: true }));
    expect(a.maxOutputTokens).toBe(300);
    expect(a.reservation.holds.map((h) => h.amount)).toEqual([330n * M, 1_300n, 1n]);
  });

  it("STRICT needs the full upper bound (at the final cap)", () => {
    const strict = budget("bgt_s", "TEAM", "team_search", 10_000n * M, { enforcement: "STRICT" });
    expect(refused(setup([strict], { bgt_s: 749n * M }).run({ allowPartial: true })).message).toBe('monthly USD budget of team "search" is exhausted');
    expect(admitted(setup([strict], { bgt_s: 750n * M }).run({ allowPartial: true })).maxOutputTokens).toBe(1000);
    // A CAP_OUTPUT budget elsewhere lowers the cap to 500: the strict budget then needs only 450.
    const cap = budget("bgt_c", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const a = admitted(setup([strict, cap], { bgt_s: 450n * M, bgt_c: 450n * M }).run({ allowPartial: true }));
    expect(a).toMatchObject({ maxOutputTokens: 500, outputCapped: true, estimatedCost: 450n * M });
  });

  it("ESTIMATE admits on input + 25% of the output cap and holds what is available", () => {
    const est = budget("bgt_e", "USER", "usr_alice", 10_000n * M, { enforcement: "ESTIMATE" });
    // input 150 + 250 output tokens * 0.6 = 300 micros.
    const ok = setup([est], { bgt_e: 300n * M });
    const a = admitted(ok.run({ allowPartial: true, keyHmac: HMAC.personal }));
    expect(a).toMatchObject({ maxOutputTokens: 1000, outputCapped: false, estimatedCost: 750n * M });
    expect(a.reservation.holds[0]?.amount).toBe(300n * M);
    expect(ok.ledger.available("bgt_e", MONTH, T0)).toBe(0n);
    const r = refused(setup([est], { bgt_e: 299n * M }).run({ allowPartial: true, keyHmac: HMAC.personal }));
    expect(r.message).toBe('monthly USD budget of user "alice@acme.test" is exhausted');
  });

  it("all or none: one short budget leaves nothing held on the others", () => {
    const org = budget("bgt_org", "ORGANIZATION", "org_acme", 10_000n * M);
    const team = budget("bgt_team", "TEAM", "team_search", 10_000n * M, { enforcement: "STRICT", window: "WEEK" });
    const key = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 100n, { unit: "REQUESTS", window: "DAY" });
    const { run, ledger } = setup([org, team, key], { bgt_org: 5_000n * M, bgt_team: 700n * M, bgt_key: 10n });
    for (const allowPartial of [false, true]) {
      const r = refused(run({ allowPartial }));
      expect(r.message).toBe('weekly USD budget of team "search" is exhausted');
      expect(r.retryAfterMs).toBe(Date.UTC(2024, 2, 18) - T0);
    }
    expect(ledger.entries().map((e) => e.reserved)).toEqual([0n, 0n, 0n]);
  });

  it("SOFT budgets never refuse and are not held, but are charged", () => {
    const soft = budget("bgt_soft", "TEAM", "team_search", 1n * M, { mode: "SOFT" });
    const { run, ledger, index } = setup([soft], {});
    const a = admitted(run());
    expect(a.reservation.holds).toEqual([]);
    const s = settleRequest(index, ledger, a, { inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 }, "success", T0 + 1);
    expect(s.charges).toEqual([{ budgetId: "bgt_soft", windowStart: MONTH, amount: 7_500_000n }]);
  });

  it("budget_unverifiable when grants cannot be had and the limit is not known to be spent", () => {
    const b = budget("bgt_team", "TEAM", "team_search", 10_000n * M, { window: "DAY" });
    const none = setup([b], {});
    expect(refused(none.run({ allowPartial: true, grantsUnavailable: true }))).toMatchObject({
      code: "budget_unverifiable",
      message: 'daily USD budget of team "search" cannot be verified right now',
      retryAfterMs: null,
    });
    const spent = setup([b], {});
    spent.ledger.applyGrant("bgt_team", windowStartOf("DAY", T0), 100n * M, EXPIRY, true);
    expect(refused(spent.run({ allowPartial: true, grantsUnavailable: true }))).toMatchObject({
      code: "budget_exceeded",
      retryAfterMs: Date.UTC(2024, 2, 16) - T0,
    });
  });

  it("a dry run evaluates budgets but reserves nothing", () => {
    const b = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const { run, ledger } = setup([b], { bgt_key: 450n * M });
    const a = admitted(run({ dryRun: true, allowPartial: true }));
    expect(a).toMatchObject({ maxOutputTokens: 500, outputCapped: true, estimatedCost: 450n * M, reservation: { id: 0, holds: [] }, rateLimitCharges: [] });
    expect(ledger.entries()[0]).toMatchObject({ reserved: 0n, spent: 0n });
    expect(a.checks.filter((c) => c.name === "budget")).toHaveLength(1);
  });

  it("settles to the actual charges at the admission's price and window, then releases the rest", () => {
    const usd = budget("bgt_usd", "TEAM", "team_search", 10_000n * M, { window: "DAY" });
    const tok = budget("bgt_tok", "VIRTUAL_KEY", "vk_ci", 10_000n, { unit: "TOKENS" });
    const req = budget("bgt_req", "ORGANIZATION", "org_acme", 100n, { unit: "REQUESTS" });
    const { run, ledger, index } = setup([usd, tok, req], { bgt_usd: 1_000n * M, bgt_tok: 5_000n, bgt_req: 5n });
    const a = admitted(run());
    const usage = { inputTokens: 800, cachedInputTokens: 200, outputTokens: 100 };
    // 600 * 0.15 + 200 * 0.075 + 100 * 0.6 = 165 micros; settled the next day, it still counts for the admission's day.
    const s = settleRequest(index, ledger, a, usage, "success", T0 + 86_400_000);
    expect(s.costPicos).toBe(165n * M);
    expect(s.charges).toEqual([
      { budgetId: "bgt_req", windowStart: MONTH, amount: 1n },
      { budgetId: "bgt_usd", windowStart: windowStartOf("DAY", T0), amount: 165n * M },
      { budgetId: "bgt_tok", windowStart: MONTH, amount: 900n },
    ]);
    expect(ledger.entries().map((e) => [e.budgetId, e.spent, e.reserved])).toEqual([
      ["bgt_usd", 165n * M, 0n],
      ["bgt_tok", 900n, 0n],
      ["bgt_req", 1n, 0n],
    ]);
    const failed = admitted(run());
    const f = settleRequest(index, ledger, failed, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, "failed", T0 + 1);
    expect(f).toEqual({ costPicos: 0n, charges: [] });
    expect(ledger.available("bgt_req", MONTH, T0 + 1)).toBe(4n);
  });

  it("records debt when the provider returns more than the cap, and refuses afterwards", () => {
    const b = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const { run, ledger, index } = setup([b], { bgt_key: 800n * M });
    const a = admitted(run());
    settleRequest(index, ledger, a, { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 2000 }, "success", T0 + 1);
    expect(ledger.entries()[0]).toMatchObject({ spent: 1_350n * M, grantedTotal: 800n * M, reserved: 0n });
    expect(refused(run({ allowPartial: true })).code).toBe("budget_exceeded");
  });

  it("releaseAdmission gives the holds back without charging", () => {
    const b = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const { run, ledger } = setup([b], { bgt_key: 800n * M });
    releaseAdmission(ledger, admitted(run()));
    expect(ledger.available("bgt_key", MONTH, T0)).toBe(800n * M);
  });

  it("an expired grant holds nothing until renewed", () => {
    const b = budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 10_000n * M);
    const { ledger, index, limiter } = setup([b], { bgt_key: 5_000n * M });
    const later = makeInput({ now: EXPIRY, allowPartial: true });
    expect(refused(decide(index, ledger, limiter, later, 1)).code).toBe("budget_exceeded");
    ledger.applyGrant("bgt_key", MONTH, 5_000n * M, EXPIRY + 300_000, false);
    expect(decide(index, ledger, limiter, later, 1).allow).toBe(true);
  });

  it.each<[string, BudgetPolicy["window"], string, string, number | null]>([
    ["day rolls at midnight UTC", "DAY", "2024-03-15T23:59:59.000Z", "2024-03-16T00:00:00.000Z", 1_000],
    ["week rolls on Monday", "WEEK", "2024-03-17T23:59:59.000Z", "2024-03-18T00:00:00.000Z", 1_000],
    ["leap-year month rolls on March 1st", "MONTH", "2024-02-29T23:59:59.000Z", "2024-03-01T00:00:00.000Z", 1_000],
    ["total never rolls", "TOTAL", "2024-02-29T23:59:59.000Z", "2024-03-01T00:00:00.000Z", null],
  ])("%s: the new window needs its own grant", (_, window, before, after, retry) => {
    const b = budget("bgt_w", "VIRTUAL_KEY", "vk_ci", 10_000n * M, { window, enforcement: "STRICT" });
    const t1 = Date.parse(before);
    const t2 = Date.parse(after);
    const { index, ledger, limiter } = setup([b], { bgt_w: 750n * M }, t1);
    const exhausting = decide(index, ledger, limiter, makeInput({ now: t1 }), 1);
    expect(exhausting.allow).toBe(true);
    expect(refused(decide(index, ledger, limiter, makeInput({ now: t1, allowPartial: true }), 1)).retryAfterMs).toBe(retry);
    const next = decide(index, ledger, limiter, makeInput({ now: t2, allowPartial: true }), 1);
    if (window === "TOTAL") {
      expect(next.allow).toBe(false);
      return;
    }
    const start2 = windowStartOf(window, t2);
    expect(start2).toBe(t2);
    expect(refused(next).shortfalls).toEqual([]);
    expect(refused(decide(index, ledger, limiter, makeInput({ now: t2 }), 1)).shortfalls[0]).toMatchObject({ windowStart: start2, needed: 750n * M });
    ledger.applyGrant("bgt_w", start2, 750n * M, t2 + 300_000, false, windowEndOf(window, start2));
    expect(decide(index, ledger, limiter, makeInput({ now: t2 }), 1).allow).toBe(true);
  });
});
