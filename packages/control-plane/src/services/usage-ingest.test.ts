/**
 * Usage ingest with records that cannot be stored, on PGlite and (with DATABASE_URL) PostgreSQL:
 * the check sets them aside with their reason, a record the database refuses is isolated in a
 * savepoint, good records are stored exactly once with ledger and rollups right, replays change
 * nothing, and a failure of the database itself still fails the batch.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { BudgetChargeSchema, UsageBatchSchema, UsageRecordSchema, type UsageRecord } from "@tollgate/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isoOf } from "../db/database.js";
import { migrate } from "../db/migrate.js";
import { checkUsageBatch, usageRecordDefect } from "../grpc/usage-intake.js";
import { listDeadLetters } from "../repositories/usage-dead-letter.repository.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { LedgerService } from "./ledger.service.js";

const T0 = Date.UTC(2030, 0, 15, 12);

function wire(requestId: string, over: Partial<UsageRecord> = {}): UsageRecord {
  const base = create(UsageRecordSchema, {
    requestId,
    nodeId: "node-a",
    bootId: "boot-1",
    sequence: 1n,
    startedAtMs: BigInt(T0),
    durationMs: 5,
    organizationId: "org_1",
    virtualKeyId: "vk_1",
    model: "m",
    modelId: "mdl_1",
    providerAccountId: "pa_1",
    upstreamModel: "m",
    route: "/v1/chat/completions",
    inputTokens: 3,
    outputTokens: 4,
    costMicros: 1n,
    costPicos: 7n,
    status: 200,
    charges: [create(BudgetChargeSchema, { budgetId: "bgt_1", windowStartMs: 0n, amount: 7n })],
  });
  return { ...base, ...over };
}

const POISON: Array<[string, UsageRecord]> = [
  ["invalid_text", wire("req_nul", { model: "gpt-4o-mini\u0000x", status: 404, costMicros: 0n, costPicos: 0n, charges: [] })],
  ["too_long", wire("req_long", { model: "m".repeat(20_000) })],
  ["missing_field", wire("", { model: "no-id" })],
  ["missing_field", wire("req_noorg", { organizationId: "" })],
  ["out_of_range", wire("req_negative", { costMicros: -5n })],
  ["out_of_range", wire("req_sequence", { sequence: 1n << 63n })],
  ["out_of_range", wire("req_status", { status: 70_000 })],
  ["invalid_text", wire("req_charge", { charges: [create(BudgetChargeSchema, { budgetId: "bgt\u0000", amount: 1n })] })],
];

describe("usageRecordDefect", () => {
  it("names the reason of each unstorable record and passes a good one", () => {
    expect(usageRecordDefect(wire("req_ok"))).toBeNull();
    for (const [reason, r] of POISON) expect(usageRecordDefect(r)?.reason, r.requestId).toBe(reason);
    expect(usageRecordDefect(POISON[0]?.[1] as UsageRecord)?.detail).toBe("model contains NUL");
  });
});

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("usage ingest with poisoned records on $name", (target) => {
  let tdb: TestDatabase;
  let ledger: LedgerService;

  beforeAll(async () => {
    tdb = await target.open();
    await migrate(tdb.db);
    const at = isoOf(T0);
    await tdb.db.query("INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ('org_1', 'acme', 'Acme', $1, $1)", [at]);
    await tdb.db.query(
      `INSERT INTO budgets (id, organization_id, scope, scope_id, unit, budget_window, limit_amount, mode, enforcement, created_at, updated_at)
       VALUES ('bgt_1', 'org_1', 'ORGANIZATION', 'org_1', 'USD', 'TOTAL', 1000000, 'HARD', 'STRICT', $1, $1)`,
      [at],
    );
    // A record the check passes but the database refuses: a trigger raises for two model names,
    // one with a data error (the record's fault) and one with a resource error (the database's).
    await tdb.db.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.model = 'refused-by-db' THEN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '22023'; END IF;
        IF NEW.model = 'disk-full' THEN RAISE EXCEPTION 'no space for the test' USING ERRCODE = '53100'; END IF;
        RETURN NEW;
      END $$`);
    await tdb.db.query("CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION refuse_poison()");
    ledger = new LedgerService(tdb.db, () => T0);
  });
  afterAll(async () => {
    await tdb?.dispose();
  });
  beforeEach(async () => {
    for (const t of ["usage_records", "usage_hourly", "budget_usage", "budget_grants", "usage_dead_letters"]) await tdb.db.query(`DELETE FROM ${t}`);
    // node-a holds a grant, so its records' charges count as consumed from it.
    await ledger.acquireGrants({ nodeId: "node-a", bootId: "boot-1" }, [{ budgetId: "bgt_1", windowStartMs: 0, needed: 100n, want: 100n }]);
  });

  const state = async () => {
    const stored = await tdb.db.query<{ request_id: string }>("SELECT request_id FROM usage_records ORDER BY request_id");
    const [used] = await tdb.db.query<{ used: string }>("SELECT COALESCE(SUM(used), 0)::text AS used FROM budget_usage");
    const [rollup] = await tdb.db.query<{ requests: string; cost: string }>("SELECT COALESCE(SUM(requests), 0)::text AS requests, COALESCE(SUM(cost_picos), 0)::text AS cost FROM usage_hourly");
    const [consumed] = await tdb.db.query<{ c: string }>("SELECT COALESCE(SUM(consumed), 0)::text AS c FROM budget_grants");
    return { stored: stored.map((r) => r.request_id), used: used?.used, requests: rollup?.requests, cost: rollup?.cost, consumed: consumed?.c };
  };

  it("stores the good records of a poisoned batch once, dead-letters each bad one once, and a replay changes nothing", async () => {
    const batch = create(UsageBatchSchema, { nodeId: "node-a", bootId: "boot-1", records: [wire("req_good1"), ...POISON.map(([, r]) => r), wire("req_good2")] });
    const intake = checkUsageBatch(batch);
    expect(intake.records.map((r) => r.requestId)).toEqual(["req_good1", "req_good2"]);
    const first = await ledger.ingestUsage(intake.records, intake.rejected);
    expect(first.accepted).toBe(2);
    expect([...first.deadLettered].sort()).toEqual(POISON.map(([reason]) => reason).sort());
    expect(await state()).toEqual({ stored: ["req_good1", "req_good2"], used: "14", requests: "2", cost: "14", consumed: "14" });

    const letters = await listDeadLetters(tdb.db, null, 100);
    expect(letters).toHaveLength(POISON.length);
    // Each kept as received, byte for byte, with storable ids beside it.
    const decoded = letters.map((l) => fromBinary(UsageRecordSchema, l.record));
    for (const [, sent] of POISON) expect(decoded).toContainEqual(sent);
    for (const l of letters) expect({ nodeId: l.nodeId, recordBytes: l.recordBytes }).toEqual({ nodeId: "node-a", recordBytes: l.record.length });
    expect(letters.find((l) => l.requestId === "req_nul")?.detail).toBe("model contains NUL");
    // Pages, newest first, follow each other without overlap.
    const page1 = await listDeadLetters(tdb.db, null, 3);
    const page2 = await listDeadLetters(tdb.db, page1.at(-1)?.id ?? null, 100);
    expect([...page1, ...page2].map((l) => l.id)).toEqual(letters.map((l) => l.id));
    expect(letters.map((l) => l.id)).toEqual([...letters.map((l) => l.id)].sort().reverse());

    // The node sends the same batch again (its ACK was lost): nothing is stored or dead-lettered twice.
    const again = checkUsageBatch(batch);
    const replay = await ledger.ingestUsage(again.records, again.rejected);
    expect(replay).toEqual({ accepted: 0, duplicates: 2, deadLettered: [] });
    expect(await state()).toEqual({ stored: ["req_good1", "req_good2"], used: "14", requests: "2", cost: "14", consumed: "14" });
    expect(await listDeadLetters(tdb.db, null, 100)).toHaveLength(POISON.length);
  });

  it("isolates a record the database refuses inside a savepoint: the others are stored once, ledger and rollups right", async () => {
    const batch = create(UsageBatchSchema, { nodeId: "node-a", bootId: "boot-1", records: [wire("req_a"), wire("req_db", { model: "refused-by-db" }), wire("req_b")] });
    const intake = checkUsageBatch(batch);
    expect(intake.rejected).toEqual([]);
    const r = await ledger.ingestUsage(intake.records, intake.rejected);
    expect(r).toEqual({ accepted: 2, duplicates: 0, deadLettered: ["store_failed"] });
    expect(await state()).toEqual({ stored: ["req_a", "req_b"], used: "14", requests: "2", cost: "14", consumed: "14" });
    const [letter] = await listDeadLetters(tdb.db, null, 10);
    expect(letter).toMatchObject({ reason: "store_failed", requestId: "req_db", organizationId: "org_1" });
    expect(letter?.detail).toMatch(/^22023: .*refused for the test/);
    expect(fromBinary(UsageRecordSchema, letter?.record ?? new Uint8Array()).model).toBe("refused-by-db");

    const replay = await ledger.ingestUsage(checkUsageBatch(batch).records);
    expect(replay).toEqual({ accepted: 0, duplicates: 2, deadLettered: [] });
    expect(await state()).toEqual({ stored: ["req_a", "req_b"], used: "14", requests: "2", cost: "14", consumed: "14" });
  });

  it("fails the whole batch when the database itself fails, storing nothing (the node sends it again)", async () => {
    const intake = checkUsageBatch(create(UsageBatchSchema, { nodeId: "node-a", bootId: "boot-1", records: [wire("req_x"), wire("req_full", { model: "disk-full" })] }));
    await expect(ledger.ingestUsage(intake.records, intake.rejected)).rejects.toMatchObject({ code: "53100" });
    expect(await state()).toEqual({ stored: [], used: "0", requests: "0", cost: "0", consumed: "0" });
    expect(await listDeadLetters(tdb.db, null, 10)).toEqual([]);
  });

  it("reads a record from a node before pico-dollars (cost_micros only) in micro-dollars: cost and USD charges scaled by 10^6", async () => {
    const legacy = wire("req_legacy", { costMicros: 7n, costPicos: 0n });
    const intake = checkUsageBatch(create(UsageBatchSchema, { nodeId: "node-a", bootId: "boot-1", records: [legacy, wire("req_new")] }));
    expect(intake.rejected).toEqual([]);
    await ledger.ingestUsage(intake.records, intake.rejected);
    expect(await state()).toEqual({ stored: ["req_legacy", "req_new"], used: "7000007", requests: "2", cost: "7000007", consumed: "7000007" });
    const [row] = await tdb.db.query<{ cost_picos: string; charges: Array<{ amount: string }> }>("SELECT cost_picos::text, charges FROM usage_records WHERE request_id = 'req_legacy'");
    expect([row?.cost_picos, row?.charges[0]?.amount]).toEqual(["7000000", "7000000"]);
  });
});
