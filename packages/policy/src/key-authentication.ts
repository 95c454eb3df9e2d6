/**
 * Authenticating a virtual key from its secret's HMAC: presented, known, secret still valid, not
 * revoked, not expired, owner active, not paused — in that order, with the messages `decide` uses
 * (`decide` calls this first). Pure; reads only the index.
 */
import type { DecisionCheck } from "./decision.js";
import type { VirtualKeyPolicy } from "./model.js";
import type { PolicyIndex, ScopeChain } from "./policy-index.js";
import { formatScopeLabel } from "./scope-label.js";

/** A key that may make requests, with its scope chain and the checks that passed. */
export interface KeyAuthenticated {
  readonly ok: true;
  readonly key: VirtualKeyPolicy;
  readonly chain: ScopeChain;
  readonly checks: readonly DecisionCheck[];
}

/** A refused key: the code, a message naming the rule, and (when the secret was recognized) the key. */
export interface KeyRejected {
  readonly ok: false;
  readonly code: "invalid_api_key" | "key_paused";
  readonly message: string;
  /** The key when its secret was recognized (for attributing the refusal in usage), else null. */
  readonly key: VirtualKeyPolicy | null;
  /** The checks run, the last one failed. */
  readonly checks: readonly DecisionCheck[];
}

/** The answer of `authenticateKey`. */
export type KeyAuthentication = KeyAuthenticated | KeyRejected;

/** Authenticates the key holding a secret with HMAC `keyHmac` (null = no key presented) at `now`; `explain` = false records only a failed check. */
export function authenticateKey(index: PolicyIndex, keyHmac: string | null, now: number, explain = true): KeyAuthentication {
  const checks: DecisionCheck[] = [];
  let key: VirtualKeyPolicy | null = null;
  const reject = (code: KeyRejected["code"], name: string, level: DecisionCheck["level"], message: string): KeyRejected => {
    checks.push({ name, level, passed: false, detail: message });
    return { ok: false, code, message, key, checks };
  };
  if (keyHmac === null) return reject("invalid_api_key", "api_key", "VIRTUAL_KEY", "no API key was provided");
  const match = index.keyBySecretHmac(keyHmac);
  if (match === null) return reject("invalid_api_key", "api_key", "VIRTUAL_KEY", "the API key is not valid");
  key = match.key;
  const keyLabel = formatScopeLabel("VIRTUAL_KEY", key.name);
  if (match.secret.validUntil !== null && now >= match.secret.validUntil) {
    return reject("invalid_api_key", "api_key", "VIRTUAL_KEY", `this secret of ${keyLabel} was rotated and its grace period has ended`);
  }
  if (explain) checks.push({ name: "api_key", level: "VIRTUAL_KEY", passed: true, detail: `secret of ${keyLabel} recognized` });
  if (key.status === "REVOKED") return reject("invalid_api_key", "key_status", "VIRTUAL_KEY", `${keyLabel} has been revoked`);
  if (key.expiresAt !== null && now >= key.expiresAt) return reject("invalid_api_key", "key_expiry", "VIRTUAL_KEY", `${keyLabel} has expired`);
  const chain = index.scopeChainOf(key);
  if (key.kind === "PERSONAL") {
    if (chain.user === null) return reject("invalid_api_key", "key_owner", "USER", `the user of ${keyLabel} no longer exists`);
    if (!chain.user.active) return reject("invalid_api_key", "key_owner", "USER", `the user of ${keyLabel} is deactivated`);
  }
  if (key.status === "PAUSED") return reject("key_paused", "key_status", "VIRTUAL_KEY", `${keyLabel} is paused`);
  if (explain) checks.push({ name: "key_status", level: "VIRTUAL_KEY", passed: true, detail: `${keyLabel} is active` });
  return { ok: true, key, chain, checks };
}
