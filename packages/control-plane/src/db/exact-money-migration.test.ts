/**
 * Migration 012 (exact money) on a database holding rows written in micro-dollars: every USD
 * amount becomes pico-dollars (x 10^6), TOKENS and REQUESTS amounts stay, sums become numeric.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { isoOf } from "./database.js";
import { listMigrations, migrate } from "./migrate.js";

const T0 = Date.UTC(2030, 0, 15, 12);

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("migration 012 on $name", (target) => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await target.open();
    await migrate(
      tdb.db,
      listMigrations().filter((m) => m.version < 12),
    );
    const at = isoOf(T0);
    const q = (sql: string, params: unknown[] = []) => tdb.db.query(sql, params);
    await q("INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ('org_1', 'acme', 'Acme', $1, $1)", [at]);
    const budget = `INSERT INTO budgets (id, organization_id, scope, scope_id, unit, budget_window, limit_amount, mode, enforcement, created_at, updated_at)
      VALUES ($1, 'org_1', 'ORGANIZATION', 'org_1', $2, $3, $4, 'HARD', 'STRICT', $5, $5)`;
    await q(budget, ["bgt_usd", "USD", "MONTH", "50000000", at]); // $50
    await q(budget, ["bgt_big", "USD", "TOTAL", "9000000000000000", at]); // $9,000,000,000: above the new maximum
    await q(budget, ["bgt_tok", "TOKENS", "DAY", "1000000", at]);
    await q(
      `INSERT INTO usage_records (request_id, node_id, boot_id, sequence, started_at_ms, duration_ms, first_byte_ms, organization_id, virtual_key_id,
         user_id, team_id, model, model_id, provider_account_id, upstream_model, route, stream, input_tokens, cached_input_tokens, output_tokens,
         usage_source, cost_micros, outcome, status, error_code, charges, received_at)
       VALUES ('req_1', 'n', 'b', 1, $1, 5, 1, 'org_1', 'vk_1', '', '', 'm', 'mdl_1', 'pa_1', 'm', '/v1/chat/completions', false, 7, 0, 20,
         'PROVIDER', 14, 'SUCCESS', 200, '', $2::jsonb, $3)`,
      [
        T0,
        JSON.stringify([
          { budgetId: "bgt_usd", windowStartMs: "0", amount: "14" },
          { budgetId: "bgt_tok", windowStartMs: "0", amount: "27" },
          { budgetId: "bgt_gone", windowStartMs: "0", amount: "5" },
        ]),
        at,
      ],
    );
    await q(
      `INSERT INTO usage_hourly (organization_id, hour_start_ms, virtual_key_id, user_id, team_id, model, provider_account_id, requests, blocked, input_tokens, cached_input_tokens, output_tokens, cost_micros)
       VALUES ('org_1', $1, 'vk_1', '', '', 'm', 'pa_1', 100, 0, 700, 0, 2000, 9000000000000000000)`,
      [T0],
    );
    await q("INSERT INTO budget_usage (budget_id, window_start_ms, used) VALUES ('bgt_usd', 0, 1400), ('bgt_tok', 0, 2700)");
    await q("INSERT INTO budget_grants (budget_id, window_start_ms, holder, granted, consumed, expires_at_ms) VALUES ('bgt_usd', 0, 'n/b', 3000, 1400, $1), ('bgt_tok', 0, 'n/b', 5000, 2700, $1)", [
      T0,
    ]);
    await q(
      `INSERT INTO budget_alerts (id, organization_id, budget_id, window_start_ms, threshold_percent, used, limit_amount, created_at)
       VALUES ('alr_1', 'org_1', 'bgt_usd', 0, 50, 25000000, 50000000, $1), ('alr_2', 'org_1', 'bgt_tok', 0, 50, 500000, 1000000, $1)`,
      [at],
    );
    expect(await migrate(tdb.db)).toEqual(
      listMigrations()
        .filter((m) => m.version >= 12)
        .map((m) => m.name),
    );
  }, 60_000);
  afterAll(async () => {
    await tdb?.dispose();
  });

  const one = async (sql: string): Promise<Record<string, unknown>> => (await tdb.db.query<Record<string, unknown>>(sql))[0] ?? {};

  it("turns USD budget limits into pico-dollars, capped at $9,000,000; other units stay", async () => {
    const rows = await tdb.db.query<{ id: string; limit_amount: unknown }>("SELECT id, limit_amount::text AS limit_amount FROM budgets ORDER BY id");
    expect(rows.map((r) => [r.id, r.limit_amount])).toEqual([
      ["bgt_big", "9000000000000000000"],
      ["bgt_tok", "1000000"],
      ["bgt_usd", "50000000000000"],
    ]);
  });

  it("moves a usage record's cost to cost_picos and scales only its USD charges", async () => {
    const r = await one("SELECT cost_picos::text AS cost, charges FROM usage_records WHERE request_id = 'req_1'");
    expect(r.cost).toBe("14000000");
    expect(r.charges).toEqual([
      { budgetId: "bgt_usd", windowStartMs: "0", amount: "14000000" },
      { budgetId: "bgt_tok", windowStartMs: "0", amount: "27" },
      { budgetId: "bgt_gone", windowStartMs: "0", amount: "5" },
    ]);
    const cols = await tdb.db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'usage_records' AND column_name LIKE 'cost%'");
    expect(cols.map((c) => c.column_name)).toEqual(["cost_picos"]);
  });

  it("keeps the rollup exact in numeric, beyond what int8 holds", async () => {
    expect(await one("SELECT cost_picos::text AS cost FROM usage_hourly")).toEqual({ cost: "9000000000000000000000000" });
    await tdb.db.query("UPDATE usage_hourly SET cost_picos = cost_picos + 1305000");
    expect(await one("SELECT SUM(cost_picos)::text AS cost FROM usage_hourly")).toEqual({ cost: "9000000000000000001305000" });
  });

  it("scales settled use, grants and alert snapshots of USD budgets only", async () => {
    const used = await tdb.db.query<{ budget_id: string; used: string }>("SELECT budget_id, used::text AS used FROM budget_usage ORDER BY budget_id");
    expect(used.map((u) => [u.budget_id, u.used])).toEqual([
      ["bgt_tok", "2700"],
      ["bgt_usd", "1400000000"],
    ]);
    const grants = await tdb.db.query<{ budget_id: string; g: string; c: string }>("SELECT budget_id, granted::text AS g, consumed::text AS c FROM budget_grants ORDER BY budget_id");
    expect(grants.map((g) => [g.budget_id, g.g, g.c])).toEqual([
      ["bgt_tok", "5000", "2700"],
      ["bgt_usd", "3000000000", "1400000000"],
    ]);
    const alerts = await tdb.db.query<{ id: string; used: string; lim: string }>("SELECT id, used::text AS used, limit_amount::text AS lim FROM budget_alerts ORDER BY id");
    expect(alerts.map((a) => [a.id, a.used, a.lim])).toEqual([
      ["alr_1", "25000000000000", "50000000000000"],
      ["alr_2", "500000", "1000000"],
    ]);
  });
});
