import { describe, expect, it } from "vitest";
import { BudgetLedger } from "./budget-ledger.js";
import { decide } from "./decide.js";
import { authenticateKey, type KeyAuthentication } from "./key-authentication.js";
import type { PolicySnapshot } from "./model.js";
import { buildPolicyIndex } from "./policy-index.js";
import { RateLimiter } from "./rate-limiter.js";
import { CI_KEY, HMAC, makeInput, makeSnapshot, T0 } from "./test-fixtures.js";

const base = makeSnapshot();
const withKey = (patch: Partial<typeof CI_KEY>): PolicySnapshot => makeSnapshot({ virtualKeys: base.virtualKeys.map((k) => (k.id === CI_KEY.id ? { ...k, ...patch } : k)) });

describe("authenticateKey", () => {
  it("accepts an active key with its scope chain and two passed checks", () => {
    const auth = authenticateKey(buildPolicyIndex(base), HMAC.ci, T0);
    if (!auth.ok) throw new Error(auth.message);
    expect(auth.key.id).toBe("vk_ci");
    expect(auth.chain.scopes.map((s) => s.scope)).toEqual(["ORGANIZATION", "TEAM", "VIRTUAL_KEY"]);
    expect(auth.checks.map((c) => [c.name, c.passed])).toEqual([
      ["api_key", true],
      ["key_status", true],
    ]);
  });

  it.each<[string, PolicySnapshot, string | null, string, string | RegExp, boolean]>([
    ["no key", base, null, "invalid_api_key", "no API key was provided", false],
    ["unknown", base, "ffff", "invalid_api_key", "the API key is not valid", false],
    ["rotated past grace", base, HMAC.old, "invalid_api_key", /grace period has ended/, true],
    ["revoked", withKey({ status: "REVOKED" }), HMAC.ci, "invalid_api_key", 'virtual key "ci" has been revoked', true],
    ["expired", withKey({ expiresAt: T0 }), HMAC.ci, "invalid_api_key", 'virtual key "ci" has expired', true],
    ["paused", withKey({ status: "PAUSED" }), HMAC.ci, "key_paused", 'virtual key "ci" is paused', true],
    ["removed user", makeSnapshot({ users: [] }), HMAC.personal, "invalid_api_key", /no longer exists/, true],
  ])("refuses %s with the same code and message as decide", (_label, snapshot, hmac, code, message, resolved) => {
    const index = buildPolicyIndex(snapshot);
    const auth: KeyAuthentication = authenticateKey(index, hmac, T0);
    if (auth.ok) throw new Error("expected a refusal");
    expect(auth.code).toBe(code);
    expect(auth.message).toMatch(message);
    expect(auth.key !== null).toBe(resolved);
    expect(auth.checks.at(-1)?.passed).toBe(false);
    const decision = decide(index, new BudgetLedger(), new RateLimiter(), makeInput({ keyHmac: hmac }), 1);
    if (decision.allow) throw new Error("decide admitted");
    expect([decision.code, decision.message, decision.key?.id ?? null, decision.checks]).toEqual([auth.code, auth.message, auth.key?.id ?? null, auth.checks]);
  });

  it("needs no model: a paused key is reported paused, an active key passes whatever model exists", () => {
    const index = buildPolicyIndex(withKey({ status: "PAUSED" }));
    expect(authenticateKey(index, HMAC.ci, T0)).toMatchObject({ ok: false, code: "key_paused" });
    expect(authenticateKey(buildPolicyIndex(makeSnapshot({ models: [] })), HMAC.ci, T0).ok).toBe(true);
  });
});
