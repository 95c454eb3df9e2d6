import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { encodeSnapshotResources } from "./codecs.js";
import * as gen from "./gen/tollgate/v1/policy_pb.js";
import { BudgetChargeSchema, Outcome, PolicyUpdateSchema, UsageBatchSchema, UsageRecordSchema, UsageSource, type UsageRecord } from "./gen/tollgate/v1/policy_pb.js";
import { createMessageEncoder } from "./message-encoder.js";

/** A small deterministic PRNG (mulberry32) so a failure names its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRING_POOL = ["", "a", "req_0123456789abcdef", "é", "日本語のテキスト", "emoji 🎉", "\ud800 lone surrogate", "x".repeat(200), "/v1/chat/completions"];
const U32_POOL = [0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 0x7fff_ffff, 0xffff_ffff];
const I64_POOL = [0n, 1n, -1n, 127n, 128n, 1_700_000_000_000n, BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n, (1n << 63n) - 1n, -(1n << 63n)];
const U64_POOL = [0n, 1n, 128n, 123_456_789n, BigInt(Number.MAX_SAFE_INTEGER) + 2n, (1n << 64n) - 1n];

function randomRecord(random: () => number): UsageRecord {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chargeCount = Math.floor(random() * 4);
  return create(UsageRecordSchema, {
    requestId: pick(STRING_POOL),
    nodeId: pick(STRING_POOL),
    bootId: pick(STRING_POOL),
    sequence: pick(U64_POOL),
    startedAtMs: pick(I64_POOL),
    durationMs: pick(U32_POOL),
    firstByteMs: pick(U32_POOL),
    organizationId: pick(STRING_POOL),
    virtualKeyId: pick(STRING_POOL),
    userId: pick(STRING_POOL),
    teamId: pick(STRING_POOL),
    model: pick(STRING_POOL),
    modelId: pick(STRING_POOL),
    providerAccountId: pick(STRING_POOL),
    upstreamModel: pick(STRING_POOL),
    route: pick(STRING_POOL),
    stream: random() < 0.5,
    inputTokens: pick(U32_POOL),
    cachedInputTokens: pick(U32_POOL),
    outputTokens: pick(U32_POOL),
    usageSource: pick([UsageSource.UNSPECIFIED, UsageSource.PROVIDER, UsageSource.COUNTED, UsageSource.NONE]),
    costMicros: pick(I64_POOL),
    outcome: pick([Outcome.UNSPECIFIED, Outcome.SUCCESS, Outcome.REFUSED, Outcome.UPSTREAM_ERROR, Outcome.CLIENT_ABORTED]),
    status: pick(U32_POOL),
    errorCode: pick(STRING_POOL),
    attempts: pick(U32_POOL),
    charges: Array.from({ length: chargeCount }, () => create(BudgetChargeSchema, { budgetId: pick(STRING_POOL), windowStartMs: pick(I64_POOL), amount: pick(I64_POOL) })),
  });
}

describe("createMessageEncoder", () => {
  it("writes the same bytes as toBinary for random usage records and batches", () => {
    const encodeRecord = createMessageEncoder(UsageRecordSchema);
    const encodeBatch = createMessageEncoder(UsageBatchSchema);
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const record = randomRecord(random);
      const fast = encodeRecord(record);
      expect(Buffer.from(fast).equals(Buffer.from(toBinary(UsageRecordSchema, record))), `record seed ${seed}`).toBe(true);
      expect(fromBinary(UsageRecordSchema, fast)).toEqual(fromBinary(UsageRecordSchema, toBinary(UsageRecordSchema, record)));
      const batch = create(UsageBatchSchema, { nodeId: "node-1", bootId: "boot_1", records: Array.from({ length: seed % 5 }, () => randomRecord(random)) });
      expect(Buffer.from(encodeBatch(batch)).equals(Buffer.from(toBinary(UsageBatchSchema, batch))), `batch seed ${seed}`).toBe(true);
    }
  });

  it("agrees with toBinary on the empty message of every schema, and on a full policy update (fallback paths)", () => {
    const schemas = (Object.values(gen) as unknown[]).filter((v): v is DescMessage => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "message");
    expect(schemas.length).toBeGreaterThan(10);
    for (const schema of schemas) {
      const message = create(schema);
      expect(Buffer.from(createMessageEncoder(schema)(message)).equals(Buffer.from(toBinary(schema, message))), schema.typeName).toBe(true);
    }
    const snapshotResources = encodeSnapshotResources({
      version: 3n,
      hmacPepper: "ab".repeat(32),
      organizations: [{ id: "org_1", slug: "acme", name: "Acme", access: { allow: ["gpt-*"], deny: [] }, fallbackPrice: null }],
      teams: [],
      users: [],
      virtualKeys: [],
      providerAccounts: [],
      models: [],
      budgets: [],
      rateLimits: [],
      guardrails: [],
      signingKeys: [],
    });
    const update = create(PolicyUpdateSchema, { version: 3n, nonce: "n", full: true, upserts: snapshotResources, hmacPepper: "ab".repeat(32) });
    expect(Buffer.from(createMessageEncoder(PolicyUpdateSchema)(update)).equals(Buffer.from(toBinary(PolicyUpdateSchema, update)))).toBe(true);
  });

  it("keeps unknown fields, and rejects what toBinary rejects", () => {
    const encode = createMessageEncoder(UsageRecordSchema);
    const withUnknown = create(UsageRecordSchema, { requestId: "req_1" });
    withUnknown.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([5]) }];
    expect(Buffer.from(encode(withUnknown)).equals(Buffer.from(toBinary(UsageRecordSchema, withUnknown)))).toBe(true);
    const negative = create(UsageRecordSchema, { durationMs: -1 });
    expect(() => toBinary(UsageRecordSchema, negative)).toThrow();
    expect(() => encode(negative)).toThrow();
  });
});
