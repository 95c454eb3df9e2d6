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
import { GRANT_RECLAIM_GRACE_MS, type DeadLetterReason, type GrantAnswer, type LedgerService, type UsageIn } from "../services/ledger.service.js";
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

/** Thrown by a handler whose service this replica does not run (answered UNIMPLEMENTED). */
const notServed: Partial<grpc.StatusObject> = { code: grpc.status.UNIMPLEMENTED, details: "rate-limit units are not served here" };

function toServiceError(e: unknown, logger: Logger): Partial<grpc.StatusObject> {
  if (e === notServed) return notServed;
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

  /** A unary handler: the node token checked, `answer`'s result sent, its failure mapped once. */
  const unary =
    <Req, Res>(answer: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      if (!hasNodeToken(call.metadata, nodeToken)) return callback(unauthenticated);
      Promise.resolve()
        .then(() => answer(call.request, call))
        .then((res) => callback(null, res))
        .catch((e: unknown) => callback(toServiceError(e, logger)));
    };
  const toGrants = (answers: readonly GrantAnswer[]) => answers.map((a) => create(GrantSchema, { ...a, windowStartMs: BigInt(a.windowStartMs), expiresAtMs: BigInt(a.expiresAtMs) }));

  const policy: PolicyServiceHandlers = {
    subscribe: (call) => {
      if (!hasNodeToken(call.metadata, nodeToken)) {
        call.emit("error", unauthenticated);
        return;
      }
      serveSubscription(call, deps);
    },
    acquireGrants: unary(async (req) => {
      const asks = req.requests.map((g) => ({ budgetId: g.budgetId, windowStartMs: Number(g.windowStartMs), needed: g.needed, want: g.want }));
      const answers = await ledger.acquireGrants({ nodeId: req.nodeId, bootId: req.bootId }, asks);
      return create(AcquireGrantsResponseSchema, { grants: toGrants(answers) });
    }),
    releaseGrants: unary(async (req) => {
      const releases = req.releases.map((r) => ({ budgetId: r.budgetId, windowStartMs: Number(r.windowStartMs), spentTotal: r.spentTotal, expectedGeneration: r.expectedGeneration }));
      const released = await ledger.releaseGrants({ nodeId: req.nodeId, bootId: req.bootId }, releases);
      return create(ReleaseGrantsResponseSchema, { grants: toGrants(released.rows) });
    }),
    getBudgetUsage: unary(async (req) => {
      const asks = req.budgets.map((b) => ({ budgetId: b.budgetId, windowStartMs: Number(b.windowStartMs) }));
      const rows = await readBudgetUsage(deps.db, asks, deps.now(), deps.reclaimGraceMs ?? GRANT_RECLAIM_GRACE_MS);
      return create(BudgetUsageResponseSchema, {
        usages: rows.map((r) => create(BudgetWindowUsageSchema, { budgetId: r.budgetId, windowStartMs: BigInt(r.windowStartMs), used: r.used, held: r.held })),
      });
    }),
    acquireRateUnits: unary(async (req) => {
      const allocations = deps.rateAllocations;
      if (!allocations) throw notServed;
      const asks = req.requests.map((r) => ({ rateLimitId: r.rateLimitId, windowStartMs: Number(r.windowStartMs), needed: r.needed, want: r.want }));
      const answers = await allocations.acquire(asks, req.connectedNodes);
      return create(AcquireRateUnitsResponseSchema, {
        grants: answers.map((a, i) =>
          create(RateUnitGrantSchema, { rateLimitId: asks[i]?.rateLimitId ?? "", windowStartMs: req.requests[i]?.windowStartMs ?? 0n, granted: a.granted, allocated: a.allocated, limit: a.limit }),
        ),
      });
    }),
  };

  const usage: UsageServiceHandlers = {
    reportUsage: unary(async (req) => {
      const intake: UsageIntake = checkUsageBatch(req);
      const r = await ledger.ingestUsage(intake.records, intake.rejected);
      deps.rateShares?.recordUsage(intake.records);
      deps.afterUsageCommit?.();
      deps.onUsage?.(r.accepted, r.duplicates);
      if (r.deadLettered.length > 0) {
        deps.onDeadLetters?.(r.deadLettered);
        logger.warn({ nodeId: req.nodeId.slice(0, 128), deadLettered: r.deadLettered.length, reasons: [...new Set(r.deadLettered)] }, "usage records dead-lettered");
      }
      // A dead-lettered record is acknowledged: the node must not send it again.
      return create(UsageAckSchema, { accepted: r.accepted, duplicates: r.duplicates });
    }),
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
