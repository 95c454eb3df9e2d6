/**
 * Redaction of audit before/after values: fields named like secrets (secret, token, apiKey, hash,
 * hmac, password, pepper, private keys, ciphertext, credentials) and strings shaped like Tollgate
 * secrets are replaced by "[REDACTED]". Display hints (`apiKeyHint`, `prefix`, `last4`) are kept.
 */

/** What a redacted value is replaced by. */
export const REDACTED = "[REDACTED]";

const SECRET_NAME_ENDINGS = ["secret", "secrets", "password", "passphrase", "token", "apikey", "hash", "hmac", "ciphertext", "pepper", "credential", "credentials", "authorization", "jwt", "sealed"];
const KEPT_NAME_ENDINGS = ["hint", "prefix", "last4", "id", "ids", "name"];
const SECRET_VALUE = /\b(tg_(live|api|admin|node)_[A-Za-z0-9_-]{16,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g;

/** True when a field of this name holds secret material. */
export function isSecretFieldName(name: string): boolean {
  const n = name.toLowerCase().replace(/[_-]/g, "");
  if (KEPT_NAME_ENDINGS.some((e) => n.endsWith(e))) return false;
  return n.includes("private") || SECRET_NAME_ENDINGS.some((e) => n.endsWith(e));
}

/** A deep copy of `v` with secret fields and secret-shaped strings redacted; bigints become strings. */
export function redactAuditValue(v: unknown): unknown {
  if (typeof v === "string") return v.replace(SECRET_VALUE, REDACTED);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(redactAuditValue);
  if (v instanceof Date) return v.toISOString();
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, value] of Object.entries(v)) out[k] = isSecretFieldName(k) && value !== null ? REDACTED : redactAuditValue(value);
    return out;
  }
  return v;
}

/** Redacts one audit before/after object (null stays null). */
export function redactAuditRecord(v: object | null | undefined): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  return redactAuditValue(v) as Record<string, unknown>;
}
