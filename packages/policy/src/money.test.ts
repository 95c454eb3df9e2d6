import { describe, expect, it } from "vitest";
import { formatUsd, formatUsdPicos, InvalidUsdAmountError, MAX_USD_BUDGET_PICOS, microsCeilOfPicos, parseUsd, picosOfMicros } from "./money.js";

describe("formatUsd", () => {
  it.each([
    [12_500_000n, "12.50"],
    [50n, "0.00005"],
    [123n, "0.000123"],
    [0n, "0.00"],
    [1_000_000n, "1.00"],
    [1_234_567n, "1.234567"],
    [10n, "0.00001"],
    [100_000n, "0.10"],
    [-1_250_000n, "-1.25"],
    [123_456_789_000_000n, "123456789.00"],
  ])("%s micros -> %s", (micros, text) => {
    expect(formatUsd(micros)).toBe(text);
  });
});

describe("parseUsd", () => {
  it.each<[string | number, bigint]>([
    ["12.50", 12_500_000n],
    ["0.000123", 123n],
    ["0", 0n],
    ["7", 7_000_000n],
    [".5", 500_000n],
    ["3.", 3_000_000n],
    ["1.1234560", 1_123_456n],
    [" 2.25 ", 2_250_000n],
    [12.5, 12_500_000n],
    [0.000001, 1n],
    [1e-6, 1n],
    [1e21, 10n ** 27n],
    [0, 0n],
  ])("%j -> %s micros", (v, micros) => {
    expect(parseUsd(v)).toBe(micros);
  });

  it.each<string | number>(["-1", "1.0000001", "abc", "", ".", "1e3", "NaN", "1,5", Number.NaN, Number.POSITIVE_INFINITY, -0.5, 0.1 + 0.2, 1e-7])("rejects %j", (v) => {
    expect(() => parseUsd(v)).toThrow(InvalidUsdAmountError);
  });

  it("round-trips formatUsd", () => {
    for (const micros of [0n, 1n, 99n, 1_000_000n, 12_345_678n, 987_654_321_012n]) {
      expect(parseUsd(formatUsd(micros))).toBe(micros);
    }
  });
});

describe("pico-dollars", () => {
  it.each([
    [1_305_000_000n, "0.001305"],
    [1n, "0.000000000001"],
    [0n, "0.00"],
    [12_500_000_000_000n, "12.50"],
    [-1_250_000_000_000n, "-1.25"],
    [9_000_000_000_000_000_000n, "9000000.00"],
    [123_456_789_012n, "0.123456789012"],
  ])("%s picos -> %s", (picos, text) => {
    expect(formatUsdPicos(picos)).toBe(text);
  });

  it("converts micro-dollars exactly and rounds pico-dollars up to micro-dollars (never undercounts)", () => {
    expect(picosOfMicros(1_305n)).toBe(1_305_000_000n);
    expect(microsCeilOfPicos(1_305_000_000n)).toBe(1_305n);
    expect(microsCeilOfPicos(13_050_000n)).toBe(14n);
    expect(microsCeilOfPicos(1n)).toBe(1n);
    expect(microsCeilOfPicos(0n)).toBe(0n);
    expect(MAX_USD_BUDGET_PICOS).toBeLessThan(2n ** 63n - 1n);
  });
});
