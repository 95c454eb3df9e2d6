import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Decision, Refusal } from "./decision.js";
import { boundInputTokens, hasHardSpendLimit, type InputAttachments } from "./input-attachments.js";
import type { BudgetPolicy, ModelPolicy, PolicySnapshot } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { picosOfMicros } from "./money.js";
import { upperBoundCost } from "./pricing.js";
import { REFUSAL_STATUS } from "./refusal-status.js";
import { estimateDecisionCost } from "./simulation.js";
import { budget, CI_KEY, makeInput, makeSnapshot, MINI, T0 } from "./test-fixtures.js";
import { windowStartOf } from "./windows.js";

const OPENAI = { name: "openai-main", provider: "OPENAI" as const };
const GOOGLE = { name: "google-main", provider: "GOOGLE" as const };
const price = MINI.price ?? { inputPerMillion: 0n, outputPerMillion: 0n, cachedInputPerMillion: null };
const FILE: InputAttachments = { images: 0, unbounded: [{ kind: "file", path: "messages[0].content[1]" }] };

function refused(d: Decision): Refusal {
  if (d.allow) throw new Error(`expected a refusal, got an admission of ${d.estimatedCost}`);
  return d;
}

describe("boundInputTokens", () => {
  it.each<[string, InputAttachments | undefined, ModelPolicy[], boolean, number | "refused"]>([
    ["text only", undefined, [MINI], true, 100],
    ["images at the provider default (OpenAI 1500)", { images: 2, unbounded: [] }, [MINI], true, 3100],
    ["images at the model's setting", { images: 2, unbounded: [] }, [{ ...MINI, imageInputTokens: 48_000 }], true, 96_100],
    ["a file without a setting, no hard limit: 0", FILE, [MINI], false, 100],
    ["a file without a setting, under a hard limit", FILE, [MINI], true, "refused"],
    ["a file at the model's setting", FILE, [{ ...MINI, maxInputTokensPerAttachment: 20_000 }], true, 20_100],
    [
      "the largest candidate wins",
      { images: 1, unbounded: FILE.unbounded },
      [
        { ...MINI, maxInputTokensPerAttachment: 10 },
        { ...MINI, maxInputTokensPerAttachment: 5000 },
      ],
      true,
      6600,
    ],
    ["one candidate without the setting refuses under a hard limit", FILE, [{ ...MINI, maxInputTokensPerAttachment: 10 }, MINI], true, "refused"],
  ])("%s", (_name, attachments, models, hard, expected) => {
    const result = boundInputTokens(
      100,
      attachments,
      models.map((model) => ({ model, account: OPENAI })),
      hard,
    );
    if (expected === "refused") {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toMatch(/messages\[0\]\.content\[1\] is a file reference.*maxInputTokensPerAttachment/);
    } else expect(result).toEqual({ ok: true, tokens: expected });
  });

  it("uses each account's provider default for images (Gemini 1600)", () => {
    expect(
      boundInputTokens(
        0,
        { images: 1, unbounded: [] },
        [
          { model: MINI, account: OPENAI },
          { model: MINI, account: GOOGLE },
        ],
        false,
      ),
    ).toEqual({ ok: true, tokens: 1600 });
  });
});

describe("hasHardSpendLimit", () => {
  const b = (unit: BudgetPolicy["unit"], mode: BudgetPolicy["mode"]): BudgetPolicy => budget("bgt", "VIRTUAL_KEY", "vk_ci", 10n, { unit, mode });
  it.each<[string, bigint | null, BudgetPolicy[], boolean]>([
    ["nothing", null, [], false],
    ["a hard USD budget", null, [b("USD", "HARD")], true],
    ["a hard TOKENS budget", null, [b("TOKENS", "HARD")], true],
    ["a hard REQUESTS budget", null, [b("REQUESTS", "HARD")], false],
    ["a soft USD budget", null, [b("USD", "SOFT")], false],
    ["a per-request cost limit", 1000n, [], true],
  ])("%s -> %s", (_name, cap, budgets, expected) => {
    expect(hasHardSpendLimit({ maxCostPerRequest: cap }, budgets)).toBe(expected);
  });
});

describe("decide: unsizable parts and images", () => {
  const hard = [budget("bgt_key", "VIRTUAL_KEY", "vk_ci", picosOfMicros(5_000_000n))]; // $5
  const run = (snap: PolicySnapshot, attachments: InputAttachments): Decision => {
    const ledger = new BudgetLedger();
    for (const b of snap.budgets) ledger.applyGrant(b.id, windowStartOf(b.window, T0), b.limit, T0 + 300_000, false);
    return decide(buildPolicyIndex(snap), ledger, new RateLimiter(), makeInput({ request: { inputTokensUpperBound: 1000, attachments } }), 1);
  };

  it("refuses a file part under a hard USD budget with a 400 that names the part and the setting", () => {
    const r = refused(run(makeSnapshot({ budgets: hard }), FILE));
    expect(r.code).toBe("invalid_request");
    expect(REFUSAL_STATUS[r.code]).toBe(400);
    expect(r.message).toContain("messages[0].content[1]");
    expect(r.message).toContain('model "gpt-4o-mini"');
    expect(r.message).toContain("maxInputTokensPerAttachment");
  });

  it("refuses under the key's per-request cost limit too", () => {
    const snap = makeSnapshot({ virtualKeys: [{ ...CI_KEY, maxCostPerRequest: 1_000_000n }] });
    expect(refused(run(snap, FILE)).code).toBe("invalid_request");
  });

  it("admits without hard limits, reserving the text bound only", () => {
    const d = run(makeSnapshot(), FILE);
    if (!d.allow) throw new Error(d.message);
    expect(d.estimatedCost).toBe(upperBoundCost(price, 1000, 1000));
  });

  it("reserves the admin's bound per part and the model's image setting under a hard budget", () => {
    const models = makeSnapshot().models.map((m) => (m.id === "mdl_mini" ? { ...m, maxInputTokensPerAttachment: 100_000, imageInputTokens: 2000 } : m));
    const d = run(makeSnapshot({ budgets: hard, models }), { images: 3, unbounded: FILE.unbounded });
    if (!d.allow) throw new Error(d.message);
    // (1000 + 100,000 + 3 × 2000) input at $0.15 + 1000 output at $0.60 per million.
    expect(d.estimatedCost).toBe(upperBoundCost(price, 107_000, 1000));
  });

  it("counts the bound in a MAX_INPUT_TOKENS guardrail", () => {
    const models = makeSnapshot().models.map((m) => (m.id === "mdl_mini" ? { ...m, maxInputTokensPerAttachment: 100_000 } : m));
    const guardrails = [
      {
        id: "grd",
        organizationId: "org_acme",
        scope: "VIRTUAL_KEY" as const,
        scopeId: "vk_ci",
        scopeLabel: "ci",
        rules: [{ name: "short", kind: "MAX_INPUT_TOKENS" as const, pattern: "", flags: "", keywords: [], limit: 50_000 }],
      },
    ];
    expect(refused(run(makeSnapshot({ models, guardrails }), FILE)).code).toBe("guardrail_blocked");
  });

  it("reports a refused request's estimated cost with its images at the model's setting", () => {
    const models = makeSnapshot().models.map((m) => (m.id === "mdl_mini" ? { ...m, imageInputTokens: 2000 } : m));
    const snap = makeSnapshot({ budgets: [budget("bgt_key", "VIRTUAL_KEY", "vk_ci", 1n)], models });
    const request = { model: "gpt-4o-mini", inputTokensUpperBound: 1000, requestedMaxOutputTokens: null, operation: "chat" as const, attachments: { images: 2, unbounded: [] } };
    const d = run(snap, request.attachments);
    expect(refused(d).code).toBe("budget_exceeded");
    expect(estimateDecisionCost(buildPolicyIndex(snap), d, request)).toBe(upperBoundCost(price, 5000, 1000));
  });
});
