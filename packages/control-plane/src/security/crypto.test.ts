import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { apiKeyHint, digestsEqual, hashToken, hmacSecret, openSecret, providerKeyAssociatedData, sealSecret } from "./crypto.js";

describe("provider credential sealing", () => {
  const key = randomBytes(32);
  const ad = providerKeyAssociatedData("org_1", "pa_1");

  it("round-trips with a fresh nonce each time", () => {
    const a = sealSecret(key, "sk-secret", ad);
    const b = sealSecret(key, "sk-secret", ad);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.toString("utf8")).not.toContain("secret");
    expect(openSecret(key, a, ad)).toBe("sk-secret");
  });

  it("refuses another key, other associated data or a tampered tag", () => {
    const sealed = sealSecret(key, "sk-secret", ad);
    expect(() => openSecret(randomBytes(32), sealed, ad)).toThrow();
    expect(() => openSecret(key, sealed, providerKeyAssociatedData("org_2", "pa_1"))).toThrow();
    const tag = Buffer.from(sealed.tag);
    tag[0] = (tag[0] ?? 0) ^ 1;
    expect(() => openSecret(key, { ...sealed, tag }, ad)).toThrow();
  });
});

describe("hashes and hints", () => {
  it("computes the HMAC of a secret under a hex pepper (RFC 4231 case 2 key/data)", () => {
    const pepper = Buffer.from("Jefe").toString("hex");
    expect(hmacSecret(pepper, "what do ya want for nothing?")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("compares digests in constant time and rejects empty or different ones", () => {
    expect(digestsEqual(hashToken("a"), hashToken("a"))).toBe(true);
    expect(digestsEqual(hashToken("a"), hashToken("b"))).toBe(false);
    expect(digestsEqual("", "")).toBe(false);
  });

  it("hints API keys without revealing more than 7 characters", () => {
    expect(apiKeyHint("sk-proj-abcdefghijklmnop1234")).toBe("sk-...1234");
    expect(apiKeyHint("short-key")).toBe("...ey");
  });
});
