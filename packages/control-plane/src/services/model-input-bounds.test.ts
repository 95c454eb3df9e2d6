import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { HelloSchema, SubscribeRequestSchema, createControlPlaneClient, decodeResource, type ControlPlaneClient } from "@tollgate/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { gql } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { readUpdates } from "../testing/update-reader.js";

const ADMIN = "bounds-test-admin-token-0123";
const NODE_TOKEN = "bounds-test-node-token-0123";
const FIELDS = "id name maxOutputTokens weight imageInputTokens maxInputTokensPerAttachment";

type M = { id: string; name: string; maxOutputTokens: number; weight: number; imageInputTokens: number | null; maxInputTokensPerAttachment: number | null };

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("model input bounds (imageInputTokens, maxInputTokensPerAttachment) on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let dataDir: string;
  let account: string;

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-bounds-"));
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
    account = (
      await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
        cp.httpUrl,
        ADMIN,
        `mutation { createProviderAccount(input: {organizationId: "${orgId}", name: "gemini", provider: GOOGLE, apiKey: "g-key"}) { providerAccount { id } } }`,
      )
    ).createProviderAccount.providerAccount.id;
  });

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const createModel = (name: string, extra: string) =>
    gql<{ createModel: { model: M } }>(
      cp.httpUrl,
      ADMIN,
      `mutation { createModel(input: {providerAccountId: "${account}", name: "${name}", inputPricePerMillion: "1", outputPricePerMillion: "2"${extra}}) { model { ${FIELDS} } } }`,
    );
  const updateModel = (vars: Record<string, unknown>) =>
    gql<{ updateModel: { model: M } }>(cp.httpUrl, ADMIN, `mutation($input: UpdateModelInput!) { updateModel(input: $input) { model { ${FIELDS} } } }`, { input: vars });

  it("defaults to the provider's image bound and no per-part bound; stores what the admin sets", async () => {
    expect((await createModel("plain", "")).createModel.model).toMatchObject({ imageInputTokens: null, maxInputTokensPerAttachment: null });
    const set = (await createModel("bounded", ", imageInputTokens: 4000, maxInputTokensPerAttachment: 250000")).createModel.model;
    expect(set).toMatchObject({ imageInputTokens: 4000, maxInputTokensPerAttachment: 250_000 });
  });

  it.each([
    ["imageInputTokens: 0", /imageInputTokens must be an integer from 1 to 10000000, got 0/],
    ["maxInputTokensPerAttachment: -5", /maxInputTokensPerAttachment must be an integer from 1 to 10000000, got -5/],
    ["maxInputTokensPerAttachment: 10000001", /maxInputTokensPerAttachment must be an integer from 1 to 10000000/],
  ])("refuses %s as BAD_USER_INPUT", async (extra, message) => {
    await expect(createModel(`bad-${extra.length}-${extra.at(-1)}`, `, ${extra}`)).rejects.toThrow(message);
  });

  it("upsertModel writes the whole model: omitted bounds go back to their defaults", async () => {
    const up = (extra: string) =>
      gql<{ upsertModel: { model: M } }>(
        cp.httpUrl,
        ADMIN,
        `mutation { upsertModel(input: {providerAccountId: "${account}", name: "upserted", inputPricePerMillion: "1", outputPricePerMillion: "2"${extra}}) { model { ${FIELDS} } } }`,
      );
    const first = (await up(", maxInputTokensPerAttachment: 9000")).upsertModel.model;
    expect(first.maxInputTokensPerAttachment).toBe(9000);
    const again = (await up("")).upsertModel.model;
    expect(again).toMatchObject({ id: first.id, maxInputTokensPerAttachment: null, imageInputTokens: null });
  });

  it("updateModel changes only the given fields, null resets, and unknown ids are NOT_FOUND", async () => {
    const m = (await createModel("updated", ", maxOutputTokens: 777, weight: 4")).createModel.model;
    const changed = (await updateModel({ id: m.id, maxInputTokensPerAttachment: 120_000, imageInputTokens: 2000 })).updateModel.model;
    expect(changed).toEqual({ ...m, maxInputTokensPerAttachment: 120_000, imageInputTokens: 2000 });
    const reset = (await updateModel({ id: m.id, imageInputTokens: null })).updateModel.model;
    expect(reset).toEqual({ ...m, maxInputTokensPerAttachment: 120_000, imageInputTokens: null });
    await expect(updateModel({ id: m.id, imageInputTokens: 0 })).rejects.toThrow(/imageInputTokens must be an integer/);
    await expect(updateModel({ id: "mdl_nope", weight: 1 })).rejects.toThrow(/not found/i);
  });

  it("ships the bounds to the nodes in the snapshot (absent when not set)", async () => {
    const stream = client.subscribe();
    const reader = readUpdates(stream);
    stream.write(create(SubscribeRequestSchema, { msg: { case: "hello", value: create(HelloSchema, { nodeId: "node-b", bootId: "b1", heldVersion: 0n, held: [] }) } }));
    const first = await reader.next(10_000);
    const models = first.upserts.map(decodeResource).flatMap((r) => (r.kind === "model" ? [r.value] : []));
    const byName = new Map(models.map((m) => [m.name, m]));
    expect(byName.get("bounded")).toMatchObject({ imageInputTokens: 4000, maxInputTokensPerAttachment: 250_000 });
    expect(byName.get("updated")).toMatchObject({ maxInputTokensPerAttachment: 120_000 });
    expect(byName.get("plain")?.imageInputTokens).toBeUndefined();
    expect(byName.get("plain")?.maxInputTokensPerAttachment).toBeUndefined();
    stream.end();
    await reader.ended;
  });
});
