/**
 * The check a presented secret meets before any decision: an opaque secret with a valid checksum,
 * or a JWT that verifies against the snapshot's signing keys. Either way the result is the HMAC
 * the key is looked up by; garbage is rejected without a lookup.
 */
import { isWellFormedSecret, looksLikeJwt } from "@tollgate/policy";
import type { JwtVerifiers } from "./jwt-verifier.js";
import { hashSecret } from "./key-auth.js";
import type { PolicyState } from "./policy-store.js";

/** What the check found: a secret to look up, garbage, or a JWT refused with its reason. */
export type PresentedSecret = { readonly kind: "accepted"; readonly keyHmac: string } | { readonly kind: "malformed" } | { readonly kind: "refused"; readonly message: string };

/** Checks `secret`'s format (and a JWT's signature and claims) at `nowMs`. */
export function checkPresentedSecret(jwt: JwtVerifiers, state: PolicyState, secret: string, nowMs: number): PresentedSecret {
  const known = state.secretHmacs.lookup(secret);
  if (known !== undefined) return { kind: "accepted", keyHmac: known };
  if (isWellFormedSecret(secret)) return { kind: "accepted", keyHmac: state.secretHmacs.remember(secret) };
  if (!looksLikeJwt(secret)) return { kind: "malformed" };
  const verdict = jwt.forSnapshot(state.snapshot).verify(secret, nowMs);
  if (!verdict.ok) return { kind: "refused", message: verdict.reason };
  const keyHmac = hashSecret(secret, state.pepperKey);
  const match = state.index.keyBySecretHmac(keyHmac);
  if (match !== null && (match.key.id !== verdict.keyId || match.key.organizationId !== verdict.organizationId)) {
    return { kind: "refused", message: "token subject does not match its key" };
  }
  return { kind: "accepted", keyHmac };
}
