import type { SigningKeyPolicy } from "@tollgate/policy";
import { SignJWT, UnsecuredJWT, importJWK, type JWK, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { generateSigningKeyPair } from "../services/signing-key.service.js";
import { verifyVirtualKeyToken } from "./virtual-key-token.js";

const NOW = Date.UTC(2031, 5, 1);
const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: "tollgate", sub: "vk_1", org: "org_1", jti: "j1", iat: NOW / 1000 - 5, ...extra });

describe("verifyVirtualKeyToken (control plane, jose)", () => {
  const current = generateSigningKeyPair("sig_current");
  const old = generateSigningKeyPair("sig_old");
  const published: SigningKeyPolicy[] = [
    { id: "sig_current", algorithm: "EdDSA", publicJwk: current.publicJwk, notAfter: null },
    { id: "sig_old", algorithm: "EdDSA", publicJwk: old.publicJwk, notAfter: NOW - 1 },
  ];
  let sign: (c: JWTPayload, kid?: string, which?: "current" | "old") => Promise<string>;

  beforeAll(async () => {
    const keys = { current: await importJWK(JSON.parse(current.privateJwk) as JWK, "EdDSA"), old: await importJWK(JSON.parse(old.privateJwk) as JWK, "EdDSA") };
    sign = (c, kid = "sig_current", which = "current") => new SignJWT(c).setProtectedHeader({ alg: "EdDSA", kid }).sign(keys[which]);
  });

  it("accepts a token of a published key and names its key", async () => {
    expect(await verifyVirtualKeyToken(published, await sign(claims({ exp: NOW / 1000 + 60 })), NOW)).toEqual({ ok: true, keyId: "vk_1", organizationId: "org_1" });
  });

  it("refuses like a node does", async () => {
    const valid = await sign(claims());
    const [h, , s] = valid.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims({ sub: "vk_2" }))).toString("base64url")}.${s}`;
    const hs256 = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: "sig_current" }).sign(new TextEncoder().encode(current.publicJwk));
    const cases: Array<[string, string]> = [
      [new UnsecuredJWT(claims()).encode(), "token signature is invalid: only EdDSA-signed tokens are accepted"],
      [hs256, "token signature is invalid: only EdDSA-signed tokens are accepted"],
      [await sign(claims(), "sig_missing"), "unknown signing key"],
      [await sign(claims(), "sig_old", "old"), "the token's signing key has been retired"],
      [await sign(claims(), "sig_current", "old"), "token signature is invalid"],
      [tampered, "token signature is invalid"],
      [await sign(claims({ exp: NOW / 1000 })), "token has expired"],
      [await sign(claims({ iss: "x" })), "token issuer is invalid"],
      ["tg_live_not-a-jwt", "token is malformed"],
    ];
    for (const [token, reason] of cases) expect(await verifyVirtualKeyToken(published, token, NOW), reason).toEqual({ ok: false, reason });
  });
});
