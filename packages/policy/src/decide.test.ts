import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import type { Decision, Refusal } from "./decision.js";
import type { ModelPrice, PolicySnapshot } from "./model.js";
import { listCallableModels } from "./model-access-chain.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { CI_KEY, HMAC, type InputPatch, makeInput, makeSnapshot, MINI, PERSONAL_KEY, rateLimit, T0 } from "./test-fixtures.js";

function run(snapshot: PolicySnapshot, patch: InputPatch = {}): Decision {
  return decide(buildPolicyIndex(snapshot), new BudgetLedger(), new RateLimiter(), makeInput(patch), 1);
}

function refused(d: Decision): Refusal {
  if (d.allow) throw new Error(`expected a refusal, got an admission`);
  return d;
}

const base = makeSnapshot();
const withKey = (patch: Partial<typeof CI_KEY>, key = CI_KEY): PolicySnapshot => makeSnapshot({ virtualKeys: base.virtualKeys.map((k) => (k.id === key.id ? { ...k, ...patch } : k)) });
const deny = (patterns: string[]) => ({ allow: [], deny: patterns });

describe("decide: refusals in order, with code, message and level", () => {
  it.each<[string, PolicySnapshot, InputPatch, string, RegExp | string, string]>([
    ["no key", base, { keyHmac: null }, "invalid_api_key", "no API key was provided", "VIRTUAL_KEY"],
    ["unknown key", base, { keyHmac: "ffff" }, "invalid_api_key", "the API key is not valid", "VIRTUAL_KEY"],
    ["rotated secret past grace", base, { keyHmac: HMAC.old }, "invalid_api_key", /rotated and its grace period has ended/, "VIRTUAL_KEY"],
    ["revoked", withKey({ status: "REVOKED" }), {}, "invalid_api_key", 'virtual key "ci" has been revoked', "VIRTUAL_KEY"],
    ["revoked beats paused order", withKey({ status: "REVOKED", expiresAt: 1 }), {}, "invalid_api_key", /revoked/, "VIRTUAL_KEY"],
    ["expired", withKey({ expiresAt: T0 }), {}, "invalid_api_key", 'virtual key "ci" has expired', "VIRTUAL_KEY"],
    [
      "personal key of a deactivated user",
      makeSnapshot({ users: base.users.map((u) => ({ ...u, active: false })) }),
      { keyHmac: HMAC.personal },
      "invalid_api_key",
      'the user of virtual key "alice-laptop" is deactivated',
      "USER",
    ],
    ["personal key of a removed user", makeSnapshot({ users: [] }), { keyHmac: HMAC.personal }, "invalid_api_key", /no longer exists/, "USER"],
    ["paused", withKey({ status: "PAUSED" }), {}, "key_paused", 'virtual key "ci" is paused', "VIRTUAL_KEY"],
    ["paused before model checks", withKey({ status: "PAUSED" }), { request: { model: "nope" } }, "key_paused", /paused/, "VIRTUAL_KEY"],
    ["unknown model", base, { request: { model: "gpt-5" } }, "model_not_found", 'model "gpt-5" does not exist', "MODEL"],
    [
      "denied by the organization",
      makeSnapshot({ organizations: base.organizations.map((o) => ({ ...o, access: deny(["gpt-4o*"]) })) }),
      {},
      "model_not_allowed",
      'model "gpt-4o-mini" is not allowed for organization "acme"',
      "ORGANIZATION",
    ],
    [
      "outside the team's allow list",
      makeSnapshot({ teams: base.teams.map((t) => (t.id === "team_search" ? { ...t, access: { allow: ["claude-*"], deny: [] } } : t)) }),
      {},
      "model_not_allowed",
      'model "gpt-4o-mini" is not allowed for team "search"',
      "TEAM",
    ],
    [
      "denied by a second team of a personal key's user",
      makeSnapshot({ teams: base.teams.map((t) => (t.id === "team_infra" ? { ...t, access: deny(["openai-main/*"]) } : t)) }),
      { keyHmac: HMAC.personal },
      "model_not_allowed",
      'model "gpt-4o-mini" is not allowed for team "infra"',
      "TEAM",
    ],
    [
      "denied for the user",
      makeSnapshot({ users: base.users.map((u) => ({ ...u, access: deny(["*mini"]) })) }),
      { keyHmac: HMAC.personal },
      "model_not_allowed",
      'model "gpt-4o-mini" is not allowed for user "alice@acme.test"',
      "USER",
    ],
    [
      "outside the key's allow list (qualified name asked)",
      withKey({ access: { allow: ["gpt-4o"], deny: [] } }),
      { request: { model: "openai-main/gpt-4o-mini" } },
      "model_not_allowed",
      'model "openai-main/gpt-4o-mini" is not allowed for virtual key "ci"',
      "VIRTUAL_KEY",
    ],
    ["unpriced model", base, { request: { model: "unpriced" } }, "model_not_priced", 'model "unpriced" has no price', "MODEL"],
    [
      "over the per-request cap",
      withKey({ maxCostPerRequest: 500_000_000n }),
      {},
      "request_cost_limit",
      'request may cost up to $0.00075, over the per-request limit of $0.0005 of virtual key "ci"',
      "VIRTUAL_KEY",
    ],
  ])("%s", (_, snapshot, patch, code, message, level) => {
    const r = refused(run(snapshot, patch));
    expect(r.code).toBe(code);
    if (typeof message === "string") expect(r.message).toBe(message);
    else expect(r.message).toMatch(message);
    const last = r.checks.at(-1);
    expect(last).toMatchObject({ passed: false, level });
    expect(r.checks.slice(0, -1).every((c) => c.passed)).toBe(true);
  });

  it("attributes refusals to the key once it is resolved, never before", () => {
    expect(refused(run(base, { keyHmac: "ffff" })).key).toBeNull();
    expect(refused(run(withKey({ status: "PAUSED" }))).key?.id).toBe("vk_ci");
    expect(refused(run(base, { request: { model: "unpriced" } })).model?.id).toBe("mdl_free");
  });

  it("accepts a rotated-out secret during its grace period", () => {
    expect(run(base, { keyHmac: HMAC.old, now: 999_999 }).allow).toBe(true);
  });

  it("serves audio only on a model priced for it, and reserves a text request without the audio prices", () => {
    const refused = run(base, { request: { audio: true } });
    expect(refused).toMatchObject({ allow: false, code: "model_not_priced", message: 'model "gpt-4o-mini" has no audio price (the request sends or asks for audio)' });
    const audioPrice = { ...MINI.price, audioInputPerMillion: 40_000_000n, audioOutputPerMillion: 80_000_000n } as ModelPrice;
    const priced = makeSnapshot({ models: [...base.models.map((m) => (m.id === MINI.id ? { ...m, price: audioPrice } : m))] });
    // 1000 input tokens and 1000 output tokens: at the audio prices $0.12, at the text prices $0.00075.
    expect(run(priced, { request: { audio: true } })).toMatchObject({ allow: true, estimatedCost: 120_000_000_000n });
    expect(run(priced)).toMatchObject({ allow: true, estimatedCost: 750_000_000n });
  });

  it("charges an unpriced model at the organization's fallback price", () => {
    const fallbackPrice = { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n, cachedInputPerMillion: null };
    const d = run(makeSnapshot({ organizations: base.organizations.map((o) => ({ ...o, fallbackPrice })) }), { request: { model: "unpriced" } });
    expect(d).toMatchObject({ allow: true, price: fallbackPrice, estimatedCost: 3_000_000_000n });
  });

  it("admits under the per-request cap once max tokens are lowered", () => {
    expect(run(withKey({ maxCostPerRequest: 500_000_000n }), { request: { requestedMaxOutputTokens: 100 } })).toMatchObject({
      allow: true,
      maxOutputTokens: 100,
      outputCapped: false,
      estimatedCost: 210_000_000n,
    });
  });

  it("refuses over a rate limit with a retry hint, and a dry run consumes none", () => {
    const snapshot = makeSnapshot({ rateLimits: [rateLimit("rl_1", "TEAM", "team_search", "REQUESTS", 2, 60)] });
    const index = buildPolicyIndex(snapshot);
    const ledger = new BudgetLedger();
    const limiter = new RateLimiter();
    for (let i = 0; i < 5; i++) expect(decide(index, ledger, limiter, makeInput({ dryRun: true }), 1).allow).toBe(true);
    expect(decide(index, ledger, limiter, makeInput(), 1).allow).toBe(true);
    const second = decide(index, ledger, limiter, makeInput(), 1);
    expect(second).toMatchObject({ allow: true, rateLimits: [{ rateLimitId: "rl_1", limit: 2, remaining: 0 }] });
    const r = refused(decide(index, ledger, limiter, makeInput({ now: T0 + 5_000 }), 1));
    expect(r).toMatchObject({
      code: "rate_limit_exceeded",
      message: 'request rate limit of team "search" exceeded (2 per 60s)',
      retryAfterMs: 55_000,
      rateLimit: { limit: 2, remaining: 0, resetMs: 55_000 },
    });
    expect(r.checks.at(-1)).toMatchObject({ name: "rate_limit", level: "TEAM", passed: false });
    expect(decide(index, ledger, limiter, makeInput({ now: T0 + 60_000 }), 1).allow).toBe(true);
  });

  it("admits with every check passed, routed to the model's account", () => {
    const d = run(base, { request: { requestedMaxOutputTokens: 5_000 } });
    if (!d.allow) throw new Error(d.message);
    expect(d.account.name).toBe("openai-main");
    expect(d.model.upstreamModel).toBe("gpt-4o-mini-2024-07-18");
    expect(d.maxOutputTokens).toBe(1000);
    expect(d.outputCapped).toBe(false);
    expect(d.estimatedCost).toBe(750_000_000n);
    expect(d.checks.every((c) => c.passed)).toBe(true);
    expect(d.checks.map((c) => c.name)).toEqual(["api_key", "key_status", "model", "model_access", "price"]);
  });

  it("gives embeddings no output", () => {
    expect(run(base, { request: { model: "embed", requestedMaxOutputTokens: 50, operation: "embeddings" } })).toMatchObject({
      allow: true,
      maxOutputTokens: 0,
      estimatedCost: 20_000_000n,
    });
  });
});

describe("listCallableModels", () => {
  it("lists every model passing allow/deny at every level, sorted by name", () => {
    const snapshot = makeSnapshot({
      teams: base.teams.map((t) => (t.id === "team_infra" ? { ...t, access: deny(["unpriced"]) } : t)),
      virtualKeys: [CI_KEY, { ...PERSONAL_KEY, access: { allow: ["gpt-*", "openai-main/embed", "unpriced"], deny: [] } }],
    });
    const index = buildPolicyIndex(snapshot);
    const personal = index.virtualKey("vk_alice");
    if (personal === null) throw new Error("missing key");
    expect(listCallableModels(index, personal).map((m) => m.name)).toEqual(["embed", "gpt-4o", "gpt-4o-mini"]);
    expect(listCallableModels(index, CI_KEY).map((m) => m.name)).toEqual(["embed", "gpt-4o", "gpt-4o-mini", "unpriced"]);
  });
});
