import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Admission, Decision } from "./decision.js";
import type { ModelPolicy, PolicySnapshot, ProviderAccountPolicy } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { admissionVia, boundingPrice, resolveRoute } from "./routing.js";
import { settleRequest } from "./settlement.js";
import { budget, CI_KEY, MINI, type InputPatch, makeInput, makeSnapshot, T0 } from "./test-fixtures.js";

const account = (id: string, name: string): ProviderAccountPolicy => ({
  id,
  organizationId: "org_acme",
  name,
  provider: "OPENAI",
  baseUrl: "https://x.test/v1",
  apiKey: "sk",
});
const base = makeSnapshot();
const ACCOUNTS = [account("pa_a", "a"), account("pa_b", "b"), account("pa_c", "c"), account("pa_d", "d")];
const routed = (id: string, accountId: string, patch: Partial<ModelPolicy> = {}): ModelPolicy => ({
  ...MINI,
  id,
  providerAccountId: accountId,
  name: "chat",
  upstreamModel: `up-${id}`,
  ...patch,
});

function snapshotWith(models: ModelPolicy[], patch: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return makeSnapshot({ providerAccounts: [...base.providerAccounts, ...ACCOUNTS], models: [...base.models, ...models], ...patch });
}

const order = (snapshot: PolicySnapshot, random: number, name = "chat"): string[] => resolveRoute(buildPolicyIndex(snapshot), "org_acme", name, random).map((c) => c.model.id);

/** `n` evenly spaced random numbers in [0, 1): a deterministic, exactly uniform sample. */
const grid = (n: number): number[] => Array.from({ length: n }, (_, i) => (i + 0.5) / n);

describe("resolveRoute: priority groups, weighted order from one random number", () => {
  it("groups every model of a public name, pins one with <account>/<name>, and skips models without an account", () => {
    const s = snapshotWith([routed("mdl_2", "pa_b"), routed("mdl_1", "pa_a"), routed("mdl_x", "pa_missing")]);
    expect(order(s, 0).sort()).toEqual(["mdl_1", "mdl_2"]);
    expect(order(s, 0.99, "b/chat")).toEqual(["mdl_2"]);
    expect(order(s, 0, "nope")).toEqual([]);
    expect(order(s, 0, "gpt-4o-mini")).toEqual(["mdl_mini"]);
    expect(resolveRoute(buildPolicyIndex(s), "org_other", "chat", 0)).toEqual([]);
  });

  it("tries lower priorities first, whatever the weights and the random number", () => {
    const s = snapshotWith([
      routed("mdl_1", "pa_a", { priority: 1, weight: 100 }),
      routed("mdl_2", "pa_b", { priority: 0, weight: 1 }),
      routed("mdl_3", "pa_c", { priority: 2 }),
      routed("mdl_4", "pa_d", { priority: -1, weight: 1 }),
    ]);
    for (const r of grid(50)) expect(order(s, r)).toEqual(["mdl_4", "mdl_2", "mdl_1", "mdl_3"]);
  });

  it("picks the first account in proportion to the weights (exactly, over a uniform grid)", () => {
    const s = snapshotWith([routed("mdl_1", "pa_a", { weight: 3 }), routed("mdl_2", "pa_b", { weight: 1 }), routed("mdl_3", "pa_c", { weight: 6 })]);
    const firsts = new Map<string, number>();
    for (const r of grid(1000)) {
      const o = order(s, r);
      expect([...o].sort()).toEqual(["mdl_1", "mdl_2", "mdl_3"]);
      firsts.set(o[0]!, (firsts.get(o[0]!) ?? 0) + 1);
    }
    expect(Object.fromEntries(firsts)).toEqual({ mdl_1: 300, mdl_2: 100, mdl_3: 600 });
  });

  it("orders the fallbacks by weight too: P(first=i, second=j) = wi/W * wj/(W - wi)", () => {
    const weights: Record<string, number> = { mdl_1: 1, mdl_2: 2, mdl_3: 3 };
    const s = snapshotWith(Object.entries(weights).map(([id, weight], i) => routed(id, ACCOUNTS[i]!.id, { weight })));
    const n = 6000;
    const pairs = new Map<string, number>();
    for (const r of grid(n)) {
      const [a, b] = order(s, r);
      pairs.set(`${a}>${b}`, (pairs.get(`${a}>${b}`) ?? 0) + 1);
    }
    for (const [i, wi] of Object.entries(weights)) {
      for (const [j, wj] of Object.entries(weights)) {
        if (i === j) continue;
        const expected = (wi / 6) * (wj / (6 - wi)) * n;
        expect(Math.abs((pairs.get(`${i}>${j}`) ?? 0) - expected)).toBeLessThanOrEqual(2);
      }
    }
  });

  it("puts weight-0 standbys after the weighted accounts of their priority; equal weights split evenly", () => {
    const s = snapshotWith([routed("mdl_1", "pa_a", { weight: 0 }), routed("mdl_2", "pa_b"), routed("mdl_3", "pa_c")]);
    const firsts = grid(100).map((r) => order(s, r));
    for (const o of firsts) expect(o[2]).toBe("mdl_1");
    expect(firsts.filter((o) => o[0] === "mdl_2")).toHaveLength(50);
    // Out-of-range random numbers are clamped, never thrown on.
    expect(order(s, -3)).toEqual(["mdl_2", "mdl_3", "mdl_1"]);
    expect(order(s, 7)).toEqual(["mdl_3", "mdl_2", "mdl_1"]);
    expect(order(s, Number.NaN)).toEqual(["mdl_2", "mdl_3", "mdl_1"]);
  });

  it("boundingPrice is at least every candidate's cost for any usage", () => {
    const a = { inputPerMillion: 1_000n, outputPerMillion: 9_000n, cachedInputPerMillion: 5_000n };
    const b = { inputPerMillion: 3_000n, outputPerMillion: 2_000n, cachedInputPerMillion: null };
    expect(boundingPrice([a, b])).toEqual({ inputPerMillion: 5_000n, outputPerMillion: 9_000n, cachedInputPerMillion: null });
    expect(boundingPrice([b])).toBe(b);
  });
});

describe("decide over a route group", () => {
  const cheap = { inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n, cachedInputPerMillion: null };
  const dear = { inputPerMillion: 4_000_000n, outputPerMillion: 8_000_000n, cachedInputPerMillion: null };
  const group = [routed("mdl_1", "pa_a", { price: cheap, maxOutputTokens: 100 }), routed("mdl_2", "pa_b", { price: dear, maxOutputTokens: 200, priority: 1 })];
  const run = (s: PolicySnapshot, patch: InputPatch = {}, ledger = new BudgetLedger()): Decision =>
    decide(buildPolicyIndex(s), ledger, new RateLimiter(), makeInput({ request: { model: "chat", inputTokensUpperBound: 1000 }, ...patch }), 1);
  const admitted = (d: Decision): Admission => {
    if (!d.allow) throw new Error(`refused: ${d.message}`);
    return d;
  };

  it("admits with every candidate in order and reserves the dearest candidate's upper bound", () => {
    const M = 1_000_000n; // pico-dollars per micro-dollar
    const ledger = new BudgetLedger();
    const s = snapshotWith(group, { budgets: [budget("bgt_k", "VIRTUAL_KEY", CI_KEY.id, 1_000_000n * M, { window: "TOTAL" })] });
    ledger.applyGrant("bgt_k", 0, 1_000_000n * M, T0 + 60_000, false, null);
    const a = admitted(run(s, {}, ledger));
    expect(a.candidates.map((c) => [c.model.id, c.account.name, c.price])).toEqual([
      ["mdl_1", "a", cheap],
      ["mdl_2", "b", dear],
    ]);
    expect([a.model.id, a.price]).toEqual(["mdl_1", cheap]);
    // 1000 input at $4/M + 200 output (the larger max) at $8/M = 4000 + 1600 micro-dollars.
    expect(a.estimatedCost).toBe(5_600n * M);
    expect(a.reservation.holds).toEqual([expect.objectContaining({ budgetId: "bgt_k", amount: 5_600n * M })]);
    // Settled at the candidate that served: the cheap one, at its price.
    const via = admissionVia(a, a.candidates[0]!);
    expect(via.maxOutputTokens).toBe(100);
    const settled = settleRequest(buildPolicyIndex(s), ledger, via, { inputTokens: 900, cachedInputTokens: 0, outputTokens: 50 }, "success", T0);
    expect(settled.costPicos).toBe(950n * M);
    const second = settleRequest(buildPolicyIndex(s), new BudgetLedger(), admissionVia(a, a.candidates[1]!), { inputTokens: 900, cachedInputTokens: 0, outputTokens: 50 }, "success", T0);
    expect(second.costPicos).toBe((3_600n + 400n) * M);
  });

  it("applies allow/deny to the public name for the whole group; a qualified deny drops only that account", () => {
    const denyAll = snapshotWith(group, { virtualKeys: [{ ...CI_KEY, access: { allow: [], deny: ["chat"] } }] });
    expect(run(denyAll)).toMatchObject({ allow: false, code: "model_not_allowed" });
    const denyA = snapshotWith(group, { virtualKeys: [{ ...CI_KEY, access: { allow: [], deny: ["a/*"] } }] });
    expect(admitted(run(denyA)).candidates.map((c) => c.model.id)).toEqual(["mdl_2"]);
    const allowOnlyChat = snapshotWith(group, { virtualKeys: [{ ...CI_KEY, access: { allow: ["chat"], deny: [] } }] });
    expect(admitted(run(allowOnlyChat)).candidates).toHaveLength(2);
    // `<account>/<name>` pins one account.
    expect(admitted(run(snapshotWith(group), { request: { model: "b/chat" } })).candidates.map((c) => c.model.id)).toEqual(["mdl_2"]);
  });

  it("leaves unpriced candidates out, and refuses when none is priced", () => {
    const mixed = snapshotWith([routed("mdl_1", "pa_a", { price: null }), routed("mdl_2", "pa_b", { price: dear })]);
    expect(admitted(run(mixed)).candidates.map((c) => c.model.id)).toEqual(["mdl_2"]);
    const none = snapshotWith([routed("mdl_1", "pa_a", { price: null }), routed("mdl_2", "pa_b", { price: null })]);
    expect(run(none)).toMatchObject({ allow: false, code: "model_not_priced" });
  });

  it("draws the order from the caller's random number", () => {
    const even = snapshotWith([routed("mdl_1", "pa_a", { price: cheap }), routed("mdl_2", "pa_b", { price: cheap })]);
    expect(admitted(run(even, { routeRandom: 0.2 })).model.id).toBe("mdl_1");
    expect(admitted(run(even, { routeRandom: 0.7 })).model.id).toBe("mdl_2");
  });
});
