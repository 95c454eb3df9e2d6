/**
 * Test fixtures (used only by `*.test.ts`): loopback gRPC servers playing the control plane's
 * `UsageService` and `PolicyService`.
 */
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import {
  AcquireGrantsResponseSchema,
  BudgetUsageResponseSchema,
  AcquireRateUnitsResponseSchema,
  ReleaseGrantsResponseSchema,
  UsageAckSchema,
  policyServiceDefinition,
  usageServiceDefinition,
  type PolicyServiceHandlers,
  type UsageBatch,
  type UsageServiceHandlers,
} from "@tollgate/proto";
import pino from "pino";

/** A silent logger for tests. */
export const silentLogger = pino({ level: "silent" });

/** A loopback server and its address. */
export interface LoopbackServer {
  readonly address: string;
  close(): Promise<void>;
}

/** Starts a grpc-js server on 127.0.0.1 (port 0 = a free one) with the given services. */
export async function startLoopbackServer(add: (server: grpc.Server) => void, port = 0): Promise<LoopbackServer> {
  const server = new grpc.Server();
  add(server);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    address: `127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 500).unref();
      }),
  };
}

/** A fake UsageService: records every batch; fails while `failing` is true. */
export interface FakeUsageService {
  readonly batches: UsageBatch[];
  failing: boolean;
  /** Called after each accepted batch. */
  onBatch: (batch: UsageBatch) => void;
  handlers: UsageServiceHandlers;
}

/** Creates a fake UsageService. */
export function createFakeUsageService(): FakeUsageService {
  const fake: FakeUsageService = {
    batches: [],
    failing: false,
    onBatch: () => undefined,
    handlers: {
      reportUsage: (call, callback) => {
        if (fake.failing) {
          callback({ code: grpc.status.UNAVAILABLE, details: "down for the test" } as grpc.ServiceError, null);
          return;
        }
        fake.batches.push(call.request);
        fake.onBatch(call.request);
        callback(null, create(UsageAckSchema, { accepted: call.request.records.length, duplicates: 0 }));
      },
    },
  };
  return fake;
}

/** Adds the fake usage service to a server. */
export function addUsageService(server: grpc.Server, fake: FakeUsageService): void {
  server.addService(usageServiceDefinition, fake.handlers);
}

/** Adds a PolicyService whose `subscribe` is given; grants and rate units answer empty. */
export function addPolicyService(server: grpc.Server, subscribe: PolicyServiceHandlers["subscribe"]): void {
  const handlers: PolicyServiceHandlers = {
    subscribe,
    acquireGrants: (_call, callback) => callback(null, create(AcquireGrantsResponseSchema, {})),
    releaseGrants: (_call, callback) => callback(null, create(ReleaseGrantsResponseSchema, {})),
    getBudgetUsage: (_call, callback) => callback(null, create(BudgetUsageResponseSchema, {})),
    acquireRateUnits: (_call, callback) => callback(null, create(AcquireRateUnitsResponseSchema, {})),
  };
  server.addService(policyServiceDefinition, handlers);
}

/** Polls `check` until it is true (or fails after `ms`). */
export async function waitFor(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
