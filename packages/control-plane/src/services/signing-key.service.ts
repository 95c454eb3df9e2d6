/**
 * JWT signing keys (Ed25519, `kid` = id): one active key signs new virtual-key tokens; a rotated-out
 * key keeps verifying until its `notAfter`. Private keys are sealed with the master key
 * (AES-256-GCM, the kid as associated data) and decrypted only in memory to sign. Nodes get the
 * public keys in the snapshot.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { JWT_ALGORITHM, JWT_ISSUER, toJwtSeconds } from "@tollgate/policy";
import { SignJWT, importJWK } from "jose";
import type { Database, Queryable } from "../db/database.js";
import type { IdSource } from "../ids.js";
import * as repo from "../repositories/signing-key.repository.js";
import type { SigningKeyRecord } from "../repositories/signing-key.repository.js";
import { bumpPolicyRevision } from "../repositories/settings.repository.js";
import { openSecret, sealSecret, type SealedSecret } from "../security/crypto.js";
import { assertPlatformAdmin, type Actor } from "./actor.js";
import { POLICY_CHANNEL, type MutationRunner } from "./mutation-runner.js";
import { requireInt } from "./validate.js";

/** Associated data binding a sealed private signing key to its kid. */
export function signingKeyAssociatedData(kid: string): string {
  return `signing-key/${kid}`;
}

/** A fresh Ed25519 key pair as JWK JSON strings (both carry `kid` and `alg`). */
export function generateSigningKeyPair(kid: string): { publicJwk: string; privateJwk: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = publicKey.export({ format: "jwk" });
  const priv = privateKey.export({ format: "jwk" });
  return {
    publicJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: pub.x, kid, alg: JWT_ALGORITHM, use: "sig" }),
    privateJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: priv.x, d: priv.d, kid, alg: JWT_ALGORITHM }),
  };
}

/** What a JWT virtual key's token says about its key. */
export interface TokenSubject {
  readonly id: string;
  readonly organizationId: string;
  /** Epoch ms; becomes the `exp` claim. null = no `exp`. */
  readonly expiresAt: number | null;
}

/** Signs virtual-key tokens with the active signing key (inside the caller's transaction). */
export interface VirtualKeyTokenSigner {
  /** A compact JWS (EdDSA, header kid) with claims {iss, sub, org, jti, iat, exp?}. */
  signVirtualKeyToken(tx: Queryable, subject: TokenSubject, nowMs: number): Promise<string>;
}

/** The answer of rotateSigningKey. */
export interface SigningKeyRotation {
  readonly active: SigningKeyRecord;
  /** The key that was active before, now retiring; null when there was none. */
  readonly previous: SigningKeyRecord | null;
}

/** Dependencies of the service. */
export interface SigningKeyServiceDeps {
  readonly db: Database;
  readonly runner: MutationRunner;
  readonly masterKey: Buffer;
  readonly newId: IdSource;
  readonly now: () => number;
}

/** The longest a retired key may keep verifying (10 years). */
const MAX_RETIRE_SECONDS = 10 * 366 * 24 * 3600;

/** Signing key operations and the token signer. */
export class SigningKeyService implements VirtualKeyTokenSigner {
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>();

  constructor(private readonly deps: SigningKeyServiceDeps) {}

  private seal(kid: string): { publicJwk: string; sealed: SealedSecret } {
    const { publicJwk, privateJwk } = generateSigningKeyPair(kid);
    return { publicJwk, sealed: sealSecret(this.deps.masterKey, privateJwk, signingKeyAssociatedData(kid)) };
  }

  /** Creates the first active key when there is none (first start); bumps the policy revision when it did. */
  async ensureActiveKey(): Promise<void> {
    const { db } = this.deps;
    const revision = await db.transaction(async (tx) => {
      if (await repo.findActiveSigningKey(tx)) return null;
      const kid = this.deps.newId("sig");
      const inserted = await repo.insertActiveSigningKey(tx, { id: kid, ...this.seal(kid) }, this.deps.now());
      return inserted === null ? null : bumpPolicyRevision(tx);
    });
    if (revision !== null) await db.notify(POLICY_CHANNEL, revision.toString()).catch(() => undefined);
  }

  /** Makes a new key active; the previous one keeps verifying for `retireAfterSeconds`. Platform admin only. */
  async rotate(actor: Actor, retireAfterSeconds: number): Promise<SigningKeyRotation> {
    assertPlatformAdmin(actor);
    requireInt("retireAfterSeconds", retireAfterSeconds, 0, MAX_RETIRE_SECONDS);
    return this.deps.runner.run(actor, true, async (m) => {
      const current = await repo.findActiveSigningKey(m.tx, true);
      const previous = current === null ? null : await repo.retireSigningKey(m.tx, current.id, m.nowMs + retireAfterSeconds * 1000);
      const kid = m.newId("sig");
      const active = await repo.insertActiveSigningKey(m.tx, { id: kid, ...this.seal(kid) }, m.nowMs);
      if (active === null) throw new Error("another signing key became active during the rotation");
      await m.audit({
        organizationId: null,
        action: "signing_key.rotate",
        target: kid,
        before: previous === null ? null : { kid: previous.id },
        after: { kid, retireAfterSeconds, previousNotAfter: previous?.notAfter ?? null },
      });
      return { active, previous };
    });
  }

  /** Every signing key, oldest first (public parts only). Platform admin only. */
  async list(actor: Actor): Promise<SigningKeyRecord[]> {
    assertPlatformAdmin(actor);
    return repo.listSigningKeys(this.deps.db);
  }

  /** Signs a virtual key's token with the active key. */
  async signVirtualKeyToken(tx: Queryable, subject: TokenSubject, nowMs: number): Promise<string> {
    const active = await repo.findActiveSigningKey(tx);
    if (active === null) throw new Error("no active JWT signing key (ensureActiveKey runs at start)");
    const jwt = new SignJWT({ org: subject.organizationId })
      .setProtectedHeader({ alg: JWT_ALGORITHM, kid: active.id, typ: "JWT" })
      .setIssuer(JWT_ISSUER)
      .setSubject(subject.id)
      .setJti(randomBytes(16).toString("base64url"))
      .setIssuedAt(Math.floor(nowMs / 1000));
    if (subject.expiresAt !== null) jwt.setExpirationTime(toJwtSeconds(subject.expiresAt));
    return jwt.sign(await this.privateKeyOf(active.id, active.sealed));
  }

  private privateKeyOf(kid: string, sealed: SealedSecret): Promise<CryptoKey> {
    let key = this.privateKeys.get(kid);
    if (key === undefined) {
      const jwk = JSON.parse(openSecret(this.deps.masterKey, sealed, signingKeyAssociatedData(kid))) as Record<string, string>;
      key = importJWK(jwk, JWT_ALGORITHM) as Promise<CryptoKey>;
      this.privateKeys.set(kid, key);
      key.catch(() => this.privateKeys.delete(kid));
    }
    return key;
  }
}
