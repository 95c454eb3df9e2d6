import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { BudgetLedger, RateLimiter, type PolicySnapshot, type SigningKeyPolicy, type VirtualKeyPolicy } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome } from "@tollgate/proto";
import type { FastifyInstance } from "fastify";
import { SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildApp } from "./app.js";
import { createMemorySink } from "./app.fixture.js";
import { silentLogger } from "./grpc.fixture.js";
import { JwtVerifiers } from "./jwt-verifier.js";
import { hashSecret } from "./key-auth.js";
import { buildPolicyFixture, createFixtureGrantSource, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

/** An Ed25519 key pair made for the test, published like the control plane does. */
function makeSigningKey(kid: string, notAfter: number | null): { policy: SigningKeyPolicy; privateKey: KeyObject; publicKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const { x } = publicKey.export({ format: "jwk" });
  return { policy: { id: kid, algorithm: "EdDSA", publicJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" }), notAfter }, privateKey, publicKey };
}

const active = makeSigningKey("sig_active", null);
const retired = makeSigningKey("sig_retired", T0 - 1_000);
const stranger = makeSigningKey("sig_active", null); // same kid, a key the control plane never published

const claimsOf = (sub: string, extra: JWTPayload = {}): JWTPayload => ({ iss: "tollgate", sub, org: "org_1", jti: `j-${sub}-${Math.random()}`, iat: Math.floor(T0 / 1000) - 60, ...extra });
const sign = (claims: JWTPayload, key: KeyObject, kid: string): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" }).sign(key);

describe("JWT-format virtual keys on the data plane (buildApp + inject)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let app: FastifyInstance;
  let store: PolicyStore;
  let sink: ReturnType<typeof createMemorySink>;
  let snapshot: PolicySnapshot;
  let clock = T0;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 3 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 400, idleMs: 400, totalMs: 5_000 });
    tokens.valid = await sign(claimsOf("vk_jwt", { exp: Math.floor(T0 / 1000) + 3600 }), active.privateKey, "sig_active");
    tokens.expired = await sign(claimsOf("vk_jwt_expired", { exp: Math.floor(T0 / 1000) - 1 }), active.privateKey, "sig_active");
    tokens.byRetired = await sign(claimsOf("vk_jwt_old"), retired.privateKey, "sig_retired");
    tokens.soon = await sign(claimsOf("vk_jwt_soon", { exp: Math.floor(T0 / 1000) + 10 }), active.privateKey, "sig_active");
  });
  afterAll(async () => {
    await app?.close();
    await upstream.close();
    await mock.close();
  });

  /** The fixture snapshot plus the signing keys and JWT keys; `change` edits the JWT keys. */
  const snapshotWith = (version: bigint, base: PolicySnapshot, change: (k: VirtualKeyPolicy) => VirtualKeyPolicy = (k) => k, signingKeys = [active.policy, retired.policy]): PolicySnapshot => {
    const pepperKey = Buffer.from(base.hmacPepper, "hex");
    const jwtKey = (id: string, token: string): VirtualKeyPolicy =>
      change({
        id,
        organizationId: "org_1",
        name: id,
        kind: "SERVICE",
        teamId: "team_1",
        userId: null,
        status: "ACTIVE",
        secrets: [{ hmac: hashSecret(token, pepperKey), validUntil: null }],
        access: { allow: [], deny: [] },
        maxCostPerRequest: null,
        expiresAt: null,
      });
    return {
      ...base,
      version,
      signingKeys,
      virtualKeys: [...base.virtualKeys, jwtKey("vk_jwt", tokens.valid!), jwtKey("vk_jwt_expired", tokens.expired!), jwtKey("vk_jwt_old", tokens.byRetired!), jwtKey("vk_jwt_soon", tokens.soon!)],
    };
  };

  beforeEach(async () => {
    clock = T0;
    mock.reset();
    const fixture = buildPolicyFixture(mock.baseUrl);
    snapshot = snapshotWith(1n, fixture.snapshot);
    store = new PolicyStore();
    store.applyUpdate(toFullUpdate(snapshot));
    const ledger = new BudgetLedger();
    sink = createMemorySink();
    const now = (): number => clock;
    app = buildApp({
      nodeId: "node-j",
      bootId: "boot-j",
      store,
      ledger,
      limiter: new RateLimiter(),
      grants: createFixtureGrantSource(ledger, store, now),
      usage: sink,
      upstream: upstream.send,
      logger: silentLogger,
      now,
    });
  });
  afterEach(async () => {
    await app.close();
  });

  const chat = (headers: Record<string, string>, url = "/v1/chat/completions") =>
    app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) });
  const expectRefused = async (token: string, message: string | RegExp): Promise<void> => {
    const res = await chat({ authorization: `Bearer ${token}` });
    expect(res.statusCode).toBe(401);
    const error = res.json().error as { code: string; message: string };
    expect(error.code).toBe("invalid_api_key");
    if (typeof message === "string") expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
    const [, payload, signature] = token.split(".");
    expect(res.body).not.toContain(payload);
    if (signature) expect(res.body).not.toContain(signature);
  };

  it("accepts a valid JWT in every header style and the ?key= query", async () => {
    const token = tokens.valid!;
    const styles: Array<[Record<string, string>, string]> = [
      [{ authorization: `Bearer ${token}` }, "/v1/chat/completions"],
      [{ "x-bf-vk": token }, "/v1/chat/completions"],
      [{ "x-api-key": token }, "/v1/chat/completions"],
      [{ "x-goog-api-key": token }, "/v1/chat/completions"],
      [{}, `/v1/chat/completions?key=${token}`],
    ];
    for (const [headers, url] of styles) {
      const res = await chat(headers, url);
      expect(res.statusCode, JSON.stringify(Object.keys(headers))).toBe(200);
      expect(res.json().choices[0].message.content).toBe(" tok".repeat(3));
    }
    expect(sink.records.map((r) => [r.virtualKeyId, r.outcome])).toEqual(Array(5).fill(["vk_jwt", Outcome.SUCCESS]));
    const models = await app.inject({ method: "GET", url: "/v1/models", headers: { authorization: `Bearer ${token}` } });
    expect(models.statusCode).toBe(200);
    expect((models.json().data as Array<{ id: string }>).map((m) => m.id)).toContain("gpt-4o-mini");
  });

  it("refuses alg none, HS256 signed with the public key, RS256, unknown kid, a foreign key, tampering, a wrong issuer, expiry and a retired signing key", async () => {
    const claims = claimsOf("vk_jwt");
    const none = new UnsecuredJWT(claims).encode();
    await expectRefused(none, "token signature is invalid: only EdDSA-signed tokens are accepted");
    const publicBytes = new TextEncoder().encode(active.policy.publicJwk);
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "sig_active" }).sign(publicBytes);
    await expectRefused(hs256, /^token signature is invalid/);
    const rawX = new Uint8Array(Buffer.from((JSON.parse(active.policy.publicJwk) as { x: string }).x, "base64url"));
    await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "sig_active" }).sign(rawX), /^token signature is invalid/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "sig_active" }).sign(rsa.privateKey), /^token signature is invalid/);
    // The right key under a kid nobody published, and no kid at all.
    await expectRefused(await sign(claims, active.privateKey, "sig_unknown"), "unknown signing key");
    await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA" }).sign(active.privateKey), "unknown signing key");
    await expectRefused(await sign(claims, stranger.privateKey, "sig_active"), "token signature is invalid");
    const [header, , signature] = tokens.valid!.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claimsOf("vk_active"), exp: Math.floor(T0 / 1000) + 3600 })).toString("base64url");
    await expectRefused(`${header}.${forged}.${signature}`, "token signature is invalid");
    await expectRefused(await sign({ ...claims, iss: "someone-else" }, active.privateKey, "sig_active"), "token issuer is invalid");
    await expectRefused(tokens.expired!, "token has expired");
    await expectRefused(tokens.byRetired!, "the token's signing key has been retired");
    await expectRefused("eyJhbGciOiJFZERTQSJ9.eyJub3QganNvbg.c2ln", "token is malformed");
    expect(mock.requests()).toHaveLength(0);
    expect(sink.records).toHaveLength(0);
  });

  it("refuses a revoked JWT key as soon as the snapshot says so", async () => {
    const bearer = { authorization: `Bearer ${tokens.valid!}` };
    expect((await chat(bearer)).statusCode).toBe(200);
    const revoked = snapshotWith(2n, snapshot, (k) => (k.id === "vk_jwt" ? { ...k, status: "REVOKED" } : k));
    expect(store.applyUpdate(toFullUpdate(revoked, "n2")).applied).toBe(true);
    const res = await chat(bearer);
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toMatchObject({ code: "invalid_api_key", message: 'virtual key "vk_jwt" has been revoked' });
  });

  it("stops accepting tokens of a signing key at its notAfter, with or without a new snapshot", async () => {
    const bearer = { authorization: `Bearer ${tokens.valid!}` };
    expect((await chat(bearer)).statusCode).toBe(200);
    // Rotation at the control plane: the key now retires in 30 s; the cached verdict must not outlive it.
    const retiring = { ...active.policy, notAfter: T0 + 30_000 };
    expect(
      store.applyUpdate(
        toFullUpdate(
          snapshotWith(2n, snapshot, (k) => k, [retiring, retired.policy]),
          "n2",
        ),
      ).applied,
    ).toBe(true);
    clock = T0 + 29_000;
    expect((await chat(bearer)).statusCode).toBe(200);
    clock = T0 + 30_000;
    await expectRefused(tokens.valid!, "the token's signing key has been retired");
    // A later snapshot without the key at all: unknown.
    expect(
      store.applyUpdate(
        toFullUpdate(
          snapshotWith(3n, snapshot, (k) => k, [retired.policy]),
          "n3",
        ),
      ).applied,
    ).toBe(true);
    await expectRefused(tokens.valid!, "unknown signing key");
  });

  it("refuses the token at its exp even while its verdict is cached", async () => {
    const bearer = { authorization: `Bearer ${tokens.soon!}` };
    expect((await chat(bearer)).statusCode).toBe(200);
    clock = T0 + 9_999;
    expect((await chat(bearer)).statusCode).toBe(200);
    clock = T0 + 10_000;
    await expectRefused(tokens.soon!, "token has expired");
  });

  it("simulates with a JWT: a valid one is evaluated, a refused one is reported like the real 401", async () => {
    const simulate = (token: string) =>
      app.inject({
        method: "POST",
        url: "/v1/simulate",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        payload: JSON.stringify({ path: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] } }),
      });
    const ok = await simulate(tokens.valid!);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ allowed: true, status: 200 });
    const expired = await simulate(tokens.expired!);
    expect(expired.statusCode).toBe(200);
    expect(expired.json()).toMatchObject({ allowed: false, status: 401, error: { code: "invalid_api_key", message: "token has expired" } });
    expect(expired.json().checks).toEqual([{ name: "api_key", level: "VIRTUAL_KEY", passed: false, detail: "token has expired" }]);
  });
});

describe("JwtVerifiers", () => {
  const snapshotOf = (signingKeys: SigningKeyPolicy[]): PolicySnapshot => ({ ...buildPolicyFixture("http://127.0.0.1:1/v1").snapshot, signingKeys });

  it("keeps one verdict cache per snapshot, bounded in size", async () => {
    const verifiers = new JwtVerifiers({ maxEntries: 3 });
    const first = snapshotOf([active.policy]);
    const v1 = verifiers.forSnapshot(first);
    expect(verifiers.forSnapshot(first)).toBe(v1);
    const tokens = await Promise.all([1, 2, 3, 4, 5].map((i) => sign(claimsOf(`vk_${i}`), active.privateKey, "sig_active")));
    for (const t of tokens) expect(v1.verify(t, T0)).toMatchObject({ ok: true, kid: "sig_active" });
    expect(v1.cachedVerdicts).toBe(3);
    const second = snapshotOf([]);
    const v2 = verifiers.forSnapshot(second);
    expect(v2).not.toBe(v1);
    expect(v2.cachedVerdicts).toBe(0);
    expect(v2.verify(tokens[0]!, T0)).toEqual({ ok: false, reason: "unknown signing key" });
  });

  it("refuses a published key that is not an Ed25519 public key", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaJwk = JSON.stringify({ ...rsa.publicKey.export({ format: "jwk" }), kid: "sig_rsa" });
    const verifier = new JwtVerifiers().forSnapshot(snapshotOf([{ id: "sig_rsa", algorithm: "EdDSA", publicJwk: rsaJwk, notAfter: null }]));
    const token = await new SignJWT(claimsOf("vk_1")).setProtectedHeader({ alg: "EdDSA", kid: "sig_rsa" }).sign(active.privateKey);
    expect(verifier.verify(token, T0)).toEqual({ ok: false, reason: "unknown signing key" });
  });
});
