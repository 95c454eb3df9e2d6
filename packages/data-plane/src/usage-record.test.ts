import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { BudgetChargeSchema, USAGE_TEXT_LIMITS, UsageRecordSchema, usageRecordTextProblem } from "@tollgate/proto";
import { buildPolicyFixture } from "./policy.fixture.js";
import { decodeSegment, encodeSpoolFrame } from "./usage-spool.js";
import { Outcome, UsageRecordFactory, UsageSource } from "./usage-record.js";

describe("UsageRecordFactory", () => {
  it("builds the message create() would, numbered per boot, and the spool frames it as toBinary would", () => {
    const { snapshot } = buildPolicyFixture("http://127.0.0.1:1/v1");
    const key = snapshot.virtualKeys[0];
    const model = snapshot.models[0];
    if (!key || !model) throw new Error("fixture");
    const factory = new UsageRecordFactory("node-1", "boot_1");
    const facts = {
      requestId: "req_1",
      startedAt: 1_700_000_000_123,
      durationMs: 12.6,
      firstByteMs: -3,
      key,
      model,
      publicModel: "gpt-4o-mini",
      route: "/v1/chat/completions",
      stream: true,
      usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5e10 },
      usageSource: UsageSource.PROVIDER,
      costPicos: 41_500_001n,
      outcome: Outcome.SUCCESS,
      status: 200,
      errorCode: "",
      charges: [{ budgetId: "bgt_1", windowStart: 1_698_796_800_000, amount: 42n }],
      attempts: 2,
    };
    const first = factory.build(facts);
    const second = factory.build({ ...facts, requestId: "req_2", charges: [] });
    const expected = create(UsageRecordSchema, {
      requestId: "req_1",
      nodeId: "node-1",
      bootId: "boot_1",
      sequence: 1n,
      startedAtMs: 1_700_000_000_123n,
      durationMs: 13,
      firstByteMs: 0,
      organizationId: key.organizationId,
      virtualKeyId: key.id,
      userId: key.userId ?? "",
      teamId: key.teamId ?? "",
      model: "gpt-4o-mini",
      modelId: model.id,
      providerAccountId: model.providerAccountId,
      upstreamModel: model.upstreamModel,
      route: "/v1/chat/completions",
      stream: true,
      inputTokens: 10,
      cachedInputTokens: 2,
      outputTokens: 0xffffffff,
      usageSource: UsageSource.PROVIDER,
      costMicros: 42n,
      costPicos: 41_500_001n,
      outcome: Outcome.SUCCESS,
      status: 200,
      errorCode: "",
      attempts: 2,
      charges: [create(BudgetChargeSchema, { budgetId: "bgt_1", windowStartMs: 1_698_796_800_000n, amount: 42n })],
    });
    expect(first).toEqual(expected);
    expect(second.sequence).toBe(2n);
    const frame = encodeSpoolFrame(first);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(Buffer.from(frame.subarray(4)).equals(Buffer.from(toBinary(UsageRecordSchema, expected)))).toBe(true);
    expect(decodeSegment(Buffer.concat([frame, encodeSpoolFrame(second)]))).toEqual([expected, { ...expected, requestId: "req_2", sequence: 2n, charges: [] }]);
  });
});

describe("UsageRecordFactory with hostile text", () => {
  it("makes every string of the record storable: no NUL, well-formed, within its limit", () => {
    const { snapshot } = buildPolicyFixture("http://127.0.0.1:1/v1");
    const key = snapshot.virtualKeys[0];
    if (!key) throw new Error("fixture");
    const factory = new UsageRecordFactory("node-1", "boot_1");
    const base = {
      requestId: "req_1",
      startedAt: 1_700_000_000_000,
      durationMs: 1,
      firstByteMs: 0,
      key,
      model: null,
      route: "/v1/chat/completions",
      stream: false,
      usage: null,
      usageSource: UsageSource.NONE,
      costPicos: 0n,
      outcome: Outcome.REFUSED,
      status: 404,
      errorCode: "model_not_found",
      charges: [],
    };
    for (const publicModel of ["gpt-4o-mini\u0000x", "m".repeat(20_000), "\uD800".repeat(300), "😀".repeat(5_000)]) {
      const record = factory.build({ ...base, publicModel });
      expect(usageRecordTextProblem(record)).toBeNull();
      expect(Buffer.byteLength(record.model, "utf8")).toBeLessThanOrEqual(USAGE_TEXT_LIMITS.model);
      expect(record.model.includes("\u0000")).toBe(false);
    }
    expect(factory.build({ ...base, publicModel: "gpt-4o-mini\u0000x" }).model).toBe("gpt-4o-mini\uFFFDx");
  });
});
