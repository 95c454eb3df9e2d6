import { describe, expect, it } from "vitest";
import { crc32, generateOpaqueSecret, isWellFormedSecret, SECRET_LENGTH, secretLast4, secretPrefix } from "./secret-format.js";

const bytes = (fill: (i: number) => number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => fill(i) & 0xff);

describe("opaque secrets", () => {
  it("computes the standard CRC-32", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });

  it.each([
    ["zeros", bytes(() => 0)],
    ["ones", bytes(() => 255)],
    ["ramp", bytes((i) => i * 7 + 3)],
  ])("generates a well-formed secret from %s", (_, random) => {
    const secret = generateOpaqueSecret(random);
    expect(secret).toMatch(/^tg_live_[0-9A-Za-z]{49}$/);
    expect(secret.length).toBe(SECRET_LENGTH);
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(secretPrefix(secret)).toBe(secret.slice(0, 12));
    expect(secretPrefix(secret).startsWith("tg_live_")).toBe(true);
    expect(secretLast4(secret)).toBe(secret.slice(-4));
  });

  it("encodes the bytes as one big base62 number, left-padded", () => {
    expect(generateOpaqueSecret(bytes(() => 0)).slice(8, 51)).toBe("0".repeat(43));
    const one = bytes((i) => (i === 31 ? 1 : 0));
    expect(generateOpaqueSecret(one).slice(8, 51)).toBe(`${"0".repeat(42)}1`);
    const sixtyTwo = bytes((i) => (i === 31 ? 62 : 0));
    expect(generateOpaqueSecret(sixtyTwo).slice(8, 51)).toBe(`${"0".repeat(41)}10`);
  });

  it("is deterministic and distinct for distinct bytes", () => {
    expect(generateOpaqueSecret(bytes((i) => i))).toBe(generateOpaqueSecret(bytes((i) => i)));
    expect(generateOpaqueSecret(bytes((i) => i))).not.toBe(generateOpaqueSecret(bytes((i) => i + 1)));
  });

  it("rejects any single-character tamper, wrong prefix, length or alphabet", () => {
    const secret = generateOpaqueSecret(bytes((i) => i * 31 + 5));
    for (let pos = 8; pos < secret.length; pos++) {
      const c = secret[pos] === "a" ? "b" : "a";
      expect(isWellFormedSecret(secret.slice(0, pos) + c + secret.slice(pos + 1)), `tamper at ${pos}`).toBe(false);
    }
    expect(isWellFormedSecret(`tg_test_${secret.slice(8)}`)).toBe(false);
    expect(isWellFormedSecret(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedSecret(`${secret}0`)).toBe(false);
    expect(isWellFormedSecret(`${secret.slice(0, 20)}-${secret.slice(21)}`)).toBe(false);
    expect(isWellFormedSecret("")).toBe(false);
  });

  it("refuses a wrong number of random bytes", () => {
    expect(() => generateOpaqueSecret(new Uint8Array(31))).toThrow(RangeError);
  });
});
