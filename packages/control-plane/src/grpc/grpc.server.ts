/**
 * The gRPC server of the control plane: PolicyService (Subscribe, AcquireGrants, ReleaseGrants,
 * GetBudgetUsage, AcquireRateUnits) and UsageService (ReportUsage). Every call must carry the node
 * token. Plaintext by default (a warning when bound beyond loopback); TLS, optionally mutual, when
 * `tls` is given.
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  AcquireGrantsResponseSchema,
  AcquireRateUnitsResponseSchema,
  BudgetUsageResponseSchema,
  BudgetWindowUsageSchema,
  GrantSchema,
  RateUnitGrantSchema,
  ReleaseGrantsResponseSchema,
  UsageAckSchema,
  hasNodeToken,
  policyServiceDefinition,
  usageServiceDefinition,
  type PolicyServiceHandlers,
  type ServerTlsSettings,
  type UsageBatch,
  type UsageServiceHandlers,
} from "@tollgate/proto";
import type { Logger } from "pino";
import { MASKED_MESSAGE, toGrpcStatus } from "../error-map.js";
import { findAppError } from "../errors.js";
import { readBudgetUsage } from "../services/budget-usage.service.js";
import { GRANT_RECLAIM_GRACE_MS, type DeadLetterReason, type LedgerService, type UsageIn } from "../services/ledger.service.js";
import type { RateAllocationService } from "../services/rate-allocation.service.js";
import { listenGrpcTls, type GrpcTlsListener } from "./grpc-tls.server.js";
import { checkUsageBatch, type UsageIntake } from "./usage-intake.js";
import { serveSubscription, type PolicyStreamDeps } from "./policy-stream.server.js";

/** Dependencies of the gRPC server. */
export interface GrpcServerDeps extends PolicyStreamDeps {
  readonly ledger: LedgerService;
  /** Rate-limit units (AcquireRateUnits); absent = UNIMPLEMENTED (nodes keep their shares). */
  readonly rateAllocations?: RateAllocationService;
  readonly nodeToken: string;
  readonly logger: Logger;
  /** TLS (mutual when it has a client CA); null or absent = plaintext. */
  readonly tls?: ServerTlsSettings | null;
  /** Counts ingested usage records (metrics). */
  readonly onUsage?: (accepted: number, duplicates: number) => void;
  /** How long expired grants still count as outstanding in usage views (the ledger's reclaim grace). */
  readonly reclaimGraceMs?: number;
  /** Counts usage records dead-lettered now, one reason each (metrics). */
  readonly onDeadLetters?: (reasons: readonly DeadLetterReason[]) => void;
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

/** Converts a wire usage batch to ingest records, leaving out records that cannot be stored (see `checkUsageBatch`). */
export function toUsageRecords(batch: UsageBatch): UsageIn[] {
  return checkUsageBatch(batch).records;
}

/** True for an interface only this machine reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
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
        .acquireGrants(
          { nodeId: req.nodeId, bootId: req.bootId },
          req.requests.map((g) => ({ budgetId: g.budgetId, windowStartMs: Number(g.windowStartMs), needed: g.needed, want: g.want })),
        )
        .then((answers) =>
          callback(
            null,
            create(AcquireGrantsResponseSchema, {
              grants: answers.map((a) =>
                create(GrantSchema, {
                  budgetId: a.budgetId,
                  windowStartMs: BigInt(a.windowStartMs),
                  grantedTotal: a.grantedTotal,
                  expiresAtMs: BigInt(a.expiresAtMs),
                  exhausted: a.exhausted,
                  generation: a.generation,
                  heldElsewhere: a.heldElsewhere,
                }),
              ),
            }),
          ),
        )
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
        .then((r) =>
          callback(
            null,
            create(ReleaseGrantsResponseSchema, {
              grants: r.rows.map((a) =>
                create(GrantSchema, {
                  budgetId: a.budgetId,
                  windowStartMs: BigInt(a.windowStartMs),
                  grantedTotal: a.grantedTotal,
                  expiresAtMs: BigInt(a.expiresAtMs),
                  exhausted: a.exhausted,
                  generation: a.generation,
                  heldElsewhere: a.heldElsewhere,
                }),
              ),
            }),
          ),
        )
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
    getBudgetUsage: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      const asks = call.request.budgets.map((b) => ({ budgetId: b.budgetId, windowStartMs: Number(b.windowStartMs) }));
      readBudgetUsage(deps.db, asks, deps.now(), deps.reclaimGraceMs ?? GRANT_RECLAIM_GRACE_MS)
        .then((rows) =>
          callback(
            null,
            create(BudgetUsageResponseSchema, {
              usages: rows.map((r) => create(BudgetWindowUsageSchema, { budgetId: r.budgetId, windowStartMs: BigInt(r.windowStartMs), used: r.used, held: r.held })),
            }),
          ),
        )
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
    acquireRateUnits: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      const allocations = deps.rateAllocations;
      if (!allocations) return callback({ code: grpc.status.UNIMPLEMENTED, details: "rate-limit units are not served here" });
      const req = call.request;
      allocations
        .acquire(
          req.requests.map((r) => ({ rateLimitId: r.rateLimitId, windowStartMs: Number(r.windowStartMs), needed: r.needed, want: r.want })),
          req.connectedNodes,
        )
        .then((answers) =>
          callback(
            null,
            create(AcquireRateUnitsResponseSchema, {
              grants: answers.map((a, i) =>
                create(RateUnitGrantSchema, {
                  rateLimitId: req.requests[i]?.rateLimitId ?? "",
                  windowStartMs: req.requests[i]?.windowStartMs ?? 0n,
                  granted: a.granted,
                  allocated: a.allocated,
                  limit: a.limit,
                }),
              ),
            }),
          ),
        )
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
  };

  const usage: UsageServiceHandlers = {
    reportUsage: (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      let intake: UsageIntake = { records: [], rejected: [] };
      Promise.resolve()
        .then(() => ledger.ingestUsage((intake = checkUsageBatch(call.request)).records, intake.rejected))
        .then((r) => {
          deps.rateShares?.recordUsage(intake.records);
          deps.afterUsageCommit?.();
          deps.onUsage?.(r.accepted, r.duplicates);
          if (r.deadLettered.length > 0) {
            deps.onDeadLetters?.(r.deadLettered);
            logger.warn({ nodeId: call.request.nodeId.slice(0, 128), deadLettered: r.deadLettered.length, reasons: [...new Set(r.deadLettered)] }, "usage records dead-lettered");
          }
          // A dead-lettered record is acknowledged: the node must not send it again.
          callback(null, create(UsageAckSchema, { accepted: r.accepted, duplicates: r.duplicates }));
        })
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    },
  };

  server.addService(policyServiceDefinition, policy);
  server.addService(usageServiceDefinition, usage);
  let tlsListener: GrpcTlsListener | null = null;
  let bound: number;
  if (deps.tls) {
    tlsListener = await listenGrpcTls(server, host, port, deps.tls, logger);
    bound = tlsListener.port;
    logger.info({ mutualTls: deps.tls.clientCa !== null }, "gRPC server uses TLS");
  } else {
    bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    if (!isLoopbackHost(host))
      logger.warn({ host }, "gRPC server is plaintext on a non-loopback interface: provider credentials cross the network unencrypted (set TOLLGATE_GRPC_TLS_CERT and TOLLGATE_GRPC_TLS_KEY)");
  }
  const hostForAddress = host.includes(":") ? `[${host}]` : host;
  return {
    address: `${hostForAddress}:${bound}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 300);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await tlsListener?.close();
    },
  };
}
