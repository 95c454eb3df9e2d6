import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../db/migrate.js";
import { recordNodeAck, upsertConnectedNode } from "../repositories/node.repository.js";
import { bumpPolicyRevision } from "../repositories/settings.repository.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { PropagationService } from "./propagation.service.js";

const T0 = Date.UTC(2030, 0, 15, 12);

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("policy propagation on $name", (target) => {
  let tdb: TestDatabase;
  let now = T0;
  beforeAll(async () => {
    tdb = await target.open();
    await migrate(tdb.db);
  });
  afterAll(async () => {
    await tdb?.dispose();
  });

  it("counts connected nodes that applied a revision, waits for pending ones, and shows each node's state", async () => {
    const db = tdb.db;
    const revision = await bumpPolicyRevision(db);
    await upsertConnectedNode(db, "node-a", "boot-1", "peer-a", now, "cpr_1");
    await upsertConnectedNode(db, "node-b", "boot-1", "peer-b", now, "cpr_2");
    await upsertConnectedNode(db, "node-old", "boot-0", "peer-c", now - 120_000, "cpr_1");
    await recordNodeAck(db, "node-a", "boot-1", revision, now);
    await recordNodeAck(db, "node-b", "boot-1", revision - 1n, now);
    let acked = false;
    const service = new PropagationService(
      db,
      () => now,
      async (ms) => {
        now += ms;
        if (!acked) {
          acked = true;
          await recordNodeAck(db, "node-b", "boot-1", revision, now);
        }
      },
    );
    const admin = { kind: "platformAdmin" } as const;
    expect(await service.propagation(admin, revision, 0)).toMatchObject({ revision, nodesApplied: 1, nodesPending: 1, nodesDisconnected: 1, pendingNodeIds: ["node-b"] });
    const member = { kind: "user", userId: "usr_1", organizationId: "org_1", role: "MEMBER" } as const;
    expect((await service.propagation(member, revision, 0)).pendingNodeIds).toEqual([]);
    const waited = await service.propagation(admin, null, 1_000);
    expect(waited).toMatchObject({ revision, nodesApplied: 2, nodesPending: 0 });
    expect(waited.waitedMs).toBeGreaterThan(0);
    await expect(service.propagation(admin, revision, 60_000)).rejects.toThrow(/waitMs/);
    const nodes = await service.nodes();
    expect(nodes.map((n) => [n.id, n.connectionState, n.replicaId, n.revisionsBehind])).toEqual([
      ["node-a", "CONNECTED", "cpr_1", 0n],
      ["node-b", "CONNECTED", "cpr_2", 0n],
      ["node-old", "STALE", "cpr_1", revision],
    ]);
  });
});
