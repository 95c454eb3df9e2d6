import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import type { BudgetPolicy, PolicySnapshot } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { estimateDecisionCost, simulateDecision, type SimulationInput } from "./simulation.js";
import { budget, HMAC, makeInput, makeSnapshot, rateLimit, T0 } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

const MONTH = windowStartOf("MONTH", T0);
const request = makeInput().request; // gpt-4o-mini, 1000 input tokens, max output 1000: up to $0.000750
/** Pico-dollars per micro-dollar: USD amounts below are written in micro-dollars times M. */
const M = 1_000_000n;

function setup(budgets: BudgetPolicy[], grants: Record<string, { amount: bigint; exhausted?: boolean }>, snapshot: Partial<PolicySnapshot> = {}) {
  const index = buildPolicyIndex(makeSnapshot({ budgets, ...snapshot }));
  const ledger = new BudgetLedger();
  for (const b of budgets) {
    const g = grants[b.id];
    if (g) ledger.applyGrant(b.id, windowStartOf(b.window, T0), g.amount, T0 + 300_000, g.exhausted ?? false);
  }
  const limiter = new RateLimiter();
  const sim = (patch: Partial<SimulationInput> = {}) => simulateDecision(index, ledger, limiter, { keyHmac: HMAC.ci, request, now: T0, grantsReachable: true, ...patch }, 1);
  return { index, ledger, limiter, sim };
}

describe("simulateDecision", () => {
  it("admits like decide, reserving nothing and counting no rate limit", () => {
    const b = budget("bgt_team", "TEAM", "team_search", 10_000n * M);
    const rl = rateLimit("rl_1", "VIRTUAL_KEY", "vk_ci", "REQUESTS", 1, 60);
    const { sim, ledger, limiter, index } = setup([b], { bgt_team: { amount: 1_000n * M } }, { rateLimits: [rl] });
    for (let i = 0; i < 3; i++) {
      const { decision, grantNeeds } = sim();
      expect(decision.allow).toBe(true);
      expect(grantNeeds).toEqual([]);
      if (decision.allow) expect(decision.estimatedCost).toBe(750n * M);
    }
    expect(ledger.entries()).toEqual([expect.objectContaining({ reserved: 0n, spent: 0n, grantedTotal: 1_000n * M })]);
    expect(limiter.status(rl, T0).remaining).toBe(1);
    expect(index.budget("bgt_team")).not.toBeNull();
  });

  it("assumes a grant from a reachable control plane when the window is not exhausted", () => {
    const b = budget("bgt_team", "TEAM", "team_search", 10_000n * M);
    const { sim, ledger } = setup([b], { bgt_team: { amount: 450n * M } });
    const { decision, grantNeeds } = sim();
    if (!decision.allow) throw new Error(decision.message);
    expect(decision.outputCapped).toBe(false);
    expect(decision.reservation.holds).toEqual([]);
    expect(grantNeeds).toEqual([{ budgetId: "bgt_team", windowStart: MONTH, needed: 300n * M, assumedGrant: 300n * M }]);
    expect(decision.checks.at(-1)).toEqual({
      name: "budget_grant",
      level: "TEAM",
      passed: true,
      detail: 'monthly USD budget of team "search" needs a grant of $0.0003 from the control plane',
    });
    expect(ledger.entries()).toEqual([expect.objectContaining({ grantedTotal: 450n * M, reserved: 0n, spent: 0n })]);
  });

  it("assumes no grant for an exhausted window: CAP_OUTPUT caps, STRICT refuses", () => {
    const capped = setup([budget("bgt_team", "TEAM", "team_search", 10_000n * M)], { bgt_team: { amount: 450n * M, exhausted: true } }).sim();
    if (!capped.decision.allow) throw new Error(capped.decision.message);
    expect(capped.decision.outputCapped).toBe(true);
    expect(capped.decision.maxOutputTokens).toBe(500);
    expect(capped.decision.checks.at(-1)).toMatchObject({ name: "budget_grant", passed: false, detail: expect.stringContaining("exhausted") });

    const strict = setup([budget("bgt_team", "TEAM", "team_search", 10_000n * M, { enforcement: "STRICT" })], { bgt_team: { amount: 450n * M, exhausted: true } }).sim();
    expect(strict.decision).toMatchObject({ allow: false, code: "budget_exceeded" });
  });

  it("never assumes a grant beyond the budget's limit: CAP_OUTPUT then caps to what the limit pays", () => {
    const { sim } = setup([budget("bgt_team", "TEAM", "team_search", 600n * M)], {});
    const { decision, grantNeeds } = sim();
    expect(grantNeeds).toEqual([{ budgetId: "bgt_team", windowStart: MONTH, needed: 750n * M, assumedGrant: 600n * M }]);
    if (!decision.allow) throw new Error(decision.message);
    expect(decision.maxOutputTokens).toBe(750);
    expect(decision.estimatedCost).toBeLessThanOrEqual(600n * M);
    expect(decision.checks.at(-1)).toMatchObject({ passed: false, detail: expect.stringContaining("at most $0.0006 under the limit") });
  });

  it("reports budget_unverifiable when the control plane is unreachable and the grant falls short", () => {
    const { sim } = setup([budget("bgt_team", "TEAM", "team_search", 10_000n * M, { enforcement: "STRICT" })], { bgt_team: { amount: 100n * M } });
    const { decision, grantNeeds } = sim({ grantsReachable: false });
    expect(decision).toMatchObject({ allow: false, code: "budget_unverifiable" });
    expect(grantNeeds).toEqual([expect.objectContaining({ assumedGrant: 0n, needed: 650n * M })]);
    expect(decision.checks.at(-1)?.detail).toContain("unreachable");
  });

  it("estimates the cost of refusals that resolved a priced model, 0 otherwise", () => {
    const { sim, index } = setup([budget("bgt_team", "TEAM", "team_search", 10_000n * M, { enforcement: "STRICT" })], { bgt_team: { amount: 100n * M, exhausted: true } });
    const refused = sim().decision;
    expect(refused.allow).toBe(false);
    expect(estimateDecisionCost(index, refused, request)).toBe(750n * M);
    const unknown = sim({ request: { ...request, model: "nope" } }).decision;
    expect(estimateDecisionCost(index, unknown, request)).toBe(0n);
    const noKey = sim({ keyHmac: null }).decision;
    expect(noKey).toMatchObject({ allow: false, code: "invalid_api_key" });
    expect(estimateDecisionCost(index, noKey, request)).toBe(0n);
  });
});
