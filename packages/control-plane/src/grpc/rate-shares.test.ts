import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { HelloSchema, Outcome, SubscribeRequestSchema, UsageBatchSchema, UsageRecordSchema, createControlPlaneClient, type ControlPlaneClient, type PolicyUpdate } from "@tollgate/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { gql } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { readUpdates, type UpdateReader } from "../testing/update-reader.js";

const ADMIN = "rate-share-test-admin-token-0123";
const NODE_TOKEN = "rate-share-test-node-token-0123";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("rate-limit shares from ingested usage on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let dataDir: string;
  let orgId: string;
  let keyId: string;

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-rate-shares-"));
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
    orgId = (await gql<{ createOrganization: { organization: { id: string } } }>(cp.httpUrl, ADMIN, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`))
      .createOrganization.organization.id;
    keyId = (
      await gql<{ createVirtualKey: { virtualKey: { id: string } } }>(cp.httpUrl, ADMIN, `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id } } }`, {
        i: { organizationId: orgId, name: "busy", kind: "SERVICE", rateLimits: [{ unit: "REQUESTS", limit: 60, windowSeconds: 10 }] },
      })
    ).createVirtualKey.virtualKey.id;
  });

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Reads updates until one is `shares_only` (node-count re-sends at start are skipped when they carry no share). */
  async function nextShares(reader: UpdateReader, rateLimitId: string): Promise<PolicyUpdate> {
    for (;;) {
      const u = await reader.next(10_000);
      if (u.sharesOnly && u.rateLimitShares[rateLimitId] !== undefined) return u;
    }
  }

  it("sends each node its demand share in a shares_only update at the held version, summing to the limit", async () => {
    const streams = ["node-busy", "node-quiet"].map((nodeId) => {
      const stream = client.subscribe();
      const reader = readUpdates(stream);
      stream.write(create(SubscribeRequestSchema, { msg: { case: "hello", value: create(HelloSchema, { nodeId, bootId: "boot-1", heldVersion: 0n }) } }));
      return { nodeId, stream, reader };
    });
    try {
      const firsts = await Promise.all(streams.map((s) => s.reader.next(10_000)));
      const rl = firsts[0]?.upserts.find((r) => r.body.case === "rateLimit");
      const rateLimitId = rl?.body.case === "rateLimit" ? rl.body.value.id : "";
      expect(rateLimitId).toMatch(/^rl_/);
      expect(firsts.map((f) => f.rateLimitShares[rateLimitId])).toEqual([undefined, undefined]); // no demand yet: even split

      // 45 requests on the busy node (15 refused by its rate limit: demand all the same), 5 on the quiet one
      const now = Date.now();
      let n = 0;
      const record = (nodeId: string, refused: boolean) =>
        create(UsageRecordSchema, {
          requestId: `req_share_${++n}`,
          nodeId,
          bootId: "boot-1",
          startedAtMs: BigInt(now),
          organizationId: orgId,
          virtualKeyId: keyId,
          outcome: refused ? Outcome.REFUSED : Outcome.SUCCESS,
          errorCode: refused ? "rate_limit_exceeded" : "",
          status: refused ? 429 : 200,
          inputTokens: refused ? 0 : 10,
        });
      // one batch (each record names its node), so no share check can fall between two ingests
      const records = [...Array.from({ length: 45 }, (_, i) => record("node-busy", i >= 30)), ...Array.from({ length: 5 }, () => record("node-quiet", false))];
      await client.reportUsage(create(UsageBatchSchema, { nodeId: "node-busy", bootId: "boot-1", records }), 10_000);

      const [busy, quiet] = await Promise.all(streams.map((s) => nextShares(s.reader, rateLimitId)));
      expect(busy?.version).toBe(firsts[0]?.version);
      expect(busy?.upserts).toEqual([]);
      // minimum max(1, floor(60 / 40)) = 1 each, the other 58 by demand 45 : 5 -> 52.2 / 5.8 -> 52 + 1 and 6 + 1
      expect(busy?.rateLimitShares[rateLimitId]).toBe(53);
      expect(quiet?.rateLimitShares[rateLimitId]).toBe(7);
    } finally {
      for (const s of streams) s.stream.cancel();
    }
  }, 30_000);
});
