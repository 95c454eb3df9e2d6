import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { HelloSchema, Outcome, SubscribeRequestSchema, UsageBatchSchema, UsageRecordSchema, UsageSource, createControlPlaneClient, decodeResource, type ControlPlaneClient } from "@tollgate/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { gql } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { readUpdates } from "../testing/update-reader.js";

const ADMIN = "routing-test-admin-token-0123";
const NODE_TOKEN = "routing-test-node-token-0123";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("route groups (weight, priority) and usage attempts on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let dataDir: string;
  let orgId: string;
  const accounts: string[] = [];

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-routing-"));
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
    for (const name of ["openai-a", "openai-b"]) {
      accounts.push(
        (
          await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
            cp.httpUrl,
            ADMIN,
            `mutation { createProviderAccount(input: {organizationId: "${orgId}", name: "${name}", provider: OPENAI, apiKey: "sk-${name}"}) { providerAccount { id } } }`,
          )
        ).createProviderAccount.providerAccount.id,
      );
    }
  });

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  type M = { id: string; name: string; weight: number; priority: number };
  const createModel = (account: string, extra: string) =>
    gql<{ createModel: { model: M } }>(
      cp.httpUrl,
      ADMIN,
      `mutation { createModel(input: {providerAccountId: "${account}", name: "chat", inputPricePerMillion: "1", outputPricePerMillion: "2"${extra}}) { model { id name weight priority } } }`,
    );

  it("creates one public name on two accounts with weights and priorities, defaults 1 and 0, validated, upserted", async () => {
    const a = (await createModel(accounts[0]!, ", weight: 3")).createModel.model;
    expect(a).toMatchObject({ name: "chat", weight: 3, priority: 0 });
    const b = (await createModel(accounts[1]!, ", priority: 1")).createModel.model;
    expect(b).toMatchObject({ name: "chat", weight: 1, priority: 1 });
    await expect(createModel(accounts[0]!, "")).rejects.toThrow(/already exists/);
    await expect(gql(cp.httpUrl, ADMIN, `mutation { createModel(input: {providerAccountId: "${accounts[0]}", name: "x", weight: -1}) { model { id } } }`)).rejects.toThrow(/weight must be an integer/);
    const up = `mutation($w: Int) { upsertModel(input: {providerAccountId: "${accounts[1]}", name: "chat", inputPricePerMillion: "1", outputPricePerMillion: "2", weight: $w, priority: 2}) { model { id weight priority } } }`;
    for (let i = 0; i < 2; i++) {
      const again = (await gql<{ upsertModel: { model: M } }>(cp.httpUrl, ADMIN, up, { w: 0 })).upsertModel.model;
      expect(again).toEqual({ id: b.id, weight: 0, priority: 2 });
    }
  });

  it("ships weight and priority to the nodes in the snapshot", async () => {
    const stream = client.subscribe();
    const reader = readUpdates(stream);
    stream.write(create(SubscribeRequestSchema, { msg: { case: "hello", value: create(HelloSchema, { nodeId: "node-r", bootId: "b1", heldVersion: 0n, held: [] }) } }));
    const first = await reader.next(10_000);
    const models = first.upserts.map(decodeResource).flatMap((r) => (r.kind === "model" ? [r.value] : []));
    expect(models.map((m) => [m.providerAccountId, m.name, m.weight, m.priority]).sort()).toEqual([
      [accounts[0], "chat", 3, 0],
      [accounts[1], "chat", 0, 2],
    ]);
    stream.end();
    await reader.ended;
  });

  it("stores each usage record's upstream attempts", async () => {
    const record = (i: number, attempts: number) =>
      create(UsageRecordSchema, {
        requestId: `req_attempts_${target.name}_${i}`,
        nodeId: "n1",
        bootId: "b",
        sequence: BigInt(i),
        startedAtMs: BigInt(Date.now()),
        organizationId: orgId,
        virtualKeyId: "vk_x",
        model: "chat",
        providerAccountId: accounts[1]!,
        route: "/v1/chat/completions",
        usageSource: UsageSource.PROVIDER,
        outcome: Outcome.SUCCESS,
        status: 200,
        attempts,
      });
    expect(await client.reportUsage(create(UsageBatchSchema, { nodeId: "n1", bootId: "b", records: [record(1, 2), record(2, 0)] }), 10_000)).toMatchObject({ accepted: 2 });
    const rows = await tdb.db.query<{ request_id: string; attempts: number }>("SELECT request_id, attempts FROM usage_records WHERE request_id LIKE 'req_attempts_%' ORDER BY request_id");
    expect(rows.map((r) => [r.request_id, Number(r.attempts)])).toEqual([
      [`req_attempts_${target.name}_1`, 2],
      [`req_attempts_${target.name}_2`, 0],
    ]);
  });
});
