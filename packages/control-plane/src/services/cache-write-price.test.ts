/**
 * `cacheWriteInputPricePerMillion` on models (createModel, updateModel, upsertModel): stored as set, and the
 * snapshot's price carries the provider's default when unset (ANTHROPIC: 1.25x input for 5-minute
 * writes, 2x for 1-hour writes; other providers: no surcharge).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { buildSnapshot } from "../snapshot/snapshot-builder.js";
import { gql, postGraphQL } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const ADMIN = "cache-write-test-admin-token-0123";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("cache-write prices on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let dataDir: string;
  let masterKey: Buffer;
  const accounts: Record<string, string> = {};
  let orgId: string;

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-cache-write-"));
    masterKey = randomBytes(32);
    const config = loadControlPlaneConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_MASTER_KEY: masterKey.toString("base64"),
      TOLLGATE_NODE_TOKEN: "cache-write-node-token-0123",
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      LOG_LEVEL: "silent",
    });
    cp = await startControlPlane(config, { database: tdb.db, logger: pino({ level: "silent" }) });
    orgId = (await gql<{ createOrganization: { organization: { id: string } } }>(cp.httpUrl, ADMIN, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`))
      .createOrganization.organization.id;
    for (const provider of ["ANTHROPIC", "OPENAI"]) {
      accounts[provider] = (
        await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
          cp.httpUrl,
          ADMIN,
          `mutation { createProviderAccount(input: {organizationId: "${orgId}", name: "${provider.toLowerCase()}", provider: ${provider}, apiKey: "sk-${provider}"}) { providerAccount { id } } }`,
        )
      ).createProviderAccount.providerAccount.id;
    }
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const createModel = (provider: string, name: string, extra = "") =>
    postGraphQL(
      cp.httpUrl,
      ADMIN,
      `mutation { createModel(input: {providerAccountId: "${accounts[provider]}", name: "${name}", inputPricePerMillion: "3", outputPricePerMillion: "15"${extra}}) { model { id cacheWriteInputPricePerMillion } } }`,
    );
  const priceOf = async (name: string) => (await buildSnapshot(tdb.db, { masterKey, nowMs: Date.now() })).models.find((m) => m.name === name)?.price;

  it("defaults ANTHROPIC to 1.25x / 2x the input price and other providers to none; a set price is kept", async () => {
    expect((await createModel("ANTHROPIC", "sonnet")).data).toEqual({ createModel: { model: { id: expect.any(String), cacheWriteInputPricePerMillion: null } } });
    expect(await priceOf("sonnet")).toEqual({
      inputPerMillion: 3_000_000n,
      outputPerMillion: 15_000_000n,
      cachedInputPerMillion: null,
      cacheWriteInputPerMillion: 3_750_000n,
      cacheWrite1hInputPerMillion: 6_000_000n,
    });
    await createModel("ANTHROPIC", "sonnet-set", ', cacheWriteInputPricePerMillion: "4.5"');
    expect(await priceOf("sonnet-set")).toMatchObject({ cacheWriteInputPerMillion: 4_500_000n, cacheWrite1hInputPerMillion: 6_000_000n });
    await createModel("OPENAI", "gpt");
    expect(await priceOf("gpt")).toEqual({ inputPerMillion: 3_000_000n, outputPerMillion: 15_000_000n, cachedInputPerMillion: null });
  });

  it("upserts the cache-write price and refuses it without an input price", async () => {
    const upsert = (price: string) =>
      gql<{ upsertModel: { model: { cacheWriteInputPricePerMillion: string | null } } }>(
        cp.httpUrl,
        ADMIN,
        `mutation { upsertModel(input: {providerAccountId: "${accounts.OPENAI}", name: "gpt-up", inputPricePerMillion: "2", outputPricePerMillion: "8", cacheWriteInputPricePerMillion: ${price}}) { model { cacheWriteInputPricePerMillion } } }`,
      );
    expect((await upsert('"2.5"')).upsertModel.model.cacheWriteInputPricePerMillion).toBe("2.50");
    expect(await priceOf("gpt-up")).toMatchObject({ cacheWriteInputPerMillion: 2_500_000n });
    expect((await upsert("null")).upsertModel.model.cacheWriteInputPricePerMillion).toBeNull();
    const unpriced = await postGraphQL(
      cp.httpUrl,
      ADMIN,
      `mutation { createModel(input: {providerAccountId: "${accounts.OPENAI}", name: "free", cacheWriteInputPricePerMillion: "1"}) { model { id } } }`,
    );
    expect(unpriced.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("updates only the given fields of a model, and answers NOT_FOUND for an unknown id", async () => {
    const created = await createModel("ANTHROPIC", "haiku", ', cachedInputPricePerMillion: "0.3", maxOutputTokens: 2048');
    const id = (created.data as { createModel: { model: { id: string } } }).createModel.model.id;
    type U = { updateModel: { model: { inputPricePerMillion: string; cachedInputPricePerMillion: string | null; cacheWriteInputPricePerMillion: string | null; maxOutputTokens: number } } };
    const update = (fields: string) =>
      gql<U>(cp.httpUrl, ADMIN, `mutation { updateModel(input: {id: "${id}"${fields}}) { model { inputPricePerMillion cachedInputPricePerMillion cacheWriteInputPricePerMillion maxOutputTokens } } }`);
    expect((await update(', cacheWriteInputPricePerMillion: "3.6"')).updateModel.model).toEqual({
      inputPricePerMillion: "3.00",
      cachedInputPricePerMillion: "0.30",
      cacheWriteInputPricePerMillion: "3.60",
      maxOutputTokens: 2048,
    });
    expect(await priceOf("haiku")).toMatchObject({ cacheWriteInputPerMillion: 3_600_000n, cacheWrite1hInputPerMillion: 6_000_000n });
    expect((await update(', inputPricePerMillion: "1", cacheWriteInputPricePerMillion: null')).updateModel.model).toEqual({
      inputPricePerMillion: "1.00",
      cachedInputPricePerMillion: "0.30",
      cacheWriteInputPricePerMillion: null,
      maxOutputTokens: 2048,
    });
    expect(await priceOf("haiku")).toMatchObject({ inputPerMillion: 1_000_000n, cacheWriteInputPerMillion: 1_250_000n, cacheWrite1hInputPerMillion: 2_000_000n });
    const unknown = await postGraphQL(cp.httpUrl, ADMIN, `mutation { updateModel(input: {id: "mdl_nope", weight: 2}) { model { id } } }`);
    expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("puts a key's per-request cap (typed in dollars, stored in micro-dollars) into the snapshot in pico-dollars", async () => {
    await gql(cp.httpUrl, ADMIN, `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "capped", kind: SERVICE, maxCostPerRequest: "0.0001"}) { secret } }`);
    const snapshot = await buildSnapshot(tdb.db, { masterKey, nowMs: Date.now() });
    expect(snapshot.virtualKeys.find((k) => k.name === "capped")?.maxCostPerRequest).toBe(100_000_000n);
  });

  it("takes audio prices together (or neither) and puts them in the snapshot", async () => {
    await createModel("OPENAI", "gpt-audio", ', audioInputPricePerMillion: "40", audioOutputPricePerMillion: "80"');
    expect(await priceOf("gpt-audio")).toMatchObject({ audioInputPerMillion: 40_000_000n, audioOutputPerMillion: 80_000_000n });
    expect((await priceOf("gpt"))?.audioInputPerMillion).toBeUndefined();
    const half = await createModel("OPENAI", "gpt-half", ', audioInputPricePerMillion: "40"');
    expect(half.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
