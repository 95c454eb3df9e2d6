import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isoOf } from "../db/database.js";
import { migrate } from "../db/migrate.js";
import { findGrant } from "../repositories/grant.repository.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { LedgerService, type UsageIn } from "./ledger.service.js";

const T0 = Date.UTC(2030, 0, 15, 12);
const TTL = 10_000;
const GRACE = 5_000;
const A = { nodeId: "node-a", bootId: "boot-1" };
const B = { nodeId: "node-b", bootId: "boot-1" };

function usage(requestId: string, holder: { nodeId: string; bootId: string }, amount: bigint): UsageIn {
  return {
    requestId,
    nodeId: holder.nodeId,
    bootId: holder.bootId,
    sequence: 1n,
    startedAtMs: BigInt(T0),
    durationMs: 5,
    firstByteMs: 1,
    organizationId: "org_1",
    virtualKeyId: "vk_1",
    userId: "",
    teamId: "",
    model: "m",
    modelId: "mdl_1",
    providerAccountId: "pa_1",
    upstreamModel: "m",
    route: "/v1/chat/completions",
    stream: false,
    inputTokens: 1,
    cachedInputTokens: 0,
    outputTokens: 1,
    usageSource: "PROVIDER",
    costPicos: amount,
    outcome: "SUCCESS",
    status: 200,
    errorCode: "",
    charges: [{ budgetId: "bgt_1", windowStartMs: 0, amount }],
  };
}

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("leases on $name", (target) => {
  let tdb: TestDatabase;
  let now = T0;
  let ledger: LedgerService;

  beforeAll(async () => {
    tdb = await target.open();
    await migrate(tdb.db);
    const at = isoOf(T0);
    await tdb.db.query("INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ('org_1', 'acme', 'Acme', $1, $1)", [at]);
    await tdb.db.query(
      `INSERT INTO budgets (id, organization_id, scope, scope_id, unit, budget_window, limit_amount, mode, enforcement, created_at, updated_at)
       VALUES ('bgt_1', 'org_1', 'ORGANIZATION', 'org_1', 'REQUESTS', 'TOTAL', 100, 'HARD', 'STRICT', $1, $1)`,
      [at],
    );
    ledger = new LedgerService(tdb.db, () => now, { grantTtlMs: TTL, reclaimGraceMs: GRACE });
  });
  afterAll(async () => {
    await tdb?.dispose();
  });

  const ask = (needed: bigint, want: bigint) => [{ budgetId: "bgt_1", windowStartMs: 0, needed, want }];

  it("grants with generations, shrinks to the need in the tail, and holds an expired grant until expiry + grace", async () => {
    const [a1] = await ledger.acquireGrants(A, ask(10n, 40n));
    expect(a1).toMatchObject({ grantedTotal: 40n, exhausted: false, generation: 1n, expiresAtMs: T0 + TTL });
    // B wants 80 of the 60 free: tail mode gives it exactly what it needs.
    const [b1] = await ledger.acquireGrants(B, ask(5n, 80n));
    expect(b1).toMatchObject({ grantedTotal: 5n, exhausted: true, generation: 1n });
    // A spends 10 and reports it; then A dies (no release). 30 stay outstanding past expiry, until grace ends.
    await ledger.ingestUsage([usage("req_a1", A, 10n)]);
    now = T0 + TTL + GRACE - 1;
    const [b2] = await ledger.acquireGrants(B, ask(100n, 100n));
    expect(b2?.grantedTotal).toBe(5n + 100n - 10n - 30n - 5n); // free = limit - used - A's 30 - B's own 5
    now = T0 + TTL + GRACE;
    const [b3] = await ledger.acquireGrants(B, ask(100n, 100n));
    // A's 30 were reclaimed: free = 100 - used 10 - B's own 60 = 30, so B now holds 90.
    expect(b3).toMatchObject({ grantedTotal: 90n, exhausted: true });
    // A's late record (spent before its expiry) still counts.
    await ledger.ingestUsage([usage("req_a2", A, 3n), usage("req_a2", A, 3n)]);
    expect((await findGrant(tdb.db, "bgt_1", 0, "node-a/boot-1"))?.consumed).toBe(13n);
  });

  it("releases only at the expected generation (0 = unconditional), never above what was granted", async () => {
    const before = await findGrant(tdb.db, "bgt_1", 0, "node-b/boot-1");
    expect(before).not.toBeNull();
    expect(await ledger.releaseGrants(B, [{ budgetId: "bgt_1", windowStartMs: 0, spentTotal: 1n, expectedGeneration: (before?.generation ?? 0n) + 5n }])).toMatchObject({ changed: 0 });
    expect((await findGrant(tdb.db, "bgt_1", 0, "node-b/boot-1"))?.granted).toBe(before?.granted);
    expect(await ledger.releaseGrants(B, [{ budgetId: "bgt_1", windowStartMs: 0, spentTotal: 7n, expectedGeneration: before?.generation ?? 0n }])).toMatchObject({
      changed: 1,
      rows: [{ grantedTotal: 7n }],
    });
    const after = await findGrant(tdb.db, "bgt_1", 0, "node-b/boot-1");
    expect(after).toMatchObject({ granted: 7n, generation: (before?.generation ?? 0n) + 1n });
    expect(await ledger.releaseGrants(B, [{ budgetId: "bgt_1", windowStartMs: 0, spentTotal: 500n }])).toMatchObject({ changed: 1 });
    expect((await findGrant(tdb.db, "bgt_1", 0, "node-b/boot-1"))?.granted).toBe(7n);
  });
});
