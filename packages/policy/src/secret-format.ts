/**
 * Opaque virtual-key secrets: `tg_live_` + 43 base62 chars (32 random bytes as one big-endian
 * number, left-padded) + 6 base62 chars of checksum (CRC32 of the 43 ASCII chars, left-padded).
 * The checksum lets a node reject garbage before any lookup.
 */

/** The prefix every opaque secret starts with. */
export const SECRET_PREFIX = "tg_live_";

/** Digits of base62, in ascending ASCII order (so equal-length strings compare like numbers). */
export const BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
/** Total length of an opaque secret (8 + 43 + 6). */
export const SECRET_LENGTH = SECRET_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;

const CRC_TABLE: readonly number[] = buildCrcTable();

function buildCrcTable(): number[] {
  const table: number[] = [];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table.push(c >>> 0);
  }
  return table;
}

/** CRC-32 (IEEE 802.3, as zlib) of the bytes; an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (CRC_TABLE[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Encodes a non-negative integer in base62, left-padded with "0" to `width`. */
export function encodeBase62(value: bigint, width: number): string {
  let out = "";
  let v = value;
  while (v > 0n) {
    out = BASE62_ALPHABET[Number(v % 62n)] + out;
    v /= 62n;
  }
  return out.padStart(width, "0");
}

function asciiBytes(s: string): Uint8Array {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i) & 0xff;
  return bytes;
}

function checksumOf(body: string): string {
  return encodeBase62(BigInt(crc32(asciiBytes(body))), CHECKSUM_LENGTH);
}

/** The largest 43-char body: 2^256 - 1 in base62. */
const MAX_BODY = encodeBase62((1n << 256n) - 1n, BODY_LENGTH);

/** Builds an opaque secret from exactly 32 random bytes (the caller supplies the randomness). */
export function generateOpaqueSecret(random: Uint8Array): string {
  if (random.length !== 32) throw new RangeError(`an opaque secret needs 32 random bytes, got ${random.length}`);
  let value = 0n;
  for (const b of random) value = (value << 8n) | BigInt(b);
  const body = encodeBase62(value, BODY_LENGTH);
  return SECRET_PREFIX + body + checksumOf(body);
}

/** True when `s` has the opaque-secret shape and a valid checksum (no lookup needed). */
export function isWellFormedSecret(s: string): boolean {
  if (s.length !== SECRET_LENGTH || !s.startsWith(SECRET_PREFIX)) return false;
  const body = s.slice(SECRET_PREFIX.length, SECRET_PREFIX.length + BODY_LENGTH);
  const checksum = s.slice(SECRET_PREFIX.length + BODY_LENGTH);
  if (!/^[0-9A-Za-z]+$/.test(body) || !/^[0-9A-Za-z]+$/.test(checksum)) return false;
  if (body > MAX_BODY) return false;
  return checksumOf(body) === checksum;
}

/** The display prefix of a secret: its first 12 characters (`tg_live_Ab3x`). */
export function secretPrefix(s: string): string {
  return s.slice(0, 12);
}

/** The display suffix of a secret: its last 4 characters. */
export function secretLast4(s: string): string {
  return s.slice(-4);
}
