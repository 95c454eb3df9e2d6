/**
 * The HMACs of recently presented opaque secrets under one pepper, so a client sending the same
 * key again costs a map lookup instead of a format check and an HMAC. Only secrets that passed the
 * format check are remembered; the cache is bounded (oldest first out) and belongs to one pepper:
 * a policy update with another pepper starts a new cache. Keys are still looked up and decided on
 * every request: the cache only replaces recomputing the same pure function.
 */
import { hashSecret } from "./key-auth.js";

/** Default bound of a cache: a few MB at most. */
export const SECRET_HMAC_CACHE_ENTRIES = 4096;

/** HMACs of well-formed opaque secrets under one pepper key. */
export class SecretHmacCache {
  private readonly entries = new Map<string, string>();

  /** `pepperKey` is the HMAC key every remembered value was computed with. */
  constructor(
    readonly pepperKey: Buffer,
    private readonly maxEntries = SECRET_HMAC_CACHE_ENTRIES,
  ) {}

  /** The remembered HMAC of a secret that passed the format check, else undefined. */
  lookup(secret: string): string | undefined {
    return this.entries.get(secret);
  }

  /** Computes and remembers the HMAC of a secret that passed the format check. */
  remember(secret: string): string {
    const hmac = hashSecret(secret, this.pepperKey);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(secret, hmac);
    return hmac;
  }

  /** The HMAC of any secret (remembered or computed, not remembered). */
  hmacOf(secret: string): string {
    return this.entries.get(secret) ?? hashSecret(secret, this.pepperKey);
  }

  /** Number of secrets remembered. */
  get size(): number {
    return this.entries.size;
  }
}
