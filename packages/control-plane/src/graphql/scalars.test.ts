import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import { limitInUnit } from "../services/budget.service.js";
import { DecimalScalar, MAX_DECIMAL, parseDecimal, PicoAmount } from "./scalars.js";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof AppError ? e.code : "not an AppError";
  }
  return undefined;
}

describe("Decimal inputs", () => {
  it("parses exact amounts from strings and numbers into micro-units", () => {
    expect(parseDecimal("12.50")).toBe(12_500_000n);
    expect(parseDecimal(0.000123)).toBe(123n);
    expect(parseDecimal(999_999_999_999)).toBe(999_999_999_999_000_000n);
    expect(parseDecimal("999999999999.999999")).toBe(999_999_999_999_999_999n);
  });

  it("accepts the maximum and refuses one micro-unit more", () => {
    expect(parseDecimal(MAX_DECIMAL.toString())).toBe(MAX_DECIMAL * 1_000_000n);
    expect(codeOf(() => parseDecimal(`${MAX_DECIMAL.toString()}.000001`))).toBe("BAD_USER_INPUT");
  });

  it.each<[string, unknown]>([
    ["an exponent string", "1e400"],
    ["a number beyond the columns' range", "100000000000000000000"],
    ["2^53 + 1 as a JSON number", 9_007_199_254_740_993],
    ["a JSON number with more than 15 significant digits", 123_456_789.1234567],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["NaN", Number.NaN],
    ["a negative amount", "-1"],
    ["a negative number", -0.5],
    ["more than 6 decimals", "0.0000001"],
    ["a NUL byte", "1\u0000"],
    ["a very long string", "1".repeat(10_000)],
    ["a boolean", true],
  ])("refuses %s as BAD_USER_INPUT", (_what, v) => {
    expect(codeOf(() => parseDecimal(v))).toBe("BAD_USER_INPUT");
  });
});

describe("Decimal money in pico-dollars", () => {
  it("prints an exact cost with up to 12 decimals and a micro-unit amount with up to 6", () => {
    expect(DecimalScalar.serialize(new PicoAmount(1_305_000_000n))).toBe("0.001305");
    expect(DecimalScalar.serialize(new PicoAmount(1n))).toBe("0.000000000001");
    expect(DecimalScalar.serialize(12_500_000n)).toBe("12.50");
  });

  it("takes a USD budget limit up to $9,000,000 in pico-dollars, BAD_USER_INPUT beyond", () => {
    expect(limitInUnit("USD", parseDecimal("9000000"))).toBe(9_000_000n * 10n ** 12n);
    expect(limitInUnit("USD", parseDecimal("0.000001"))).toBe(1_000_000n);
    expect(codeOf(() => limitInUnit("USD", parseDecimal("9000000.000001")))).toBe("BAD_USER_INPUT");
    expect(limitInUnit("TOKENS", parseDecimal("1000000000000"))).toBe(1_000_000_000_000n);
  });
});
