import { describe, expect, it } from "vitest";
import { MAX_JWT_LENGTH, checkJwtClaims, checkJwtHeader, checkSigningKey, looksLikeJwt, toJwtSeconds } from "./jwt-format.js";
import type { SigningKeyPolicy } from "./model.js";
import { generateOpaqueSecret, isWellFormedSecret } from "./secret-format.js";

const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
const header = b64url({ alg: "EdDSA", kid: "sig_1", typ: "JWT" });
const payload = b64url({ iss: "tollgate", sub: "vk_1", org: "org_1", jti: "x", iat: 1 });
const signature = Buffer.alloc(64, 7).toString("base64url");

describe("looksLikeJwt", () => {
  it("accepts a compact JWS with JSON header and payload", () => {
    expect(looksLikeJwt(`${header}.${payload}.${signature}`)).toBe(true);
  });

  it("lets an unsigned token through to the verifier (empty signature segment)", () => {
    expect(looksLikeJwt(`${b64url({ alg: "none" })}.${payload}.`)).toBe(true);
  });

  it.each([
    ["two segments", `${header}.${payload}`],
    ["four segments", `${header}.${payload}.${signature}.x`],
    ["padding", `${header}.${payload}.${signature}=`],
    ["standard base64 characters", `${header}.${payload}.ab+c/`],
    ["a header that is not a JSON object", `YWJj.${payload}.${signature}`],
    ["an empty payload", `${header}..${signature}`],
    ["whitespace", `${header} .${payload}.${signature}`],
    ["an empty string", ""],
    ["an opaque secret", generateOpaqueSecret(new Uint8Array(32))],
  ])("refuses %s", (_, s) => {
    expect(looksLikeJwt(s)).toBe(false);
  });

  it("caps the size", () => {
    const big = `${header}.${b64url({ pad: "a".repeat(MAX_JWT_LENGTH) })}.${signature}`;
    expect(looksLikeJwt(big)).toBe(false);
  });

  it("never overlaps the opaque format", () => {
    const jwt = `${header}.${payload}.${signature}`;
    expect(isWellFormedSecret(jwt)).toBe(false);
    expect(looksLikeJwt(generateOpaqueSecret(Uint8Array.from({ length: 32 }, (_, i) => i)))).toBe(false);
  });
});

describe("toJwtSeconds", () => {
  it("rounds up so a token never ends before its key", () => {
    expect(toJwtSeconds(1_000)).toBe(1);
    expect(toJwtSeconds(1_001)).toBe(2);
  });
});

describe("checkJwtHeader", () => {
  it("accepts EdDSA with a kid", () => {
    expect(checkJwtHeader({ alg: "EdDSA", kid: "sig_1", typ: "JWT" })).toEqual({ ok: true, kid: "sig_1" });
  });

  it.each([
    [{ alg: "none", kid: "sig_1" }, "token signature is invalid: only EdDSA-signed tokens are accepted"],
    [{ alg: "HS256", kid: "sig_1" }, "token signature is invalid: only EdDSA-signed tokens are accepted"],
    [{ alg: "RS256", kid: "sig_1" }, "token signature is invalid: only EdDSA-signed tokens are accepted"],
    [{ alg: "Ed25519", kid: "sig_1" }, "token signature is invalid: only EdDSA-signed tokens are accepted"],
    [{ kid: "sig_1" }, "token signature is invalid: only EdDSA-signed tokens are accepted"],
    [{ alg: "EdDSA", kid: "sig_1", crit: ["exp"] }, "token is malformed"],
    [{ alg: "EdDSA", kid: "sig_1", b64: false }, "token is malformed"],
    [{ alg: "EdDSA" }, "unknown signing key"],
    [{ alg: "EdDSA", kid: 7 }, "unknown signing key"],
  ])("refuses %j", (header, reason) => {
    expect(checkJwtHeader(header)).toEqual({ ok: false, reason });
  });
});

describe("checkSigningKey", () => {
  const key = (notAfter: number | null): SigningKeyPolicy => ({ id: "sig_1", algorithm: "EdDSA", publicJwk: "{}", notAfter });

  it("accepts a key without an end, or before its end", () => {
    expect(checkSigningKey(key(null), 5_000)).toEqual({ ok: true, key: key(null) });
    expect(checkSigningKey(key(5_001), 5_000).ok).toBe(true);
  });

  it("refuses an unknown key and a retired one (from its notAfter on)", () => {
    expect(checkSigningKey(undefined, 5_000)).toEqual({ ok: false, reason: "unknown signing key" });
    expect(checkSigningKey(key(5_000), 5_000)).toEqual({ ok: false, reason: "the token's signing key has been retired" });
  });
});

describe("checkJwtClaims", () => {
  const now = 1_900_000_000_000;
  const base = { iss: "tollgate", sub: "vk_1", org: "org_1", jti: "j", iat: now / 1000 - 10 };

  it("yields the key, the organization and the exp in ms", () => {
    expect(checkJwtClaims(base, now)).toEqual({ ok: true, keyId: "vk_1", organizationId: "org_1", validUntil: Number.POSITIVE_INFINITY });
    expect(checkJwtClaims({ ...base, exp: now / 1000 + 1 }, now)).toMatchObject({ ok: true, validUntil: now + 1000 });
  });

  it.each([
    [{ ...base, iss: "other" }, "token issuer is invalid"],
    [{ ...base, iss: undefined }, "token issuer is invalid"],
    [{ ...base, sub: 1 }, "token claims are invalid"],
    [{ ...base, org: undefined }, "token claims are invalid"],
    [{ ...base, exp: "soon" }, "token claims are invalid"],
    [{ ...base, exp: Number.NaN }, "token claims are invalid"],
    [{ ...base, exp: now / 1000 }, "token has expired"],
    [{ ...base, exp: now / 1000 - 1 }, "token has expired"],
    [{ ...base, nbf: now / 1000 + 1 }, "token is not valid yet"],
  ])("refuses %j", (claims, reason) => {
    expect(checkJwtClaims(claims, now)).toEqual({ ok: false, reason });
  });
});
