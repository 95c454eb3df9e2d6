import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import type { PolicySnapshot } from "@tollgate/policy";
import { ResourceSchema, encodeSnapshotResources } from "@tollgate/proto";
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { AppError } from "../errors.js";
import { createIdSource } from "../ids.js";
import { listSigningKeys } from "../repositories/signing-key.repository.js";
import { hmacSecret, openSecret } from "../security/crypto.js";
import { buildSnapshot } from "../snapshot/snapshot-builder.js";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { MutationRunner } from "./mutation-runner.js";
import { SigningKeyService, signingKeyAssociatedData } from "./signing-key.service.js";

const ADMIN = "test-admin-token-signing-0123456789";

interface KeyView {
  kid: string;
  algorithm: string;
  publicJwk: string;
  createdAt: string;
  notAfter: string | null;
  active: boolean;
}
const KEY_FIELDS = "kid algorithm publicJwk createdAt notAfter active";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("JWT virtual keys and signing keys on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let url: string;
  let dataDir: string;
  let orgId: string;
  const masterKey = randomBytes(32);
  // The control plane's clock; tests move it forward to pass a retirement time.
  let clock = Date.now();
  const now = (): number => clock;

  const signingKeys = async (): Promise<KeyView[]> => (await gql<{ signingKeys: KeyView[] }>(url, ADMIN, `{ signingKeys { ${KEY_FIELDS} } }`)).signingKeys;
  const createJwtKey = async (name: string, expiresAt: string | null = null): Promise<{ id: string; secret: string; format: string; prefix: string }> => {
    const r = await gql<{ createVirtualKey: { virtualKey: { id: string; format: string; prefix: string }; secret: string } }>(
      url,
      ADMIN,
      `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id format prefix } secret } }`,
      { i: { organizationId: orgId, name, kind: "SERVICE", format: "JWT", expiresAt } },
    );
    return { ...r.createVirtualKey.virtualKey, secret: r.createVirtualKey.secret };
  };
  const snapshotAt = (nowMs: number): Promise<PolicySnapshot> => buildSnapshot(tdb.db, { masterKey, nowMs });
  /** Verifies like a node: with the snapshot's public keys that are not retired at `atMs`. */
  const verifyWithSnapshot = async (token: string, snapshot: PolicySnapshot, atMs: number) => {
    const keys = snapshot.signingKeys.filter((k) => k.notAfter === null || k.notAfter > atMs).map((k) => JSON.parse(k.publicJwk) as JWK);
    return jwtVerify(token, createLocalJWKSet({ keys }), { algorithms: ["EdDSA"], issuer: "tollgate", currentDate: new Date(atMs) });
  };

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-jwt-"));
    const config = loadControlPlaneConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_MASTER_KEY: masterKey.toString("base64"),
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      LOG_LEVEL: "silent",
    });
    cp = await startControlPlane(config, { database: tdb.db, logger: pino({ level: "silent" }), nodeToken: "test-node-token-0123456789", now });
    url = cp.httpUrl;
    const r = await gql<{ createOrganization: { organization: { id: string } } }>(url, ADMIN, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`);
    orgId = r.createOrganization.organization.id;
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates one active Ed25519 signing key on first start, its private key sealed with the master key", async () => {
    const keys = await signingKeys();
    expect(keys).toHaveLength(1);
    const [key] = keys as [KeyView];
    expect(key).toMatchObject({ algorithm: "EdDSA", active: true, notAfter: null });
    expect(key.kid).toMatch(/^sig_[0-9a-z]{26}$/);
    const jwk = JSON.parse(key.publicJwk) as Record<string, string>;
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: key.kid, alg: "EdDSA" });
    expect(jwk.d).toBeUndefined();

    const rows = await tdb.db.query<{ private_key_ciphertext: Uint8Array; private_key_nonce: Uint8Array; private_key_tag: Uint8Array }>(
      "SELECT private_key_ciphertext, private_key_nonce, private_key_tag FROM signing_keys WHERE id = $1",
      [key.kid],
    );
    const sealed = { ciphertext: Buffer.from(rows[0]!.private_key_ciphertext), nonce: Buffer.from(rows[0]!.private_key_nonce), tag: Buffer.from(rows[0]!.private_key_tag) };
    const priv = JSON.parse(openSecret(masterKey, sealed, signingKeyAssociatedData(key.kid))) as Record<string, string>;
    expect(Buffer.from(priv.d ?? "", "base64url")).toHaveLength(32);
    expect(priv.x).toBe(jwk.x);
    expect(sealed.ciphertext.toString("utf8")).not.toContain(priv.d);
    expect(() => openSecret(masterKey, sealed, signingKeyAssociatedData("sig_other"))).toThrow();

    // Starting again (even two starts at once) keeps the one active key.
    const runner = new MutationRunner({ db: tdb.db, now, newId: createIdSource(now), logger: pino({ level: "silent" }) });
    const again = new SigningKeyService({ db: tdb.db, runner, masterKey, newId: createIdSource(now), now });
    await Promise.all([again.ensureActiveKey(), again.ensureActiveKey()]);
    expect((await listSigningKeys(tdb.db)).map((k) => k.id)).toEqual([key.kid]);
  });

  it("createVirtualKey(format: JWT) returns an EdDSA token that jose verifies with the published key; only its HMAC is stored", async () => {
    const expiresAtMs = clock + 30 * 24 * 3600 * 1000 + 500;
    const key = await createJwtKey("jwt-svc", new Date(expiresAtMs).toISOString());
    expect(key.format).toBe("JWT");
    expect(key.prefix).toBe(key.secret.slice(0, 12));
    const [published] = (await signingKeys()) as [KeyView];
    const header = decodeProtectedHeader(key.secret);
    expect(header).toEqual({ alg: "EdDSA", kid: published.kid, typ: "JWT" });

    const publicKey = await importJWK(JSON.parse(published.publicJwk) as JWK, "EdDSA");
    const { payload } = await jwtVerify(key.secret, publicKey, { algorithms: ["EdDSA"], issuer: "tollgate", currentDate: new Date(clock) });
    expect(payload).toMatchObject({ iss: "tollgate", sub: key.id, org: orgId, iat: Math.floor(clock / 1000), exp: Math.ceil(expiresAtMs / 1000) });
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const { payload: viaSnapshot } = await verifyWithSnapshot(key.secret, await snapshotAt(clock), clock);
    expect(viaSnapshot.sub).toBe(key.id);

    const noExpiry = await createJwtKey("jwt-forever");
    const { payload: forever } = await jwtVerify(noExpiry.secret, publicKey, { algorithms: ["EdDSA"] });
    expect(forever.exp).toBeUndefined();
    expect(forever.jti).not.toBe(payload.jti);

    const pepper = (await tdb.db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'hmac_pepper'"))[0]?.value ?? "";
    const stored = await tdb.db.query<{ hmac: string }>("SELECT hmac FROM key_secrets WHERE key_id = $1", [key.id]);
    expect(stored.map((s) => s.hmac)).toEqual([hmacSecret(pepper, key.secret)]);
    const format = await tdb.db.query<{ format: string }>("SELECT format FROM virtual_keys WHERE id = $1", [key.id]);
    expect(format[0]?.format).toBe("JWT");
    const signature = key.secret.split(".")[2] ?? "";
    const dump = JSON.stringify(await tdb.db.query("SELECT * FROM virtual_keys")) + JSON.stringify(await tdb.db.query("SELECT * FROM audit_log"));
    expect(dump).not.toContain(signature.slice(0, 40));
    const snapshotKey = (await snapshotAt(clock)).virtualKeys.find((k) => k.id === key.id);
    expect(snapshotKey?.secrets).toEqual([{ hmac: hmacSecret(pepper, key.secret), validUntil: null }]);
  });

  it("rotateVirtualKey on a JWT key signs a new token; both are accepted during the grace period", async () => {
    const key = await createJwtKey("jwt-rotating");
    const r = await gql<{ rotateVirtualKey: { virtualKey: { id: string; format: string }; secret: string } }>(
      url,
      ADMIN,
      `mutation { rotateVirtualKey(input: {id: "${key.id}", gracePeriodSeconds: 600}) { virtualKey { id format } secret } }`,
    );
    const rotated = r.rotateVirtualKey.secret;
    expect(r.rotateVirtualKey.virtualKey).toEqual({ id: key.id, format: "JWT" });
    expect(rotated).not.toBe(key.secret);
    const snapshot = await snapshotAt(clock);
    const { payload } = await verifyWithSnapshot(rotated, snapshot, clock);
    expect(payload.sub).toBe(key.id);
    const pepper = snapshot.hmacPepper;
    const secrets = snapshot.virtualKeys.find((k) => k.id === key.id)?.secrets ?? [];
    expect(secrets).toHaveLength(2);
    expect(secrets.find((s) => s.hmac === hmacSecret(pepper, key.secret))?.validUntil).toBe(clock + 600_000);
    expect(secrets.find((s) => s.hmac === hmacSecret(pepper, rotated))?.validUntil).toBeNull();
  });

  it("rotates signing keys: old tokens verify until the old key retires, then are refused; the snapshot drops retired keys", async () => {
    const [first] = (await signingKeys()) as [KeyView];
    const oldToken = (await createJwtKey("signed-by-first")).secret;
    const t0 = clock;
    const r = await gql<{ rotateSigningKey: { signingKey: KeyView; previous: KeyView | null } }>(
      url,
      ADMIN,
      `mutation { rotateSigningKey(input: {retireAfterSeconds: 60}) { signingKey { ${KEY_FIELDS} } previous { ${KEY_FIELDS} } } }`,
    );
    const { signingKey: second, previous } = r.rotateSigningKey;
    expect(previous).toMatchObject({ kid: first.kid, active: false, notAfter: new Date(t0 + 60_000).toISOString() });
    expect(second).toMatchObject({ active: true, notAfter: null });
    expect(second.kid).not.toBe(first.kid);
    expect((await signingKeys()).map((k) => [k.kid, k.active])).toEqual([
      [first.kid, false],
      [second.kid, true],
    ]);

    const newKey = await createJwtKey("signed-by-second");
    expect(decodeProtectedHeader(newKey.secret).kid).toBe(second.kid);
    const during = await snapshotAt(clock);
    expect(during.signingKeys.map((k) => [k.id, k.notAfter])).toEqual([
      [first.kid, t0 + 60_000],
      [second.kid, null],
    ]);
    expect((await verifyWithSnapshot(oldToken, during, clock)).protectedHeader.kid).toBe(first.kid);
    expect((await verifyWithSnapshot(newKey.secret, during, clock)).protectedHeader.kid).toBe(second.kid);

    clock = t0 + 61_000;
    const after = await snapshotAt(clock);
    expect(after.signingKeys.map((k) => k.id)).toEqual([second.kid]);
    await expect(verifyWithSnapshot(oldToken, after, clock)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
    // The retired key is also refused by a node still holding the older snapshot (notAfter has passed).
    await expect(verifyWithSnapshot(oldToken, during, clock)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
    expect((await verifyWithSnapshot(newKey.secret, after, clock)).payload.sub).toBe(newKey.id);
    expect((await signingKeys()).find((k) => k.kid === first.kid)?.notAfter).toBe(new Date(t0 + 60_000).toISOString());

    const audit = await tdb.db.query<{ action: string; target: string; organization_id: string | null }>("SELECT action, target, organization_id FROM audit_log WHERE action = 'signing_key.rotate'");
    expect(audit).toEqual([{ action: "signing_key.rotate", target: second.kid, organization_id: null }]);
  });

  it("puts only public key material in the snapshot (checked on the encoded bytes)", async () => {
    const snapshot = await snapshotAt(clock);
    expect(snapshot.signingKeys.length).toBeGreaterThan(0);
    const bytes = Buffer.concat(encodeSnapshotResources(snapshot).map((r) => Buffer.from(toBinary(ResourceSchema, r))));
    const rows = await tdb.db.query<{ id: string; private_key_ciphertext: Uint8Array; private_key_nonce: Uint8Array; private_key_tag: Uint8Array }>(
      "SELECT id, private_key_ciphertext, private_key_nonce, private_key_tag FROM signing_keys",
    );
    for (const row of rows) {
      const sealed = { ciphertext: Buffer.from(row.private_key_ciphertext), nonce: Buffer.from(row.private_key_nonce), tag: Buffer.from(row.private_key_tag) };
      const priv = JSON.parse(openSecret(masterKey, sealed, signingKeyAssociatedData(row.id))) as Record<string, string>;
      const d = priv.d ?? "";
      expect(d.length).toBe(43);
      expect(bytes.includes(Buffer.from(d, "utf8"))).toBe(false);
      expect(bytes.includes(Buffer.from(d, "base64url"))).toBe(false);
      expect(bytes.includes(sealed.ciphertext)).toBe(false);
      const published = snapshot.signingKeys.find((k) => k.id === row.id);
      if (published) {
        expect(bytes.includes(Buffer.from(priv.x ?? "", "utf8"))).toBe(true);
        expect(Object.keys(JSON.parse(published.publicJwk) as object).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x"]);
      }
    }
  });

  it("lets only the platform admin list or rotate signing keys, and validates retireAfterSeconds", async () => {
    const bad = await postGraphQL(url, ADMIN, `mutation { rotateSigningKey(input: {retireAfterSeconds: -1}) { signingKey { kid } } }`);
    expect(errorCode(bad)).toBe("BAD_USER_INPUT");
    expect(errorCode(await postGraphQL(url, null, `{ signingKeys { kid } }`))).toBe("UNAUTHENTICATED");
    const runner = new MutationRunner({ db: tdb.db, now, newId: createIdSource(now), logger: pino({ level: "silent" }) });
    const service = new SigningKeyService({ db: tdb.db, runner, masterKey, newId: createIdSource(now), now });
    const orgAdmin = { kind: "user" as const, userId: "usr_x", organizationId: orgId, role: "ADMIN" as const };
    await expect(service.rotate(orgAdmin, 60)).rejects.toSatisfy((e: unknown) => e instanceof AppError && e.code === "FORBIDDEN");
    await expect(service.list(orgAdmin)).rejects.toSatisfy((e: unknown) => e instanceof AppError && e.code === "FORBIDDEN");
  });
});
