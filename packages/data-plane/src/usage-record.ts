/**
 * Building the usage records a node sends back: one per answered request whose key was resolved
 * (successes, upstream failures, client aborts and refusals), with a per-boot monotonic sequence.
 * Every string is made storable here (`boundUsageText`: no NUL, well-formed, within its byte limit),
 * whatever the caller sent: a model name is the caller's text, and one unstorable record must never
 * hold up the node's usage.
 */
import { microsCeilOfPicos, type ActualUsage, type BudgetCharge, type ModelPolicy, type VirtualKeyPolicy } from "@tollgate/policy";
import { boundUsageText, Outcome, USAGE_TEXT_LIMITS as L, UsageSource, type BudgetCharge as WireBudgetCharge, type UsageRecord } from "@tollgate/proto";

export { Outcome, UsageSource };

/** What is known about a finished request. */
export interface UsageFacts {
  readonly requestId: string;
  readonly startedAt: number;
  readonly durationMs: number;
  /** ms to the upstream's response headers; 0 when there was no upstream call. */
  readonly firstByteMs: number;
  readonly key: VirtualKeyPolicy;
  readonly model: ModelPolicy | null;
  /** The model name as the caller wrote it. */
  readonly publicModel: string;
  readonly route: string;
  readonly stream: boolean;
  readonly usage: ActualUsage | null;
  readonly usageSource: UsageSource;
  /** The exact cost in pico-dollars. */
  readonly costPicos: bigint;
  readonly outcome: Outcome;
  readonly status: number;
  readonly errorCode: string;
  readonly charges: readonly BudgetCharge[];
  /** Upstream attempts made (1 = no retry; absent or 0 = no upstream call). */
  readonly attempts?: number;
}

const clampU32 = (n: number): number => Math.max(0, Math.min(0xffffffff, Math.round(n)));

/** Makes usage records of one node boot, numbering them in order. */
export class UsageRecordFactory {
  private sequence = 0n;

  /** `nodeId` and `bootId` are stamped on every record. */
  private readonly nodeId: string;
  private readonly bootId: string;

  constructor(nodeId: string, bootId: string) {
    this.nodeId = boundUsageText(nodeId, L.nodeId);
    this.bootId = boundUsageText(bootId, L.bootId);
  }

  /**
   * The record of one request (the next sequence number). Written as a complete message literal
   * (every field of the generated type is required, so a new proto field fails to compile here):
   * the same object `create(UsageRecordSchema, ...)` returns for a proto3 message, without its
   * per-call reflection.
   */
  build(f: UsageFacts): UsageRecord {
    this.sequence += 1n;
    const charges: WireBudgetCharge[] = [];
    for (const c of f.charges) charges.push({ $typeName: "tollgate.v1.BudgetCharge", budgetId: boundUsageText(c.budgetId, L.budgetId), windowStartMs: BigInt(c.windowStart), amount: c.amount });
    return {
      $typeName: "tollgate.v1.UsageRecord",
      requestId: boundUsageText(f.requestId, L.requestId),
      nodeId: this.nodeId,
      bootId: this.bootId,
      sequence: this.sequence,
      startedAtMs: BigInt(f.startedAt),
      durationMs: clampU32(f.durationMs),
      firstByteMs: clampU32(f.firstByteMs),
      organizationId: boundUsageText(f.key.organizationId, L.organizationId),
      virtualKeyId: boundUsageText(f.key.id, L.virtualKeyId),
      userId: boundUsageText(f.key.userId ?? "", L.userId),
      teamId: boundUsageText(f.key.teamId ?? "", L.teamId),
      model: boundUsageText(f.publicModel, L.model),
      modelId: boundUsageText(f.model?.id ?? "", L.modelId),
      providerAccountId: boundUsageText(f.model?.providerAccountId ?? "", L.providerAccountId),
      upstreamModel: boundUsageText(f.model?.upstreamModel ?? "", L.upstreamModel),
      route: boundUsageText(f.route, L.route),
      stream: f.stream,
      inputTokens: clampU32(f.usage?.inputTokens ?? 0),
      cachedInputTokens: clampU32(f.usage?.cachedInputTokens ?? 0),
      outputTokens: clampU32(f.usage?.outputTokens ?? 0),
      usageSource: f.usageSource,
      costMicros: microsCeilOfPicos(f.costPicos),
      costPicos: f.costPicos,
      cacheWriteInputTokens: clampU32(f.usage?.cacheWriteInputTokens ?? 0),
      cacheWrite1hInputTokens: clampU32(f.usage?.cacheWrite1hInputTokens ?? 0),
      outcome: f.outcome,
      status: f.status,
      errorCode: boundUsageText(f.errorCode, L.errorCode),
      attempts: clampU32(f.attempts ?? 0),
      charges,
    };
  }
}
