/**
 * JWT-format virtual-key secrets: the shape check a node runs before any crypto, and the claims
 * the control plane puts in a token. Pure: signing and verification (crypto) live in the planes.
 * A token is a compact JWS `header.payload.signature` (EdDSA, header `kid`) whose claims are
 * `{iss: "tollgate", sub: <key id>, org: <organization id>, jti, iat, exp?}`. The checks below are
 * shared by the node's verifier and the control plane's Simulator, so both refuse alike.
 */
import type { SigningKeyPolicy } from "./model.js";

/** The `iss` claim of every virtual-key JWT. */
export const JWT_ISSUER = "tollgate";

/** The only signature algorithm accepted for virtual-key JWTs (Ed25519). */
export const JWT_ALGORITHM = "EdDSA";

/** The longest string treated as a JWT (ours are about 350 characters). */
export const MAX_JWT_LENGTH = 2048;

/** The claims of a virtual-key JWT. Times are epoch seconds, as in RFC 7519. */
export interface VirtualKeyJwtClaims {
  readonly iss: typeof JWT_ISSUER;
  /** The virtual key's id (`vk_...`). */
  readonly sub: string;
  /** The key's organization id (`org_...`). */
  readonly org: string;
  /** Random token id: two tokens of one key never share a string. */
  readonly jti: string;
  readonly iat: number;
  /** Present when the key has an `expiresAt`. */
  readonly exp?: number;
}

// A base64url segment that encodes a JSON object starts with "eyJ" (`{"`).
const JSON_SEGMENT = /^eyJ[A-Za-z0-9_-]*$/;
const SIGNATURE_SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * True when `s` has the shape of a compact JWS: three base64url segments, the first two JSON
 * objects, at most `MAX_JWT_LENGTH` characters. The signature segment may be empty so that an
 * unsigned (`alg: none`) token reaches the verifier and is refused with a precise reason.
 */
export function looksLikeJwt(s: string): boolean {
  if (s.length > MAX_JWT_LENGTH || s.length < 10) return false;
  const parts = s.split(".");
  if (parts.length !== 3) return false;
  const [header, payload, signature] = parts as [string, string, string];
  return JSON_SEGMENT.test(header) && JSON_SEGMENT.test(payload) && SIGNATURE_SEGMENT.test(signature);
}

/** A check of one part of a token: passed (with what it yields) or the refusal's reason. */
export type JwtCheck<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * Checks a decoded protected header: `alg` exactly EdDSA (never `none`, HMAC or RSA), no JWS
 * extensions (`crit`, RFC 7797 `b64`), a string `kid`.
 */
export function checkJwtHeader(header: Readonly<Record<string, unknown>>): JwtCheck<{ readonly kid: string }> {
  if (header.alg !== JWT_ALGORITHM) return refuse("token signature is invalid: only EdDSA-signed tokens are accepted");
  if (header.crit !== undefined || header.b64 !== undefined) return refuse("token is malformed");
  if (typeof header.kid !== "string") return refuse("unknown signing key");
  return { ok: true, kid: header.kid };
}

/** Checks that the header's signing key is published (`key` found by kid) and not retired at `nowMs`. */
export function checkSigningKey(key: SigningKeyPolicy | undefined, nowMs: number): JwtCheck<{ readonly key: SigningKeyPolicy }> {
  if (key === undefined || key.algorithm !== JWT_ALGORITHM) return refuse("unknown signing key");
  if (key.notAfter !== null && nowMs >= key.notAfter) return refuse("the token's signing key has been retired");
  return { ok: true, key };
}

/**
 * Checks the claims of a token whose signature verified: `iss` tollgate, string `sub` and `org`,
 * numeric `exp`/`nbf` when present, not expired and already valid at `nowMs`. `validUntil` is the
 * `exp` in epoch ms (Infinity without one).
 */
export function checkJwtClaims(claims: Readonly<Record<string, unknown>>, nowMs: number): JwtCheck<{ readonly keyId: string; readonly organizationId: string; readonly validUntil: number }> {
  if (claims.iss !== JWT_ISSUER) return refuse("token issuer is invalid");
  const { sub, org, exp, nbf } = claims;
  if (typeof sub !== "string" || typeof org !== "string") return refuse("token claims are invalid");
  const isTime = (v: unknown): v is number | undefined => v === undefined || (typeof v === "number" && Number.isFinite(v));
  if (!isTime(exp) || !isTime(nbf)) return refuse("token claims are invalid");
  if (exp !== undefined && nowMs >= exp * 1000) return refuse("token has expired");
  if (nbf !== undefined && nowMs < nbf * 1000) return refuse("token is not valid yet");
  return { ok: true, keyId: sub, organizationId: org, validUntil: exp === undefined ? Number.POSITIVE_INFINITY : exp * 1000 };
}

/** Epoch seconds of an epoch-ms time, rounded up (a token never ends before its key). */
export function toJwtSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
