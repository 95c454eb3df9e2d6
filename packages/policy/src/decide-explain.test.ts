import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Decision } from "./decision.js";
import type { PolicySnapshot } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { budget, makeInput, makeSnapshot, rateLimit, T0, type InputPatch } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

/** Decides the same input twice on identical fresh state: explained (default) and not. */
function both(snapshot: PolicySnapshot, patch: InputPatch = {}): [Decision, Decision] {
  const run = (explain: boolean | undefined): Decision => {
    const ledger = new BudgetLedger();
    for (const b of snapshot.budgets) ledger.applyGrant(b.id, windowStartOf(b.window, T0), 5_000_000_000n, T0 + 300_000, false);
    return decide(buildPolicyIndex(snapshot), ledger, new RateLimiter(), makeInput({ ...patch, ...(explain === undefined ? {} : { explain }) }), 1);
  };
  return [run(undefined), run(false)];
}

const withLimits = makeSnapshot({
  budgets: [budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 5_000_000_000n), budget("bgt_soft", "ORGANIZATION", "org_acme", 10_000_000n, { mode: "SOFT" })],
  rateLimits: [rateLimit("rl_key", "VIRTUAL_KEY", "vk_ci", "REQUESTS", 10, 60)],
});

describe("decide with explain: false (the request path)", () => {
  it("admits exactly as the explained decision, without recording the checks that passed", () => {
    const [explained, quiet] = both(withLimits, { request: { requestedMaxOutputTokens: 100, inputTokensUpperBound: 10 } });
    expect(explained.allow).toBe(true);
    expect(explained.checks.length).toBeGreaterThan(4);
    expect(explained.checks.every((c) => c.passed)).toBe(true);
    expect(quiet.checks).toEqual([]);
    const { checks: _a, ...restExplained } = explained;
    const { checks: _b, ...restQuiet } = quiet;
    expect(restQuiet).toEqual(restExplained);
  });

  it("refuses exactly as the explained decision and still records the failed check", () => {
    const [explained, quiet] = both(withLimits, { request: { model: "no-such-model" } });
    expect(quiet.allow).toBe(false);
    expect(explained.allow).toBe(false);
    if (quiet.allow || explained.allow) return;
    expect(quiet.code).toBe(explained.code);
    expect(quiet.message).toBe(explained.message);
    expect(quiet.checks).toEqual(explained.checks.filter((c) => !c.passed));
    expect(quiet.checks).toHaveLength(1);
  });
});
