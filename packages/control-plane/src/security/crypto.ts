/**
 * Secret handling: AES-256-GCM for provider credentials, HMAC-SHA256 for virtual-key secrets,
 * SHA-256 for admin tokens, and display hints. No key material is ever logged.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** An AES-256-GCM sealed value. */
export interface SealedSecret {
  readonly ciphertext: Buffer;
  readonly nonce: Buffer;
  readonly tag: Buffer;
}

/** Encrypts `plaintext` under `masterKey` with a fresh 12-byte nonce, bound to `associatedData`. */
export function sealSecret(masterKey: Buffer, plaintext: string, associatedData: string): SealedSecret {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", masterKey, nonce);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { ciphertext, nonce, tag: cipher.getAuthTag() };
}

/** Decrypts a sealed value; throws when the key, nonce, tag or associated data do not match. */
export function openSecret(masterKey: Buffer, sealed: SealedSecret, associatedData: string): string {
  const decipher = createDecipheriv("aes-256-gcm", masterKey, sealed.nonce);
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString("utf8");
}

/** Associated data binding a provider credential to its organization and account. */
export function providerKeyAssociatedData(organizationId: string, accountId: string): string {
  return `${organizationId}/${accountId}`;
}

/** HMAC-SHA256 (hex) of a virtual-key secret under the pepper (hex). */
export function hmacSecret(pepperHex: string, secret: string): string {
  return createHmac("sha256", Buffer.from(pepperHex, "hex")).update(secret, "utf8").digest("hex");
}

/** SHA-256 (hex) of a bearer token, as stored. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A display hint of a provider API key: "sk-...abcd" (never more than 3 + 4 characters). */
export function apiKeyHint(apiKey: string): string {
  if (apiKey.length < 12) return `...${apiKey.slice(-2)}`;
  return `${apiKey.slice(0, 3)}...${apiKey.slice(-4)}`;
}

/** A new random token with a prefix (`tg_admin_...`). */
export function generateToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}
