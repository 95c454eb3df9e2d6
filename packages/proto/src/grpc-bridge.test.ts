import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { createControlPlaneClient, hasNodeToken, policyServiceDefinition, usageServiceDefinition, type ControlPlaneClient, type PolicyServiceHandlers, type UsageServiceHandlers } from "./clients.js";
import {
  PolicyUpdateSchema,
  SubscribeRequestSchema,
  UsageAckSchema,
  UsageBatchSchema,
  UsageRecordSchema,
  AcquireGrantsResponseSchema,
  AcquireRateUnitsResponseSchema,
  BudgetUsageResponseSchema,
  GrantSchema,
  RateUnitGrantSchema,
  ReleaseGrantsResponseSchema,
  type PolicyUpdate,
} from "./gen/tollgate/v1/policy_pb.js";

const TOKEN = "node-token-for-tests";
let server: grpc.Server;
let address: string;

beforeAll(async () => {
  server = new grpc.Server();
  const policy: PolicyServiceHandlers = {
    subscribe(call) {
      if (!hasNodeToken(call.metadata, TOKEN)) {
        call.destroy(Object.assign(new Error("bad token"), { code: grpc.status.UNAUTHENTICATED }));
        return;
      }
      call.on("data", (msg) => {
        if (msg.msg.case === "hello") call.write(create(PolicyUpdateSchema, { version: 1n, nonce: `n-${msg.msg.value.nodeId}`, full: true, hmacPepper: "ff" }));
        if (msg.msg.case === "ack") call.write(create(PolicyUpdateSchema, { version: msg.msg.value.version + 1n, nonce: "after-ack" }));
      });
      call.on("end", () => call.end());
    },
    acquireGrants(call, cb) {
      cb(
        null,
        create(AcquireGrantsResponseSchema, {
          grants: call.request.requests.map((r) => create(GrantSchema, { budgetId: r.budgetId, windowStartMs: r.windowStartMs, grantedTotal: r.want, expiresAtMs: 1n })),
        }),
      );
    },
    releaseGrants(_call, cb) {
      cb(null, create(ReleaseGrantsResponseSchema, {}));
    },
    getBudgetUsage(_call, cb) {
      cb(null, create(BudgetUsageResponseSchema, {}));
    },
    acquireRateUnits(call, cb) {
      cb(
        null,
        create(AcquireRateUnitsResponseSchema, {
          grants: call.request.requests.map((r) => create(RateUnitGrantSchema, { rateLimitId: r.rateLimitId, windowStartMs: r.windowStartMs, granted: r.needed, allocated: r.want, limit: 3 })),
        }),
      );
    },
  };
  const usage: UsageServiceHandlers = {
    reportUsage(call, cb) {
      if (!hasNodeToken(call.metadata, TOKEN)) return cb({ code: grpc.status.UNAUTHENTICATED, details: "bad token" } as grpc.ServiceError);
      cb(null, create(UsageAckSchema, { accepted: call.request.records.length }));
    },
  };
  server.addService(policyServiceDefinition, policy);
  server.addService(usageServiceDefinition, usage);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
});

describe("the grpc-js bridge over protobuf-es", () => {
  let client: ControlPlaneClient;
  beforeAll(() => {
    client = createControlPlaneClient(address, TOKEN);
  });
  afterAll(() => client.close());

  it("carries unary calls with binary messages (bigints intact)", async () => {
    const batch = create(UsageBatchSchema, { nodeId: "n1", records: [create(UsageRecordSchema, { requestId: "req_1", costMicros: 9_007_199_254_740_993n })] });
    const ack = await client.reportUsage(batch, 2_000);
    expect(ack.accepted).toBe(1);
    const grants = await client.acquireGrants(
      {
        $typeName: "tollgate.v1.AcquireGrantsRequest",
        nodeId: "n",
        bootId: "b",
        requests: [{ $typeName: "tollgate.v1.GrantRequest", budgetId: "bgt_1", windowStartMs: 5n, needed: 1n, want: 9_007_199_254_740_993n }],
      },
      2_000,
    );
    expect(grants.grants[0]?.grantedTotal).toBe(9_007_199_254_740_993n);
    const units = await client.acquireRateUnits(
      {
        $typeName: "tollgate.v1.AcquireRateUnitsRequest",
        nodeId: "n",
        bootId: "b",
        connectedNodes: 2,
        requests: [{ $typeName: "tollgate.v1.RateUnitRequest", rateLimitId: "rl_1", windowStartMs: 60_000n, needed: 1, want: 2 }],
      },
      2_000,
    );
    expect(units.grants).toEqual([expect.objectContaining({ rateLimitId: "rl_1", windowStartMs: 60_000n, granted: 1, allocated: 2, limit: 3 })]);
  });

  it("carries a bidirectional stream", async () => {
    const stream = client.subscribe();
    const updates: PolicyUpdate[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on("data", (u: PolicyUpdate) => {
        updates.push(u);
        if (updates.length === 1) stream.write(create(SubscribeRequestSchema, { msg: { case: "ack", value: { $typeName: "tollgate.v1.Ack", version: u.version, nonce: u.nonce, nacks: [] } } }));
        else resolve();
      });
    });
    stream.write(create(SubscribeRequestSchema, { msg: { case: "hello", value: { $typeName: "tollgate.v1.Hello", nodeId: "n1", bootId: "b1", heldVersion: 0n, held: [] } } }));
    await done;
    stream.end();
    expect(updates.map((u) => [u.version, u.nonce])).toEqual([
      [1n, "n-n1"],
      [2n, "after-ack"],
    ]);
    expect(updates[0]?.full).toBe(true);
  });

  it("rejects a wrong node token", async () => {
    const bad = createControlPlaneClient(address, "wrong");
    await expect(bad.reportUsage(create(UsageBatchSchema, {}), 2_000)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    bad.close();
  });
});
