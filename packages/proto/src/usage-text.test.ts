import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { BudgetChargeSchema, UsageRecordSchema } from "./gen/tollgate/v1/policy_pb.js";
import { boundUsageText, USAGE_TEXT_LIMITS, usageRecordTextProblem, usageTextProblem, utf8Length } from "./usage-text.js";

const HOSTILE = [
  "gpt-4o-mini\u0000x",
  "\u0000",
  "a".repeat(20_000),
  "é".repeat(20_000),
  "😀".repeat(10_000),
  "x".repeat(255) + "😀",
  "lone \uD800 high",
  "lone \uDC00 low",
  "\uDC00\uD800",
  "a".repeat(255) + "\uD83D",
  "ok \u0001\u001f\u007f controls",
];

describe("usage text rules", () => {
  it("bounds every hostile string to storable text within the limit, and the checker accepts the result", () => {
    for (const raw of HOSTILE) {
      for (const limit of [1, 2, 3, 4, 64, 256]) {
        const out = boundUsageText(raw, limit);
        expect(out.includes("\u0000")).toBe(false);
        expect(utf8Length(out)).toBeLessThanOrEqual(limit);
        expect(usageTextProblem(out, limit)).toBeNull();
        // Valid UTF-8: encoding and decoding gives the same string back (no lone surrogate).
        expect(Buffer.from(out, "utf8").toString("utf8")).toBe(out);
      }
    }
  });

  it("keeps text that already follows the rules, and cuts long text at a code point, as long as possible", () => {
    expect(boundUsageText("gpt-4o-mini", 256)).toBe("gpt-4o-mini");
    expect(boundUsageText("", 8)).toBe("");
    expect(boundUsageText("gpt-4o-mini\u0000x", 256)).toBe("gpt-4o-mini\uFFFDx");
    expect(boundUsageText("a".repeat(20_000), 256)).toBe("a".repeat(256));
    expect(boundUsageText("é".repeat(200), 255)).toBe("é".repeat(127));
    expect(boundUsageText("ab😀", 5)).toBe("ab");
    expect(boundUsageText("ab😀", 6)).toBe("ab😀");
    expect(boundUsageText("a\uD800b", 16)).toBe("a\uFFFDb");
  });

  it("names what is wrong", () => {
    expect(usageTextProblem("gpt-4o-mini\u0000x", 256)).toBe("nul");
    expect(usageTextProblem("a\uDC00", 256)).toBe("ill_formed");
    expect(usageTextProblem("a".repeat(257), 256)).toBe("too_long");
    expect(usageTextProblem("é".repeat(129), 256)).toBe("too_long");
    expect(usageTextProblem("é".repeat(128), 256)).toBeNull();
  });

  it("checks every string field of a record, budget ids of charges included", () => {
    const good = create(UsageRecordSchema, { requestId: "req_1", organizationId: "org_1", model: "m", charges: [create(BudgetChargeSchema, { budgetId: "bgt_1" })] });
    expect(usageRecordTextProblem(good)).toBeNull();
    expect(usageRecordTextProblem({ ...good, model: "m\u0000" })).toEqual({ field: "model", problem: "nul" });
    expect(usageRecordTextProblem({ ...good, errorCode: "e".repeat(USAGE_TEXT_LIMITS.errorCode + 1) })).toEqual({ field: "errorCode", problem: "too_long" });
    expect(usageRecordTextProblem({ ...good, charges: [create(BudgetChargeSchema, { budgetId: "b\uD800" })] })).toEqual({ field: "budgetId", problem: "ill_formed" });
  });
});
