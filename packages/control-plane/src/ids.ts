/**
 * Id source: `<prefix>_` + 26 lowercase Crockford base32 chars (48-bit ms time + 80 random bits),
 * monotonic within one source so ids sort in creation order.
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** Prefixes of every id the control plane mints. */
export type IdPrefix = "org" | "team" | "usr" | "pa" | "mdl" | "vk" | "bgt" | "rl" | "aud" | "tok" | "sig" | "grd" | "alrt" | "whd" | "dlq";

/** Makes a new id with a prefix. */
export type IdSource = (prefix: IdPrefix) => string;

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** Creates an id source reading time from `now`. */
export function createIdSource(now: () => number): IdSource {
  let lastMs = -1;
  let last: number[] = [];
  return (prefix) => {
    const ms = now();
    if (ms <= lastMs) {
      for (let i = last.length - 1; i >= 0; i--) {
        const v = (last[i] ?? 0) + 1;
        if (v < 32) {
          last[i] = v;
          break;
        }
        last[i] = 0;
      }
    } else {
      lastMs = ms;
      last = [...randomBytes(16)].map((b) => b % 32);
      last[0] = (last[0] ?? 0) % 16;
    }
    return `${prefix}_${encodeTime(lastMs)}${last.map((v) => ALPHABET[v]).join("")}`;
  };
}
