/**
 * The gRPC server of the control plane: PolicyService (Subscribe, AcquireGrants, ReleaseGrants, AcquireRateUnits)
 * and UsageService (ReportUsage). Every call must carry the node token.
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  AcquireGrantsResponseSchema,
  AcquireRateUnitsResponseSchema,
  GrantSchema,
  RateUnitGrantSchema,
  Outcome,
  ReleaseGrantsResponseSchema,
  UsageAckSchema,
  UsageSource,
  hasNodeToken,
  policyServiceDefinition,
  usageServiceDefinition,
  type PolicyServiceHandlers,
  type UsageBatch,
  type UsageServiceHandlers,
} from "@tollgate/proto";
import type { Logger } from "pino";
import { MASKED_MESSAGE, toGrpcStatus } from "../error-map.js";
import { badInput, findAppError } from "../errors.js";
import type { LedgerService, UsageIn } from "../services/ledger.service.js";
import type { RateAllocationService } from "../services/rate-allocation.service.js";
import { serveSubscription, type PolicyStreamDeps } from "./policy-stream.server.js";

/** Dependencies of the gRPC server. */
export interface GrpcServerDeps extends PolicyStreamDeps {
  readonly ledger: LedgerService;
  /** Rate-limit units (AcquireRateUnits); absent = UNIMPLEMENTED (nodes keep their shares). */
  readonly rateAllocations?: RateAllocationService;
  readonly nodeToken: string;
  readonly logger: Logger;
  /** Counts ingested usage records (metrics). */
  readonly onUsage?: (accepted: number, duplicates: number) => void;
  /**
   * Fault injection for tests only: runs after a usage batch committed and before its ACK is sent
   * (`TOLLGATE_FAULT_INJECTION=crash-after-usage-commit` makes it kill the process).
   */
  readonly afterUsageCommit?: () => void;
}

/** A started gRPC server. */
export interface GrpcServerHandle {
  readonly address: string;
  close(): Promise<void>;
}

function toServiceError(e: unknown, logger: Logger): Partial<grpc.StatusObject> {
  const app = findAppError(e);
  if (app) return { code: toGrpcStatus(app.code), details: app.publicMessage };
  logger.error({ err: e instanceof Error ? e.message : String(e) }, "gRPC handler failed");
  return { code: grpc.status.INTERNAL, details: MASKED_MESSAGE };
}

const unauthenticated: Partial<grpc.StatusObject> = { code: grpc.status.UNAUTHENTICATED, details: "missing or invalid node token" };

function enumName(table: Record<number, string>, value: number, prefix: string): string {
  const name = table[value];
  return typeof name === "string" ? name.replace(prefix, "") : "UNSPECIFIED";
}

/** Converts a wire usage batch to ingest records; BAD_USER_INPUT when a record lacks its ids. */
export function toUsageRecords(batch: UsageBatch): UsageIn[] {
  return batch.records.map((r) => {
    if (r.requestId === "") throw badInput("usage record without request_id");
    if (r.organizationId === "") throw badInput(`usage record ${r.requestId} without organization_id`);
    return {
      requestId: r.requestId, nodeId: r.nodeId || batch.nodeId, bootId: r.bootId || batch.bootId, sequence: r.sequence, startedAtMs: r.startedAtMs,
      durationMs: r.durationMs, firstByteMs: r.firstByteMs, organizationId: r.organizationId, virtualKeyId: r.virtualKeyId, userId: r.userId,
      teamId: r.teamId, model: r.model, modelId: r.modelId, providerAccountId: r.providerAccountId, upstreamModel: r.upstreamModel, route: r.route,
      stream: r.stream, inputTokens: r.inputTokens, cachedInputTokens: r.cachedInputTokens, outputTokens: r.outputTokens,
      usageSource: enumName(UsageSource, r.usageSource, "USAGE_SOURCE_"), costMicros: r.costMicros,
      outcome: enumName(Outcome, r.outcome, "OUTCOME_"), status: r.status, errorCode: r.errorCode, attempts: r.attempts,
      charges: r.charges.map((c) => ({ budgetId: c.budgetId, windowStartMs: Number(c.windowStartMs), amount: c.amount })),
    };
  });
}

/** Starts the gRPC server on host:port (port 0 = any free port). */
export async function startGrpcServer(host: string, port: number, deps: GrpcServerDeps): Promise<GrpcServerHandle> {
  const { logger, ledger, nodeToken } = deps;
  const server = new grpc.Server({ "grpc.max_send_message_length": 256 * 1024 * 1024, "grpc.keepalive_permit_without_calls": 1 });

  const policy: PolicyServiceHandlers = {
    subscribe: (call) => {
      if (!hasNodeToken(call.metadata, nodeToken)) {
        call.emit("error", unauthenticated);
        return;
      }
      serveSubscription(call, deps);
    },
    acquireGrants: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      const req = call.request;
      ledger
        .acquireGrants({ nodeId: req.nodeId, bootId: req.bootId }, req.requests.map((g) => ({ budgetId: g.budgetId, windowStartMs: Number(g.windowStartMs), needed: g.needed, want: g.want })))
        .then((answers) => callback(null, create(AcquireGrantsResponseSchema, {
          grants: answers.map((a) => create(GrantSchema, {
            budgetId: a.budgetId, windowStartMs: BigInt(a.windowStartMs), grantedTotal: a.grantedTotal, expiresAtMs: BigInt(a.expiresAtMs), exhausted: a.exhausted,
            generation: a.generation, heldElsewhere: a.heldElsewhere,
          })),
        })))
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
    releaseGrants: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      const req = call.request;
      ledger
        .releaseGrants(
          { nodeId: req.nodeId, bootId: req.bootId },
          req.releases.map((r) => ({ budgetId: r.budgetId, windowStartMs: Number(r.windowStartMs), spentTotal: r.spentTotal, expectedGeneration: r.expectedGeneration })),
        )
        .then((r) => callback(null, create(ReleaseGrantsResponseSchema, {
          grants: r.rows.map((a) => create(GrantSchema, {
            budgetId: a.budgetId, windowStartMs: BigInt(a.windowStartMs), grantedTotal: a.grantedTotal, expiresAtMs: BigInt(a.expiresAtMs), exhausted: a.exhausted,
            generation: a.generation, heldElsewhere: a.heldElsewhere,
          })),
        })))
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
    acquireRateUnits: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      const allocations = deps.rateAllocations;
      if (!allocations) return callback({ code: grpc.status.UNIMPLEMENTED, details: "rate-limit units are not served here" });
      const req = call.request;
      allocations
        .acquire(req.requests.map((r) => ({ rateLimitId: r.rateLimitId, windowStartMs: Number(r.windowStartMs), needed: r.needed, want: r.want })), req.connectedNodes)
        .then((answers) => callback(null, create(AcquireRateUnitsResponseSchema, {
          grants: answers.map((a, i) => create(RateUnitGrantSchema, {
            rateLimitId: req.requests[i]?.rateLimitId ?? "", windowStartMs: req.requests[i]?.windowStartMs ?? 0n, granted: a.granted, allocated: a.allocated, limit: a.limit,
          })),
        })))
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
  };

  const usage: UsageServiceHandlers = {
    reportUsage: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      let records: UsageIn[] = [];
      Promise.resolve()
        .then(() => ledger.ingestUsage((records = toUsageRecords(call.request))))
        .then((r) => {
          deps.rateShares?.recordUsage(records);
          deps.afterUsageCommit?.();
          deps.onUsage?.(r.accepted, r.duplicates);
          callback(null, create(UsageAckSchema, { accepted: r.accepted, duplicates: r.duplicates }));
        })
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
  };

  server.addService(policyServiceDefinition, policy);
  server.addService(usageServiceDefinition, usage);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    address: `${host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 300);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
