import { create } from "@bufbuild/protobuf";
import { applyGrantToRow, applyReleaseToRow, BudgetLedger, countedOutstanding, sizeGrant, windowStartOf, type LeaseRow } from "@tollgate/policy";
import { AcquireGrantsResponseSchema, GrantSchema, ReleaseGrantsResponseSchema, policyServiceDefinition, type AcquireGrantsRequest, type ReleaseGrantsRequest } from "@tollgate/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneLink } from "./control-plane-link.js";
import { GrantManager } from "./grant-manager.js";
import { silentLogger, startLoopbackServer } from "./grpc.fixture.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";

const NOW = Date.UTC(2030, 0, 15, 12);
const TTL = 60_000;

/** A PolicyService that follows the control plane's lease rules (lease.ts) for one budget limit table. */
async function startLeaseServer(limits: Map<string, bigint>) {
  const rows = new Map<string, LeaseRow>();
  const acquired: AcquireGrantsRequest[] = [];
  const released: ReleaseGrantsRequest[] = [];
  const server = await startLoopbackServer((s) =>
    s.addService(policyServiceDefinition, {
      subscribe: () => undefined,
      acquireGrants: (call: { request: AcquireGrantsRequest }, cb: (e: null, r: unknown) => void) => {
        acquired.push(call.request);
        const grants = call.request.requests.map((r) => {
          const key = `${r.budgetId}@${r.windowStartMs}/${call.request.nodeId}`;
          const others = [...rows].filter(([k]) => k.startsWith(`${r.budgetId}@${r.windowStartMs}/`) && k !== key).reduce((s, [, row]) => s + countedOutstanding(row, NOW, 0), 0n);
          const mine = rows.get(key);
          const { amount, exhausted } = sizeGrant((limits.get(r.budgetId) ?? 0n) - others - (mine ? countedOutstanding(mine, NOW, 0) : 0n), r.needed, r.want);
          const row = applyGrantToRow(rows.get(key) ?? null, amount, NOW + TTL, NOW, 0);
          rows.set(key, row);
          return create(GrantSchema, {
            budgetId: r.budgetId,
            windowStartMs: r.windowStartMs,
            grantedTotal: row.granted,
            expiresAtMs: BigInt(row.expiresAtMs),
            exhausted,
            generation: row.generation,
            heldElsewhere: others,
          });
        });
        cb(null, create(AcquireGrantsResponseSchema, { grants }));
      },
      releaseGrants: (call: { request: ReleaseGrantsRequest }, cb: (e: null, r: unknown) => void) => {
        released.push(call.request);
        const grants = call.request.releases.map((r) => {
          const key = `${r.budgetId}@${r.windowStartMs}/${call.request.nodeId}`;
          const row = rows.get(key);
          if (row) rows.set(key, applyReleaseToRow(row, r.spentTotal, r.expectedGeneration));
          const after = rows.get(key);
          return create(GrantSchema, {
            budgetId: r.budgetId,
            windowStartMs: r.windowStartMs,
            grantedTotal: after?.granted ?? 0n,
            expiresAtMs: BigInt(after?.expiresAtMs ?? 0),
            generation: after?.generation ?? 0n,
          });
        });
        cb(null, create(ReleaseGrantsResponseSchema, { grants }));
      },
    }),
  );
  return { server, rows, acquired, released };
}

describe("GrantManager leases", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(limits: Map<string, bigint>, idle = { idleMs: 15_000, tailIdleMs: 500 }, shared?: Awaited<ReturnType<typeof startLeaseServer>>, nodeId = "n1") {
    const cp = shared ?? (await startLeaseServer(limits));
    if (!shared) cleanups.push(() => cp.server.close());
    const link = createControlPlaneLink([cp.server.address], "tok");
    cleanups.push(async () => link.close());
    const fixture = buildPolicyFixture("http://127.0.0.1:9/v1");
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    store.setConnected(true);
    const ledger = new BudgetLedger();
    let now = NOW;
    const manager = new GrantManager({ ledger, link, store, nodeId, bootId: "b1", now: () => now, logger: silentLogger, timeoutMs: 2_000, idleRelease: idle });
    return { cp, store, ledger, manager, fixture, advance: (ms: number) => (now += ms), now: () => now };
  }

  it("sums the shortfalls that arrive during a call into one next call", async () => {
    const { cp, manager, ledger } = await setup(new Map([["bgt_usd", 100_000n]]));
    const windowStart = windowStartOf("DAY", NOW);
    const s = { budgetId: "bgt_usd", windowStart, needed: 100n, upperBound: 100n };
    const results = await Promise.all(Array.from({ length: 10 }, () => manager.acquire([s])));
    expect(results.every(Boolean)).toBe(true);
    expect(cp.acquired).toHaveLength(2);
    expect(cp.acquired[1]?.requests[0]?.needed).toBe(900n);
    expect(ledger.available("bgt_usd", windowStart, NOW)).toBeGreaterThanOrEqual(1_000n);
    // Answers carry generations; the node keeps a margin before the control plane's expiry.
    expect(ledger.entries()[0]).toMatchObject({ generation: 2n, expiresAt: NOW + TTL - 1_000 });
  });

  it("releases an idle grant conditionally on its generation, keeping what was spent", async () => {
    const { cp, manager, ledger, advance, now } = await setup(new Map([["bgt_usd", 100_000n]]), { idleMs: 5_000, tailIdleMs: 100 });
    const windowStart = windowStartOf("DAY", NOW);
    await manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 200n, upperBound: 200n }]);
    const r = ledger.reserve([{ budgetId: "bgt_usd", unit: "USD", windowStart, amount: 200n }], now());
    ledger.settle(r!, [{ budgetId: "bgt_usd", windowStart, amount: 150n }], now());
    advance(5_000);
    await manager.renewOnce();
    expect(cp.released[0]?.releases[0]).toMatchObject({ spentTotal: 150n, expectedGeneration: 1n });
    expect(ledger.available("bgt_usd", windowStart, now())).toBe(0n);
    expect(cp.rows.get(`bgt_usd@${windowStart}/n1`)?.granted).toBe(150n);
  });

  it("drops and releases the grants of a budget whose limit changed, then re-acquires under the new limit", async () => {
    const limits = new Map([["bgt_usd", 100_000n]]);
    const { cp, manager, ledger, store, fixture } = await setup(limits);
    const windowStart = windowStartOf("DAY", NOW);
    await manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 1_000n, upperBound: 1_000n }]);
    expect(ledger.available("bgt_usd", windowStart, NOW)).toBe(4_000n);
    limits.set("bgt_usd", 500n);
    const lowered = { ...fixture.snapshot, version: 2n, budgets: fixture.snapshot.budgets.map((b) => (b.id === "bgt_usd" ? { ...b, limit: 500n } : b)) };
    store.applyUpdate(toFullUpdate(lowered, "n2"));
    expect(ledger.available("bgt_usd", windowStart, NOW)).toBe(0n);
    await manager.renewOnce();
    await new Promise((r) => setTimeout(r, 50));
    // Unconditional: until the control plane confirms, the node applies no answer that would grow its grant.
    expect(cp.released.at(-1)?.releases[0]).toMatchObject({ spentTotal: 0n, expectedGeneration: 0n });
    expect(cp.rows.get(`bgt_usd@${windowStart}/n1`)?.granted).toBe(0n);
    expect(await manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 300n, upperBound: 300n }])).toBe(true);
    expect(ledger.available("bgt_usd", windowStart, NOW)).toBe(300n); // tail: exactly the need, never past the new limit
    expect(ledger.isExhausted("bgt_usd", windowStart)).toBe(true);
  });

  it("in the tail, waits for budget another node gives back instead of refusing at once", async () => {
    const limits = new Map([["bgt_usd", 1_000n]]);
    const a = await setup(limits, { idleMs: 15_000, tailIdleMs: 0 });
    const b = await setup(limits, { idleMs: 15_000, tailIdleMs: 0 }, a.cp, "n2");
    const windowStart = windowStartOf("DAY", NOW);
    // Node A takes the whole budget for requests in flight, then they settle cheaper than held.
    await a.manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 1_000n, upperBound: 1_000n }]);
    const held = a.ledger.reserve([{ budgetId: "bgt_usd", unit: "USD", windowStart, amount: 1_000n }], NOW);
    expect(held).not.toBeNull();
    const waiting = b.manager.acquire([{ budgetId: "bgt_usd", windowStart, needed: 300n, upperBound: 300n }]);
    await new Promise((r) => setTimeout(r, 150));
    a.ledger.settle(held!, [{ budgetId: "bgt_usd", windowStart, amount: 600n }], NOW);
    await a.manager.releaseTailOnce();
    expect(await waiting).toBe(true);
    expect(b.ledger.available("bgt_usd", windowStart, NOW)).toBe(300n);
    expect(a.cp.acquired.filter((r) => r.nodeId === "n2").length).toBeGreaterThan(1);
  });
});
