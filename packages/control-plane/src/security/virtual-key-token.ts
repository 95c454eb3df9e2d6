/**
 * Verifying a JWT-format virtual-key secret at the control plane (the `simulate` query), with the
 * same checks and refusal reasons as a node (`checkJwtHeader`, `checkSigningKey`,
 * `checkJwtClaims` from @tollgate/policy), against the public keys of a policy snapshot. The
 * signature is checked by jose (EdDSA only).
 */
import { checkJwtClaims, checkJwtHeader, checkSigningKey, looksLikeJwt, type JwtCheck, type SigningKeyPolicy } from "@tollgate/policy";
import { compactVerify, decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from "jose";

/** The answer of `verifyVirtualKeyToken`: the key the token names, or why it is refused. */
export type VirtualKeyTokenCheck = JwtCheck<{ readonly keyId: string; readonly organizationId: string }>;

const refuse = (reason: string): VirtualKeyTokenCheck => ({ ok: false, reason });

/** Verifies `token` at `nowMs` against `signingKeys` (a snapshot's published keys). */
export async function verifyVirtualKeyToken(signingKeys: readonly SigningKeyPolicy[], token: string, nowMs: number): Promise<VirtualKeyTokenCheck> {
  if (!looksLikeJwt(token)) return refuse("token is malformed");
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse("token is malformed");
  }
  const headerCheck = checkJwtHeader(header);
  if (!headerCheck.ok) return headerCheck;
  const keyCheck = checkSigningKey(
    signingKeys.find((k) => k.id === headerCheck.kid),
    nowMs,
  );
  if (!keyCheck.ok) return keyCheck;
  let payload: Uint8Array;
  try {
    const key = await importJWK(JSON.parse(keyCheck.key.publicJwk) as JWK, "EdDSA");
    payload = (await compactVerify(token, key, { algorithms: ["EdDSA"] })).payload;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return refuse(code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "token signature is invalid" : code === "ERR_JWS_INVALID" ? "token is malformed" : "unknown signing key");
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return refuse("token is malformed");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return refuse("token is malformed");
  const claimsCheck = checkJwtClaims(claims as Record<string, unknown>, nowMs);
  return claimsCheck.ok ? { ok: true, keyId: claimsCheck.keyId, organizationId: claimsCheck.organizationId } : claimsCheck;
}
