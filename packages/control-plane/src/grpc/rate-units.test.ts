import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { AcquireRateUnitsRequestSchema, RateUnitRequestSchema, createControlPlaneClient, type ControlPlaneClient } from "@tollgate/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { gql } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const ADMIN = "rate-units-admin-token-0123";
const NODE_TOKEN = "rate-units-node-token-0123";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("AcquireRateUnits over gRPC on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let dataDir: string;
  let rateLimitId: string;
  let keyId: string;

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-rate-units-"));
    const config = loadControlPlaneConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64"),
      TOLLGATE_NODE_TOKEN: NODE_TOKEN,
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      LOG_LEVEL: "silent",
    });
    cp = await startControlPlane(config, { database: tdb.db, logger: pino({ level: "silent" }) });
    client = createControlPlaneClient(cp.grpcAddress, NODE_TOKEN);
    const orgId = (
      await gql<{ createOrganization: { organization: { id: string } } }>(cp.httpUrl, ADMIN, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`)
    ).createOrganization.organization.id;
    keyId = (
      await gql<{ createVirtualKey: { virtualKey: { id: string } } }>(
        cp.httpUrl,
        ADMIN,
        `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "ci", kind: SERVICE, rateLimits: [{unit: REQUESTS, limit: 3, windowSeconds: 60}]}) { virtualKey { id } } }`,
      )
    ).createVirtualKey.virtualKey.id;
    const rows = await tdb.db.query<{ id: string }>("SELECT id FROM rate_limits WHERE scope = 'VIRTUAL_KEY' AND scope_id = $1", [keyId]);
    rateLimitId = rows[0]?.id ?? "";
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const claim = (c: ControlPlaneClient, nodeId: string, windowStartMs: number) =>
    c.acquireRateUnits(
      create(AcquireRateUnitsRequestSchema, {
        nodeId,
        bootId: "b1",
        connectedNodes: 2,
        requests: [create(RateUnitRequestSchema, { rateLimitId, windowStartMs: BigInt(windowStartMs), needed: 1, want: 3 })],
      }),
      5_000,
    );

  it("allocates a window's 3 units across nodes, then nothing; refuses calls without the node token", async () => {
    expect(rateLimitId).toMatch(/^rl_/);
    const windowStart = Math.floor(Date.now() / 60_000) * 60_000;
    const answers = [];
    for (const node of ["node-a", "node-b", "node-a", "node-b"]) answers.push(...(await claim(client, node, windowStart)).grants);
    expect(answers.map((g) => [g.rateLimitId, Number(g.windowStartMs), g.granted, g.allocated, g.limit])).toEqual([
      [rateLimitId, windowStart, 1, 1, 3],
      [rateLimitId, windowStart, 1, 2, 3],
      [rateLimitId, windowStart, 1, 3, 3],
      [rateLimitId, windowStart, 0, 3, 3],
    ]);
    const bad = createControlPlaneClient(cp.grpcAddress, "wrong-token-0000000000");
    try {
      await expect(claim(bad, "intruder", windowStart)).rejects.toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
    } finally {
      bad.close();
    }
  });

  it("a key's limits updated mid-window keep their id: the window's allocation carries over under the new amount", async () => {
    const windowStart = Math.floor(Date.now() / 60_000) * 60_000;
    const update = (limits: string) => gql(cp.httpUrl, ADMIN, `mutation { updateVirtualKey(input: {id: "${keyId}", rateLimits: [${limits}]}) { virtualKey { id } } }`);
    await update("{unit: REQUESTS, limit: 5, windowSeconds: 60}, {unit: TOKENS, limit: 1000, windowSeconds: 60}");
    const rows = await tdb.db.query<{ id: string; unit: string; limit_amount: number }>("SELECT id, unit, limit_amount FROM rate_limits WHERE scope_id = $1 ORDER BY unit", [keyId]);
    expect(rows.map((r) => [r.id === rateLimitId, r.unit, Number(r.limit_amount)])).toEqual([
      [true, "REQUESTS", 5],
      [false, "TOKENS", 1000],
    ]);
    // The first test handed out 3 in this window (unless a minute boundary fell between them): the rest of 5, then none.
    const before = Number(
      (await tdb.db.query<{ allocated: string }>("SELECT allocated FROM rate_limit_windows WHERE rate_limit_id = $1 AND window_start_ms = $2", [rateLimitId, windowStart]))[0]?.allocated ?? 0,
    );
    const answers = [];
    for (let i = before; i <= 5; i++) answers.push(...(await claim(client, "node-a", windowStart)).grants);
    expect(answers.map((g) => g.limit)).toEqual(answers.map(() => 5));
    expect(answers.map((g) => g.granted).reduce((a, b) => a + b, 0)).toBe(5 - before);
    expect(answers.at(-1)).toMatchObject({ granted: 0, allocated: 5 });
    await update("{unit: TOKENS, limit: 1000, windowSeconds: 60}");
    const left = await tdb.db.query<{ id: string }>("SELECT id FROM rate_limits WHERE scope_id = $1", [keyId]);
    expect(left.map((r) => r.id)).toEqual([rows[1]?.id]);
    expect(await tdb.db.query("SELECT 1 FROM rate_limit_windows WHERE rate_limit_id = $1", [rateLimitId])).toEqual([]);
  });
});
