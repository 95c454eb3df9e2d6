import { describe, expect, it } from "vitest";
import { findUnstorableString, MAX_INPUT_DEPTH, unstorableReason } from "./input-guard.js";

describe("unstorableReason", () => {
  it.each([
    ["plain", null],
    ["emoji 😀 pairs are fine", null],
    ["a\u0000b", "NUL"],
    ["\u0000", "NUL"],
    ["lone high \uD800 x", "unpaired surrogate"],
    ["lone low \uDC00", "unpaired surrogate"],
    ["reversed \uDC00\uD800", "unpaired surrogate"],
  ])("%j -> %s", (s, expected) => {
    const reason = unstorableReason(s);
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toContain(expected);
  });
});

describe("findUnstorableString", () => {
  it("names the field of a nested input, a list element and a JSON metadata key", () => {
    expect(findUnstorableString({ input: { organizationId: "org_1", name: "bad\u0000name" } }, "")).toMatchObject({ path: "input.name" });
    expect(findUnstorableString({ input: { allowedModels: ["gpt-4o", "x\u0000"] } }, "")).toMatchObject({ path: "input.allowedModels[1]" });
    expect(findUnstorableString({ input: { metadata: { team: { owner: "a\u0000" } } } }, "")).toMatchObject({ path: "input.metadata.team.owner" });
    const key = findUnstorableString({ input: { metadata: { "k\u0000": 1 } } }, "");
    expect(key?.path).toBe('input.metadata: key "k\\u0000"');
  });

  it("accepts clean inputs of every shape (numbers, bigints, dates, nulls)", () => {
    expect(findUnstorableString({ input: { limit: 5_000_000n, at: new Date(0), n: 3, none: null, ok: [true, "fine"] } }, "")).toBeNull();
  });

  it("refuses JSON nested deeper than the limit, without recursing through it", () => {
    let deep: unknown = "end";
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const found = findUnstorableString({ input: { metadata: deep } }, "");
    expect(found?.reason).toBe(`is nested deeper than ${MAX_INPUT_DEPTH} levels`);
    expect(found?.path).toBe(`input.metadata${".d".repeat(MAX_INPUT_DEPTH - 2)}`);
    let fits: unknown = "end";
    for (let i = 0; i < MAX_INPUT_DEPTH - 3; i++) fits = [fits];
    expect(findUnstorableString({ input: { metadata: { list: fits } } }, "")).toBeNull();
  });
});
