import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, splitStatements } from "../db/migrate.js";
import { createIdSource } from "../ids.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { REDACTED, isSecretFieldName, redactAuditValue } from "./audit-redaction.js";
import { MutationRunner } from "./mutation-runner.js";

describe("audit redaction", () => {
  it("redacts secret-named fields and secret-shaped strings, keeps hints, prefixes and ids", () => {
    const secret = `tg_live_${"a".repeat(43)}abcdef`;
    expect(
      redactAuditValue({
        name: "ci",
        apiKey: "sk-live-123",
        apiKeyHint: "sk-...1234",
        secret,
        tokenHash: "ab12",
        prefix: "tg_live_abcd",
        tokenId: "tok_1",
        nested: [{ password: "hunter2", note: `leaked ${secret} here` }],
        privateJwk: "{}",
        limit: 10n,
        gone: null,
      }),
    ).toEqual({
      name: "ci",
      apiKey: REDACTED,
      apiKeyHint: "sk-...1234",
      secret: REDACTED,
      tokenHash: REDACTED,
      prefix: "tg_live_abcd",
      tokenId: "tok_1",
      nested: [{ password: REDACTED, note: `leaked ${REDACTED} here` }],
      privateJwk: REDACTED,
      limit: "10",
      gone: null,
    });
    expect(isSecretFieldName("hmac_pepper")).toBe(true);
    expect(isSecretFieldName("userId")).toBe(false);
  });

  it("splits migrations at semicolons outside $$ bodies", () => {
    expect(splitStatements("-- c\nCREATE TABLE t (a int);\nCREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$;\nSELECT 1")).toEqual([
      "CREATE TABLE t (a int)",
      "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$",
      "SELECT 1",
    ]);
  });
});

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("the audit log on $name", (target) => {
  let tdb: TestDatabase;
  let runner: MutationRunner;

  beforeAll(async () => {
    tdb = await target.open();
    await migrate(tdb.db);
    const now = () => Date.now();
    runner = new MutationRunner({ db: tdb.db, now, newId: createIdSource(now), logger: pino({ level: "silent" }) });
  });

  afterAll(async () => {
    await tdb?.dispose();
  });

  const rows = () => tdb.db.query<{ id: string; action: string; after: Record<string, unknown> | null }>("SELECT id, action, after FROM audit_log ORDER BY id");

  it("writes exactly one redacted row per mutation and refuses a mutation without one or with two", async () => {
    await runner.run({ kind: "platformAdmin" }, false, (m) => m.audit({ organizationId: null, action: "test.one", target: "x", after: { apiKey: "sk-secret-value", apiKeyHint: "sk-...alue" } }));
    expect((await rows()).map((r) => [r.action, r.after])).toEqual([["test.one", { apiKey: REDACTED, apiKeyHint: "sk-...alue" }]]);
    await expect(runner.run({ kind: "platformAdmin" }, false, async () => undefined)).rejects.toThrow(/without an audit row/);
    await expect(
      runner.run({ kind: "platformAdmin" }, false, async (m) => {
        await m.audit({ organizationId: null, action: "test.two", target: "x" });
        await m.audit({ organizationId: null, action: "test.two", target: "x" });
      }),
    ).rejects.toThrow(/exactly one/);
    expect((await rows()).map((r) => r.action)).toEqual(["test.one"]);
  });

  it("cannot be edited or deleted: the database refuses UPDATE, DELETE and TRUNCATE", async () => {
    const [row] = await rows();
    expect(row).toBeDefined();
    await expect(tdb.db.query("UPDATE audit_log SET action = 'forged' WHERE id = $1", [row?.id])).rejects.toThrow(/append-only/);
    await expect(tdb.db.query("DELETE FROM audit_log WHERE id = $1", [row?.id])).rejects.toThrow(/append-only/);
    await expect(tdb.db.query("TRUNCATE audit_log")).rejects.toThrow(/append-only/);
    await expect(
      tdb.db.transaction(async (tx) => {
        await tx.query("UPDATE audit_log SET after = NULL");
      }),
    ).rejects.toThrow(/append-only/);
    expect((await rows()).map((r) => [r.id, r.action])).toEqual([[row?.id, "test.one"]]);
  });
});
