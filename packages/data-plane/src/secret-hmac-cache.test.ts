import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateOpaqueSecret } from "@tollgate/policy";
import { JwtVerifiers } from "./jwt-verifier.js";
import { hashSecret } from "./key-auth.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { checkPresentedSecret } from "./presented-secret.js";
import { SecretHmacCache } from "./secret-hmac-cache.js";

describe("SecretHmacCache", () => {
  it("remembers HMACs under its pepper and evicts the oldest past its bound", () => {
    const pepperKey = randomBytes(32);
    const cache = new SecretHmacCache(pepperKey, 3);
    const secrets = Array.from({ length: 4 }, () => generateOpaqueSecret(randomBytes(32)));
    for (const s of secrets) expect(cache.remember(s)).toBe(hashSecret(s, pepperKey));
    expect(cache.size).toBe(3);
    expect(cache.lookup(secrets[0] as string)).toBeUndefined();
    expect(cache.lookup(secrets[3] as string)).toBe(hashSecret(secrets[3] as string, pepperKey));
    expect(cache.hmacOf("not remembered")).toBe(hashSecret("not remembered", pepperKey));
    expect(cache.lookup("not remembered")).toBeUndefined();
  });

  it("is kept across policy updates with the same pepper and replaced when the pepper changes", () => {
    const fixture = buildPolicyFixture("http://127.0.0.1:1/v1", 1n);
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const first = store.current();
    if (!first) throw new Error("no state");
    const verdict = checkPresentedSecret(new JwtVerifiers(), first, fixture.secrets.active, Date.now());
    expect(verdict).toEqual({ kind: "accepted", keyHmac: hashSecret(fixture.secrets.active, first.pepperKey) });
    expect(first.secretHmacs.size).toBe(1);

    store.applyUpdate(toFullUpdate({ ...fixture.snapshot, version: 2n }));
    expect(store.current()?.secretHmacs).toBe(first.secretHmacs);

    const repeppered = buildPolicyFixture("http://127.0.0.1:1/v1", 3n);
    store.applyUpdate(toFullUpdate(repeppered.snapshot));
    const third = store.current();
    expect(third?.secretHmacs).not.toBe(first.secretHmacs);
    expect(third?.secretHmacs.size).toBe(0);
    // The old key's secret hashes under the new pepper now, so it no longer matches its old HMAC.
    const again = third ? checkPresentedSecret(new JwtVerifiers(), third, fixture.secrets.active, Date.now()) : null;
    expect(again).toEqual({ kind: "accepted", keyHmac: hashSecret(fixture.secrets.active, Buffer.from(repeppered.snapshot.hmacPepper, "hex")) });
  });

  it("never remembers a malformed secret", () => {
    const fixture = buildPolicyFixture("http://127.0.0.1:1/v1", 1n);
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const state = store.current();
    if (!state) throw new Error("no state");
    expect(checkPresentedSecret(new JwtVerifiers(), state, "tg_live_garbage", Date.now())).toEqual({ kind: "malformed" });
    expect(state.secretHmacs.size).toBe(0);
  });
});
