import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isoOf } from "../db/database.js";
import { migrate } from "../db/migrate.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { RateAllocationService } from "./rate-allocation.service.js";

const T0 = Date.UTC(2030, 0, 15, 12, 0, 10);
const W0 = Date.UTC(2030, 0, 15, 12, 0, 0);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("rate-limit units on $name", (target) => {
  let tdb: TestDatabase;
  let now = T0;
  let service: RateAllocationService;

  const addLimit = async (id: string, limit: number, windowSeconds: number) => {
    await tdb.db.query(
      `INSERT INTO rate_limits (id, organization_id, scope, scope_id, unit, limit_amount, window_seconds, created_at) VALUES ($1, 'org_1', 'VIRTUAL_KEY', $1, 'REQUESTS', $2, $3, $4)`,
      [id, limit, windowSeconds, isoOf(T0)],
    );
  };

  beforeAll(async () => {
    tdb = await target.open();
    await migrate(tdb.db);
    await tdb.db.query("INSERT INTO organizations (id, slug, name, created_at, updated_at) VALUES ('org_1', 'acme', 'Acme', $1, $1)", [isoOf(T0)]);
    await addLimit("rl_3", 3, 60);
    await addLimit("rl_big", 1_000, 60);
    await addLimit("rl_race", 97, 60);
    service = new RateAllocationService(tdb.db, () => now);
  }, 60_000);
  afterAll(async () => {
    await tdb?.dispose();
  });
  beforeEach(() => {
    now = T0;
  });

  it("a 3-per-minute limit over two nodes: one unit per claim (slice of 1/4), the 4th claim gets nothing", async () => {
    const claim = { rateLimitId: "rl_3", windowStartMs: W0, needed: 1, want: 3 };
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(...(await service.acquire([claim], 2)));
    expect(answers).toEqual([
      { granted: 1, allocated: 1, limit: 3 },
      { granted: 1, allocated: 2, limit: 3 },
      { granted: 1, allocated: 3, limit: 3 },
      { granted: 0, allocated: 3, limit: 3 },
    ]);
    // the next window starts again from nothing
    now = W0 + 60_000;
    expect(await service.acquire([{ ...claim, windowStartMs: W0 + 60_000 }], 1)).toEqual([{ granted: 2, allocated: 2, limit: 3 }]);
  });

  it("grants up to the want and the slice of what is free, and nothing when less than needed is free", async () => {
    const w = { rateLimitId: "rl_big", windowStartMs: W0 };
    expect(await service.acquire([{ ...w, needed: 1, want: 100 }], 2)).toEqual([{ granted: 100, allocated: 100, limit: 1_000 }]);
    expect(await service.acquire([{ ...w, needed: 1, want: 10_000 }], 2)).toEqual([{ granted: 225, allocated: 325, limit: 1_000 }]);
    expect(await service.acquire([{ ...w, needed: 600, want: 600 }], 2)).toEqual([{ granted: 600, allocated: 925, limit: 1_000 }]);
    expect(await service.acquire([{ ...w, needed: 76, want: 80 }], 2)).toEqual([{ granted: 0, allocated: 925, limit: 1_000 }]);
    expect(await service.acquire([{ ...w, needed: 75, want: 80 }], 2)).toEqual([{ granted: 75, allocated: 1_000, limit: 1_000 }]);
  });

  it("concurrent claims never allocate more than the limit, and allocate all of it under enough demand", async () => {
    const random = mulberry32(7);
    const claims = Array.from({ length: 60 }, () => {
      const needed = 1 + Math.floor(random() * 4);
      return service.acquire([{ rateLimitId: "rl_race", windowStartMs: W0, needed, want: needed + Math.floor(random() * 10) }], 1 + Math.floor(random() * 4));
    });
    const answers = (await Promise.all(claims)).flat();
    const granted = answers.reduce((a, r) => a + r.granted, 0);
    expect(granted).toBeLessThanOrEqual(97);
    expect(granted).toBeGreaterThanOrEqual(97 - 3);
    expect(Math.max(...answers.map((a) => a.allocated))).toBe(granted);
    const rows = await tdb.db.query<{ allocated: string }>("SELECT allocated FROM rate_limit_windows WHERE rate_limit_id = 'rl_race'");
    expect(Number(rows[0]?.allocated)).toBe(granted);
  });

  it("refuses windows that are misaligned, ended, in the future, or of an unknown limit", async () => {
    const base = { rateLimitId: "rl_3", needed: 1, want: 1 };
    const answers = await service.acquire(
      [
        { ...base, windowStartMs: W0 + 1_000 },
        { ...base, windowStartMs: W0 - 180_000 },
        { ...base, windowStartMs: W0 + 120_000 },
        { ...base, rateLimitId: "rl_nope", windowStartMs: W0 },
        { ...base, rateLimitId: "", windowStartMs: W0 },
        { ...base, windowStartMs: Number.NaN },
      ],
      2,
    );
    expect(answers).toEqual(answers.map(() => ({ granted: 0, allocated: 0, limit: 0 })));
    const rows = await tdb.db.query("SELECT window_start_ms FROM rate_limit_windows WHERE window_start_ms <> $1 AND window_start_ms <> $2", [W0, W0 + 60_000]);
    expect(rows).toEqual([]);
  });

  it("follows the limit in force: a lowered limit grants nothing more, a raised one grants the difference", async () => {
    await addLimit("rl_change", 10, 60);
    const claim = { rateLimitId: "rl_change", windowStartMs: W0, needed: 4, want: 4 };
    expect(await service.acquire([claim, claim], 1)).toEqual([
      { granted: 4, allocated: 4, limit: 10 },
      { granted: 4, allocated: 8, limit: 10 },
    ]);
    await tdb.db.query("UPDATE rate_limits SET limit_amount = 5 WHERE id = 'rl_change'");
    expect(await service.acquire([{ ...claim, needed: 1, want: 1 }], 1)).toEqual([{ granted: 0, allocated: 8, limit: 5 }]);
    await tdb.db.query("UPDATE rate_limits SET limit_amount = 12 WHERE id = 'rl_change'");
    expect(await service.acquire([claim, claim], 1)).toEqual([
      { granted: 4, allocated: 12, limit: 12 },
      { granted: 0, allocated: 12, limit: 12 },
    ]);
  });

  it("serves windows longer than 2^31 ms (a 31-day window)", async () => {
    await addLimit("rl_month", 4, 2_678_400);
    const start = Math.floor(T0 / 2_678_400_000) * 2_678_400_000;
    expect(await service.acquire([{ rateLimitId: "rl_month", windowStartMs: start, needed: 1, want: 1 }], 2)).toEqual([{ granted: 1, allocated: 1, limit: 4 }]);
  });

  it("deletes the rows of windows that ended more than a minute ago", async () => {
    now = W0 + 130_000;
    expect(await service.acquire([{ rateLimitId: "rl_big", windowStartMs: W0 + 120_000, needed: 1, want: 1 }], 1)).toEqual([expect.objectContaining({ granted: 1 })]);
    now = W0 + 200_000;
    expect(await service.acquire([{ rateLimitId: "rl_big", windowStartMs: W0 + 180_000, needed: 1, want: 1 }], 1)).toEqual([expect.objectContaining({ granted: 1 })]);
    const left = await tdb.db.query<{ id: string; w: string }>("SELECT rate_limit_id AS id, window_start_ms::text AS w FROM rate_limit_windows ORDER BY window_start_ms");
    // the minute windows that ended before W0 + 140 s are gone; the month-long one is still open
    expect(left.map((r) => [r.id, Number(r.w)])).toEqual([
      ["rl_month", Math.floor(T0 / 2_678_400_000) * 2_678_400_000],
      ["rl_big", W0 + 120_000],
      ["rl_big", W0 + 180_000],
    ]);
  });
});
