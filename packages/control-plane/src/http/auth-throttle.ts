/**
 * Failed bearer tokens per client address. After `limit` failures within `windowMs` an address is
 * locked out for `lockoutMs`: every admin-API request from it is answered 429 without checking its
 * token (checking it would tell a guesser which guess was right). A success does not reset the
 * count, so a caller holding one valid token cannot interleave it to keep guessing another. IPv6
 * addresses count per /64 (one host usually owns the whole prefix). The table holds at most
 * `maxAddresses` entries; the least recently seen address is forgotten first.
 */
import { isIPv4, isIPv6 } from "node:net";

/** Settings of an `AuthFailureThrottle`. */
export interface AuthThrottleOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
  /** Bound of the per-address table (memory). */
  readonly maxAddresses: number;
  readonly now: () => number;
}

interface AddressEntry {
  windowStartMs: number;
  failures: number;
  lockedUntilMs: number;
}

/** Default bound of the per-address table: 10,000 entries, well under 2 MB. */
export const DEFAULT_THROTTLE_ADDRESSES = 10_000;

/** Tracks failed token attempts per client address (see the module comment). */
export class AuthFailureThrottle {
  private readonly entries = new Map<string, AddressEntry>();

  constructor(private readonly options: AuthThrottleOptions) {}

  /** Milliseconds until `address` may present a token again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const entry = this.entries.get(addressKey(address));
    if (entry === undefined) return 0;
    return Math.max(0, entry.lockedUntilMs - this.options.now());
  }

  /** Records a failed token from `address`; returns the lockout now in force in ms (0 when none). */
  recordFailure(address: string): number {
    const key = addressKey(address);
    const now = this.options.now();
    let entry = this.entries.get(key);
    if (entry !== undefined) this.entries.delete(key);
    if (entry === undefined || now - entry.windowStartMs >= this.options.windowMs) {
      entry = { windowStartMs: now, failures: 0, lockedUntilMs: entry !== undefined && entry.lockedUntilMs > now ? entry.lockedUntilMs : 0 };
    }
    entry.failures += 1;
    if (entry.failures >= this.options.limit && entry.lockedUntilMs <= now) {
      entry.lockedUntilMs = now + this.options.lockoutMs;
      entry.windowStartMs = entry.lockedUntilMs;
      entry.failures = 0;
    }
    this.entries.set(key, entry);
    this.evictOverflow();
    return Math.max(0, entry.lockedUntilMs - now);
  }

  /** How many addresses the table holds (bounded by `maxAddresses`). */
  get size(): number {
    return this.entries.size;
  }

  private evictOverflow(): void {
    while (this.entries.size > this.options.maxAddresses) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) return;
      this.entries.delete(oldest.value);
    }
  }
}

/** The table key of a client address: IPv4 as is (also when IPv4-mapped), IPv6 as its /64 prefix. */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(plain) || !isIPv6(plain)) return plain;
  return `${expandIPv6(plain).slice(0, 4).join(":")}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = "", tail] = address.toLowerCase().split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array.from({ length: Math.max(0, missing) }, () => "0"), ...tailGroups].map((g) => g.replace(/^0+(?=.)/, ""));
}
