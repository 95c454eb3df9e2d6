import { create } from "@bufbuild/protobuf";
import { BudgetLedger, windowStartOf } from "@tollgate/policy";
import { AcquireGrantsResponseSchema, GrantSchema, ReleaseGrantsResponseSchema, policyServiceDefinition, type AcquireGrantsRequest, type ReleaseGrantsRequest } from "@tollgate/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneLink } from "./control-plane-link.js";
import { GrantManager } from "./grant-manager.js";
import { silentLogger, startLoopbackServer } from "./grpc.fixture.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";

describe("GrantManager against a loopback PolicyService", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("acquires shortfalls into the ledger, renews in the background, and releases spent totals on close", async () => {
    const now = Date.UTC(2030, 0, 15, 12);
    const acquired: AcquireGrantsRequest[] = [];
    const released: ReleaseGrantsRequest[] = [];
    const totals = new Map<string, bigint>();
    const server = await startLoopbackServer((s) =>
      s.addService(policyServiceDefinition, {
        subscribe: () => undefined,
        acquireGrants: (call: { request: AcquireGrantsRequest }, cb: (e: null, r: unknown) => void) => {
          acquired.push(call.request);
          const grants = call.request.requests.map((r) => {
            const total = (totals.get(r.budgetId) ?? 0n) + r.want;
            totals.set(r.budgetId, total);
            return create(GrantSchema, { budgetId: r.budgetId, windowStartMs: r.windowStartMs, grantedTotal: total, expiresAtMs: BigInt(now + 300_000), exhausted: false });
          });
          cb(null, create(AcquireGrantsResponseSchema, { grants }));
        },
        releaseGrants: (call: { request: ReleaseGrantsRequest }, cb: (e: null, r: unknown) => void) => {
          released.push(call.request);
          cb(null, create(ReleaseGrantsResponseSchema, {}));
        },
      }),
    );
    cleanups.push(() => server.close());
    const link = createControlPlaneLink([server.address], "tok");
    cleanups.push(async () => link.close());
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(buildPolicyFixture("http://127.0.0.1:9/v1").snapshot));
    store.setConnected(true);
    const ledger = new BudgetLedger();
    const manager = new GrantManager({ ledger, link, store, nodeId: "n1", bootId: "b1", now: () => now, logger: silentLogger, timeoutMs: 2_000 });

    const windowStart = windowStartOf("DAY", now);
    const ok = await manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 100n, upperBound: 150n }]);
    expect(ok).toBe(true);
    expect(acquired[0]?.requests[0]).toMatchObject({ budgetId: "bgt_usd", needed: 100n, want: 600n });
    expect(acquired[0]?.nodeId).toBe("n1");
    expect(ledger.available("bgt_usd", windowStart, now)).toBe(600n);
    expect(ledger.entries()[0]?.windowEnd).toBe(windowStart + 86_400_000);

    // Spend most of it: the background round tops it up.
    const reservation = ledger.reserve([{ budgetId: "bgt_usd", unit: "USD", windowStart, amount: 500n }], now);
    expect(reservation).not.toBeNull();
    ledger.settle(reservation!, [{ budgetId: "bgt_usd", windowStart, amount: 450n }], now);
    await manager.renewOnce();
    expect(acquired).toHaveLength(2);
    expect(acquired[1]?.requests[0]?.needed).toBe(0n);
    expect(ledger.available("bgt_usd", windowStart, now)).toBeGreaterThan(150n);

    await manager.close();
    expect(released[0]?.releases).toEqual([expect.objectContaining({ budgetId: "bgt_usd", windowStartMs: BigInt(windowStart), spentTotal: 450n })]);
  });

  it("reports failure when the control plane cannot be reached", async () => {
    const link = createControlPlaneLink(["127.0.0.1:1"], "tok");
    cleanups.push(async () => link.close());
    const store = new PolicyStore();
    const manager = new GrantManager({ ledger: new BudgetLedger(), link, store, nodeId: "n1", bootId: "b1", now: Date.now, logger: silentLogger, timeoutMs: 300 });
    expect(manager.reachable()).toBe(false);
    expect(await manager.acquire([{ budgetId: "bgt_usd", windowStart: 0, needed: 1n, upperBound: 1n }])).toBe(false);
  });
});
