/**
 * Verifying JWT-format virtual-key secrets on the node, from the public signing keys of the
 * snapshot: header `alg` must be exactly EdDSA (no `none`, no HMAC or RSA), `kid` a known key not
 * past its `notAfter`, an Ed25519 signature over the exact `header.payload` bytes, `iss`
 * "tollgate", `exp` not passed. Then the usual HMAC lookup runs: the key's status in the snapshot
 * still decides, so revoking a JWT key is as fast as any other.
 *
 * Verification is synchronous (node:crypto Ed25519; jose parses the header and claims) so the
 * request path stays synchronous up to the decision. Verdicts are cached per token string in a
 * bounded LRU owned by one snapshot's verifier: a new snapshot starts with an empty cache.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import { JWT_ALGORITHM, checkJwtClaims, checkJwtHeader, checkSigningKey, type PolicySnapshot, type SigningKeyPolicy } from "@tollgate/policy";
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from "jose";

/** A verified token (`keyId` = `sub`) or the reason it was refused (never echoing the token). */
export type JwtVerdict =
  | { readonly ok: true; readonly keyId: string; readonly organizationId: string; readonly kid: string; readonly validUntil: number }
  | { readonly ok: false; readonly reason: string };

/** Cache bounds of the verdicts. */
export interface JwtVerifierOptions {
  /** Most verdicts kept per snapshot (default 10,000). */
  readonly maxEntries?: number;
  /** How long a verdict is reused (default 60 s). */
  readonly ttlMs?: number;
}

interface ImportedKey {
  readonly policy: SigningKeyPolicy;
  /** null when the JWK is not a usable Ed25519 public key: tokens naming it are refused. */
  readonly key: KeyObject | null;
}

interface CachedVerdict {
  readonly verdict: JwtVerdict;
  readonly cachedAt: number;
}

const ED25519_SIGNATURE_BYTES = 64;

const refuse = (reason: string): JwtVerdict => ({ ok: false, reason });

/** Verifies tokens against one snapshot's signing keys, with a bounded LRU of verdicts. */
export class JwtVerifier {
  private readonly verdicts = new Map<string, CachedVerdict>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;

  constructor(
    private readonly keys: ReadonlyMap<string, ImportedKey>,
    options: JwtVerifierOptions = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  /** Number of cached verdicts (for tests and metrics). */
  get cachedVerdicts(): number {
    return this.verdicts.size;
  }

  /** The verdict on `token` at `nowMs` (cached for a short time). */
  verify(token: string, nowMs: number): JwtVerdict {
    const hit = this.verdicts.get(token);
    if (hit !== undefined) {
      this.verdicts.delete(token);
      const fresh = nowMs >= hit.cachedAt && nowMs - hit.cachedAt < this.ttlMs;
      if (fresh && (!hit.verdict.ok || nowMs < hit.verdict.validUntil)) {
        this.verdicts.set(token, hit);
        return hit.verdict;
      }
    }
    const verdict = this.verifyNow(token, nowMs);
    if (this.verdicts.size >= this.maxEntries) {
      const oldest = this.verdicts.keys().next();
      if (!oldest.done) this.verdicts.delete(oldest.value);
    }
    this.verdicts.set(token, { verdict, cachedAt: nowMs });
    return verdict;
  }

  private verifyNow(token: string, nowMs: number): JwtVerdict {
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return refuse("token is malformed");
    }
    const headerCheck = checkJwtHeader(header);
    if (!headerCheck.ok) return headerCheck;
    const imported = this.keys.get(headerCheck.kid);
    const keyCheck = checkSigningKey(imported?.policy, nowMs);
    if (!keyCheck.ok) return keyCheck;
    // Published, but not a usable Ed25519 public key.
    if (!imported?.key) return refuse("unknown signing key");
    const dot = token.lastIndexOf(".");
    const signature = Buffer.from(token.slice(dot + 1), "base64url");
    if (signature.length !== ED25519_SIGNATURE_BYTES || !verifySignature(null, Buffer.from(token.slice(0, dot), "ascii"), imported.key, signature)) {
      return refuse("token signature is invalid");
    }
    // The claims are trusted only from here on.
    const claimsCheck = checkJwtClaims(claims, nowMs);
    if (!claimsCheck.ok) return claimsCheck;
    const { notAfter } = keyCheck.key;
    const validUntil = Math.min(claimsCheck.validUntil, notAfter ?? Number.POSITIVE_INFINITY);
    return { ok: true, keyId: claimsCheck.keyId, organizationId: claimsCheck.organizationId, kid: keyCheck.key.id, validUntil };
  }
}

/** Imports a published JWK as an Ed25519 public key; null when it is anything else. */
function importPublicKey(publicJwk: string): KeyObject | null {
  try {
    const jwk = JSON.parse(publicJwk) as unknown;
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return null;
    const { kty, crv, x } = jwk as Record<string, unknown>;
    if (kty !== "OKP" || crv !== "Ed25519" || typeof x !== "string") return null;
    const key = createPublicKey({ key: { kty, crv, x }, format: "jwk" });
    return key.asymmetricKeyType === "ed25519" ? key : null;
  } catch {
    return null;
  }
}

/**
 * One verifier per snapshot (so a policy update empties the verdict cache), sharing imported
 * public keys by kid between snapshots.
 */
export class JwtVerifiers {
  private readonly bySnapshot = new WeakMap<PolicySnapshot, JwtVerifier>();
  private imported = new Map<string, ImportedKey>();

  constructor(private readonly options: JwtVerifierOptions = {}) {}

  /** The verifier of `snapshot`, built on first use. */
  forSnapshot(snapshot: PolicySnapshot): JwtVerifier {
    let verifier = this.bySnapshot.get(snapshot);
    if (verifier === undefined) {
      verifier = new JwtVerifier(this.importKeys(snapshot.signingKeys), this.options);
      this.bySnapshot.set(snapshot, verifier);
    }
    return verifier;
  }

  private importKeys(signingKeys: readonly SigningKeyPolicy[]): Map<string, ImportedKey> {
    const next = new Map<string, ImportedKey>();
    for (const policy of signingKeys) {
      if (policy.algorithm !== JWT_ALGORITHM) continue;
      const known = this.imported.get(policy.id);
      const key = known !== undefined && known.policy.publicJwk === policy.publicJwk ? known.key : importPublicKey(policy.publicJwk);
      next.set(policy.id, { policy, key });
    }
    this.imported = next;
    return next;
  }
}
