/**
 * The check of received usage records: each record of a batch either becomes an ingest record or
 * is set aside for the dead-letter table with a reason from a fixed list. Nothing in a record can
 * fail its batch here; what this accepts the database can store (text rules of `@tollgate/proto`,
 * numbers within their columns).
 */
import { toBinary } from "@bufbuild/protobuf";
import { picosOfMicros } from "@tollgate/policy";
import { boundUsageText, Outcome, USAGE_TEXT_LIMITS, UsageRecordSchema, UsageSource, usageRecordTextProblem, type UsageBatch, type UsageRecord } from "@tollgate/proto";
import type { DeadLetterIn, DeadLetterReason, UsageIn } from "../services/ledger.service.js";

/** Latest accepted `started_at_ms` / `window_start_ms`: the end of year 9999 UTC. */
const MAX_TIME_MS = 253_402_300_800_000n;
/** Largest cost or charge of one record: $1,000,000 in pico-dollars (10^18, a whole batch's sum stays in numeric). */
const MAX_AMOUNT = 1_000_000_000_000_000_000n;
/** The same bound for a record from a node before pico-dollars (micro-dollars). */
const MAX_LEGACY_AMOUNT = 1_000_000_000_000n;

/** A record from a node before pico-dollars: no `cost_picos`, a cost in micro-dollars (see policy.proto). */
function isLegacyRecord(r: UsageRecord): boolean {
  return r.costPicos === 0n && r.costMicros !== 0n;
}
const MAX_INT8 = 0x7fff_ffff_ffff_ffffn;
/** Most charges one record can carry (every budget of every level of a key, with room to spare). */
const MAX_CHARGES = 256;
const MAX_ATTEMPTS = 1000;

/** A batch split into records to ingest and records to dead-letter. */
export interface UsageIntake {
  readonly records: UsageIn[];
  readonly rejected: DeadLetterIn[];
}

function enumName(table: Record<number, string>, value: number, prefix: string): string {
  const name = table[value];
  return typeof name === "string" ? name.replace(prefix, "") : "UNSPECIFIED";
}

/** Why `r` cannot be stored (null = it can). */
export function usageRecordDefect(r: UsageRecord): { reason: DeadLetterReason; detail: string } | null {
  if (r.requestId === "") return { reason: "missing_field", detail: "request_id is empty" };
  if (r.organizationId === "") return { reason: "missing_field", detail: "organization_id is empty" };
  const text = usageRecordTextProblem(r);
  if (text !== null) {
    if (text.problem === "too_long") return { reason: "too_long", detail: `${text.field} is longer than ${USAGE_TEXT_LIMITS[text.field]} bytes` };
    return { reason: "invalid_text", detail: `${text.field} ${text.problem === "nul" ? "contains NUL" : "is not valid UTF-8"}` };
  }
  const range = (field: string, ok: boolean) => (ok ? null : { reason: "out_of_range" as const, detail: `${field} is out of range` });
  return (
    range("sequence", r.sequence <= MAX_INT8) ??
    range("started_at_ms", r.startedAtMs >= 0n && r.startedAtMs < MAX_TIME_MS) ??
    range("cost_micros", r.costMicros >= 0n && r.costMicros <= MAX_LEGACY_AMOUNT) ??
    range("cost_picos", r.costPicos >= 0n && r.costPicos <= MAX_AMOUNT) ??
    range("status", r.status <= 999) ??
    range("attempts", r.attempts <= MAX_ATTEMPTS) ??
    range("charges", r.charges.length <= MAX_CHARGES) ??
    range(
      "charges.window_start_ms",
      r.charges.every((c) => c.windowStartMs >= 0n && c.windowStartMs < MAX_TIME_MS),
    ) ??
    range(
      "charges.amount",
      r.charges.every((c) => c.amount >= 0n && c.amount <= (isLegacyRecord(r) ? MAX_LEGACY_AMOUNT : MAX_AMOUNT)),
    )
  );
}

/** The ingest record of a record that passed `usageRecordDefect` (node and boot ids already filled in). */
function toUsageIn(r: UsageRecord, received: () => Uint8Array): UsageIn {
  return {
    requestId: r.requestId,
    nodeId: r.nodeId,
    bootId: r.bootId,
    sequence: r.sequence,
    startedAtMs: r.startedAtMs,
    durationMs: r.durationMs,
    firstByteMs: r.firstByteMs,
    organizationId: r.organizationId,
    virtualKeyId: r.virtualKeyId,
    userId: r.userId,
    teamId: r.teamId,
    model: r.model,
    modelId: r.modelId,
    providerAccountId: r.providerAccountId,
    upstreamModel: r.upstreamModel,
    route: r.route,
    stream: r.stream,
    inputTokens: r.inputTokens,
    cachedInputTokens: r.cachedInputTokens,
    outputTokens: r.outputTokens,
    cacheWriteInputTokens: r.cacheWriteInputTokens,
    cacheWrite1hInputTokens: r.cacheWrite1hInputTokens,
    usageSource: enumName(UsageSource, r.usageSource, "USAGE_SOURCE_"),
    costPicos: isLegacyRecord(r) ? picosOfMicros(r.costMicros) : r.costPicos,
    usdChargesInMicros: isLegacyRecord(r),
    outcome: enumName(Outcome, r.outcome, "OUTCOME_"),
    status: r.status,
    errorCode: r.errorCode,
    attempts: r.attempts,
    charges: r.charges.map((c) => ({ budgetId: c.budgetId, windowStartMs: Number(c.windowStartMs), amount: c.amount })),
    received,
  };
}

/** Splits a received batch: storable records to ingest, the others to dead-letter with their reason. */
export function checkUsageBatch(batch: UsageBatch): UsageIntake {
  const records: UsageIn[] = [];
  const rejected: DeadLetterIn[] = [];
  for (const sent of batch.records) {
    // The record as received (protobuf-es keeps unknown fields, so these are the bytes the node sent),
    // encoded only when it is dead-lettered.
    const received = (): Uint8Array => toBinary(UsageRecordSchema, sent);
    // Empty node and boot ids of a record are the batch's.
    const r: UsageRecord = { ...sent, nodeId: sent.nodeId || batch.nodeId, bootId: sent.bootId || batch.bootId };
    const defect = usageRecordDefect(r);
    if (defect === null) {
      records.push(toUsageIn(r, received));
      continue;
    }
    rejected.push({
      ...defect,
      nodeId: boundUsageText(r.nodeId, USAGE_TEXT_LIMITS.nodeId),
      requestId: boundUsageText(r.requestId, USAGE_TEXT_LIMITS.requestId),
      organizationId: boundUsageText(r.organizationId, USAGE_TEXT_LIMITS.organizationId),
      received: received(),
    });
  }
  return { records, rejected };
}
