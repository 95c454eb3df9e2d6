import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { windowStartOf } from "@tollgate/policy";
import {
  AckSchema,
  AcquireGrantsRequestSchema,
  BudgetChargeSchema,
  GrantReleaseSchema,
  GrantRequestSchema,
  HelloSchema,
  KeyStatus,
  Outcome,
  ReleaseGrantsRequestSchema,
  ResourceVersionSchema,
  SubscribeRequestSchema,
  UsageBatchSchema,
  UsageRecordSchema,
  UsageSource,
  createControlPlaneClient,
  type ControlPlaneClient,
  type UsageRecord,
} from "@tollgate/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { gql } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { readUpdates } from "../testing/update-reader.js";

const ADMIN = "grpc-test-admin-token-0123";
const NODE_TOKEN = "grpc-test-node-token-0123";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("gRPC policy stream, grants and usage on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let dataDir: string;
  let orgId: string;
  let keyId: string;
  let accountId: string;
  const apiKey = "sk-live-upstream-credential-9876";

  const hello = (nodeId: string, bootId: string, held: Array<{ key: string; hash: string }> = []) =>
    create(SubscribeRequestSchema, { msg: { case: "hello", value: create(HelloSchema, { nodeId, bootId, heldVersion: 0n, held: held.map((h) => create(ResourceVersionSchema, h)) }) } });

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-grpc-"));
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
    const url = cp.httpUrl;
    orgId = (await gql<{ createOrganization: { organization: { id: string } } }>(url, ADMIN, `mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`))
      .createOrganization.organization.id;
    accountId = (
      await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
        url,
        ADMIN,
        `mutation($k: String!) { createProviderAccount(input: {organizationId: "${orgId}", name: "openai-main", provider: OPENAI, apiKey: $k}) { providerAccount { id } } }`,
        { k: apiKey },
      )
    ).createProviderAccount.providerAccount.id;
    await gql(url, ADMIN, `mutation { createModel(input: {providerAccountId: "${accountId}", name: "gpt-4o-mini", inputPricePerMillion: "0.15", outputPricePerMillion: "0.6"}) { model { id } } }`);
    keyId = (
      await gql<{ createVirtualKey: { virtualKey: { id: string } } }>(
        url,
        ADMIN,
        `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "ci", kind: SERVICE, allowedModels: ["gpt-*"], budgets: [{unit: USD, window: DAY, limit: "1.00"}, {unit: REQUESTS, window: TOTAL, limit: 100, mode: SOFT}]}) { virtualKey { id } } }`,
      )
    ).createVirtualKey.virtualKey.id;
  });

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const budgetsOfKey = async () =>
    (
      await gql<{ virtualKey: { budgets: Array<{ id: string; unit: string; limit: string; used: string; remaining: string; mode: string }> } }>(
        cp.httpUrl,
        ADMIN,
        `{ virtualKey(id: "${keyId}") { budgets { id unit limit used remaining mode } } }`,
      )
    ).virtualKey.budgets;

  it("refuses calls without the node token", async () => {
    const bad = createControlPlaneClient(cp.grpcAddress, "wrong-token-0000000000");
    try {
      await expect(bad.acquireGrants(create(AcquireGrantsRequestSchema, { nodeId: "n", bootId: "b" }), 5000)).rejects.toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
      await expect(bad.reportUsage(create(UsageBatchSchema, {}), 5000)).rejects.toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
      const stream = bad.subscribe();
      const reader = readUpdates(stream);
      stream.write(hello("intruder", "b1"));
      expect(await reader.ended).toBe(`error:${GrpcStatus.UNAUTHENTICATED}`);
    } finally {
      bad.close();
    }
  });

  it("sends a full snapshot first, a delta within a second of a change, records ACKs, and diffs a resumed node", async () => {
    const stream = client.subscribe();
    const reader = readUpdates(stream);
    stream.write(hello("node-a", "boot-1"));
    const first = await reader.next(10_000);
    expect(first.full).toBe(true);
    const keys = first.upserts.map((r) => r.key);
    expect(keys).toEqual(expect.arrayContaining([`organization/${orgId}`, `virtualKey/${keyId}`, `providerAccount/${accountId}`]));
    const account = first.upserts.find((r) => r.key === `providerAccount/${accountId}`);
    expect(account?.body.case === "providerAccount" && account.body.value.apiKey).toBe(apiKey);
    const pepper = (await tdb.db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'hmac_pepper'"))[0]?.value;
    expect(first.hmacPepper).toBe(pepper);
    expect(first.connectedNodes).toBeGreaterThanOrEqual(1);
    const budget = first.upserts.find((r) => r.body.case === "budget" && r.body.value.unit === 1);
    expect(budget?.body.case === "budget" && budget.body.value.scopeLabel).toBe('virtual key "ci"');

    stream.write(create(SubscribeRequestSchema, { msg: { case: "ack", value: create(AckSchema, { version: first.version, nonce: first.nonce }) } }));
    await expect
      .poll(
        async () =>
          (
            await gql<{ dataPlaneNodes: Array<{ id: string; connected: boolean; policyVersion: string }> }>(cp.httpUrl, ADMIN, "{ dataPlaneNodes { id connected policyVersion lastSeenAt } }")
          ).dataPlaneNodes.find((n) => n.id === "node-a"),
        { timeout: 5000 },
      )
      .toMatchObject({ id: "node-a", connected: true, policyVersion: first.version.toString() });

    const changedAt = Date.now();
    await gql(cp.httpUrl, ADMIN, `mutation { pauseVirtualKey(input: {id: "${keyId}"}) { virtualKey { status } } }`);
    const delta = await reader.next(1000);
    expect(Date.now() - changedAt).toBeLessThan(1000);
    expect(delta.full).toBe(false);
    expect(delta.version).toBe(first.version + 1n);
    expect(delta.upserts.map((r) => r.key)).toEqual([`virtualKey/${keyId}`]);
    const paused = delta.upserts[0];
    expect(paused?.body.case === "virtualKey" && paused.body.value.status).toBe(KeyStatus.PAUSED);

    const held = first.upserts.map((r) => ({ key: r.key, hash: r.hash })).concat([{ key: "team/team_gone", hash: "x" }]);
    const resumed = client.subscribe();
    const resumedReader = readUpdates(resumed);
    resumed.write(hello("node-b", "boot-1", held));
    const diff = await resumedReader.next(10_000);
    expect(diff.full).toBe(false);
    expect(diff.version).toBe(delta.version);
    expect(diff.upserts.map((r) => r.key)).toEqual([`virtualKey/${keyId}`]);
    expect(diff.removals).toEqual(["team/team_gone"]);

    resumed.end();
    await resumedReader.ended;
    await expect
      .poll(
        async () =>
          (await gql<{ dataPlaneNodes: Array<{ id: string; connected: boolean }> }>(cp.httpUrl, ADMIN, "{ dataPlaneNodes { id connected } }")).dataPlaneNodes.find((n) => n.id === "node-b")?.connected,
        { timeout: 5000 },
      )
      .toBe(false);
    stream.end();
    await reader.ended;
    await gql(cp.httpUrl, ADMIN, `mutation { resumeVirtualKey(input: {id: "${keyId}"}) { virtualKey { status } } }`);
  });

  it("never over-grants a hard budget under 50 concurrent acquisitions", async () => {
    const usd = (await budgetsOfKey()).find((b) => b.unit === "USD");
    if (!usd) throw new Error("no USD budget");
    const windowStartMs = BigInt(windowStartOf("DAY", Date.now()));
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.acquireGrants(
          create(AcquireGrantsRequestSchema, {
            nodeId: `n${i}`,
            bootId: "b",
            requests: [create(GrantRequestSchema, { budgetId: usd.id, windowStartMs, needed: 30_000_000_000n, want: 200_000_000_000n })],
          }),
          20_000,
        ),
      ),
    );
    const grants = answers.map((a) => a.grants[0]);
    const total = grants.reduce((s, g) => s + (g?.grantedTotal ?? 0n), 0n);
    expect(total).toBeLessThanOrEqual(1_000_000_000_000n); // $1.00 in pico-dollars
    expect(total).toBeGreaterThan(900_000_000_000n);
    expect(grants.some((g) => g?.exhausted)).toBe(true);
    for (const g of grants) expect(Number(g?.expiresAtMs ?? 0n)).toBeGreaterThan(Date.now() + 60_000);

    await client.releaseGrants(
      create(ReleaseGrantsRequestSchema, {
        nodeId: "n0",
        bootId: "b",
        releases: [create(GrantReleaseSchema, { budgetId: usd.id, windowStartMs, spentTotal: 0n })],
      }),
      5000,
    );
    const again = await client.acquireGrants(
      create(AcquireGrantsRequestSchema, {
        nodeId: "late",
        bootId: "b",
        requests: [create(GrantRequestSchema, { budgetId: usd.id, windowStartMs, needed: 1n, want: 1n })],
      }),
      5000,
    );
    expect(again.grants[0]?.grantedTotal).toBe(1n);

    const unknown = await client.acquireGrants(
      create(AcquireGrantsRequestSchema, {
        nodeId: "n0",
        bootId: "b",
        requests: [create(GrantRequestSchema, { budgetId: "bgt_unknown", windowStartMs, needed: 5n, want: 5n })],
      }),
      5000,
    );
    expect(unknown.grants[0]).toMatchObject({ grantedTotal: 0n, exhausted: true });

    const soft = (await budgetsOfKey()).find((b) => b.mode === "SOFT");
    const softAnswer = await client.acquireGrants(
      create(AcquireGrantsRequestSchema, {
        nodeId: "n0",
        bootId: "b",
        requests: [create(GrantRequestSchema, { budgetId: soft?.id ?? "", windowStartMs: 0n, needed: 500n, want: 1000n })],
      }),
      5000,
    );
    expect(softAnswer.grants[0]).toMatchObject({ grantedTotal: 1000n, exhausted: false });
  });

  it("stores usage once per request id, updates the ledger once, and aggregates usage", async () => {
    const budgets = await budgetsOfKey();
    const usd = budgets.find((b) => b.unit === "USD");
    const requests = budgets.find((b) => b.unit === "REQUESTS");
    if (!usd || !requests) throw new Error("budgets missing");
    const now = Date.now();
    const dayStart = windowStartOf("DAY", now);
    const record = (i: number, patch: Omit<Partial<UsageRecord>, "$typeName" | "$unknown"> = {}) =>
      create(UsageRecordSchema, {
        requestId: `req_${target.name}_${i}`,
        nodeId: "n1",
        bootId: "b",
        sequence: BigInt(i),
        startedAtMs: BigInt(now - 1000),
        durationMs: 20,
        organizationId: orgId,
        virtualKeyId: keyId,
        model: i % 2 === 0 ? "gpt-4o-mini" : "gpt-4o",
        providerAccountId: accountId,
        route: "/v1/chat/completions",
        inputTokens: 100,
        outputTokens: 50,
        usageSource: UsageSource.PROVIDER,
        costMicros: 1000n,
        costPicos: 1_000_000_000n,
        outcome: Outcome.SUCCESS,
        status: 200,
        charges: [
          create(BudgetChargeSchema, { budgetId: usd.id, windowStartMs: BigInt(dayStart), amount: 1_000_000_000n }),
          create(BudgetChargeSchema, { budgetId: requests.id, windowStartMs: 0n, amount: 1n }),
        ],
        ...patch,
      });
    const records = [
      record(1),
      record(2),
      record(3),
      record(4, { outcome: Outcome.REFUSED, costMicros: 0n, costPicos: 0n, inputTokens: 0, outputTokens: 0, charges: [], status: 429, errorCode: "budget_exceeded" }),
    ];
    const batch = create(UsageBatchSchema, { nodeId: "n1", bootId: "b", records });
    expect(await client.reportUsage(batch, 10_000)).toMatchObject({ accepted: 4, duplicates: 0 });
    expect(await client.reportUsage(batch, 10_000)).toMatchObject({ accepted: 0, duplicates: 4 });

    const after = await budgetsOfKey();
    expect(after.find((b) => b.unit === "USD")).toMatchObject({ used: "0.003", remaining: "0.997" });
    expect(after.find((b) => b.unit === "REQUESTS")).toMatchObject({ used: "3", remaining: "97" });
    const consumed = await tdb.db.query<{ consumed: string }>("SELECT consumed FROM budget_grants WHERE budget_id = $1 AND holder = 'n1/b'", [usd.id]);
    expect(consumed.map((c) => String(c.consumed))).toEqual(["3000000000"]);

    type U = { usage: Array<{ group: Record<string, string | null>; requests: number; inputTokens: number; outputTokens: number; cost: string; blocked: number }> };
    const q = `query($o: ID!, $from: DateTime!, $to: DateTime!, $g: [UsageGroupBy!], $f: UsageFilter) {
      usage(organizationId: $o, from: $from, to: $to, groupBy: $g, filter: $f) { group { virtualKeyId virtualKeyName model day } requests inputTokens outputTokens cost blocked } }`;
    const range = { o: orgId, from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 3_600_000).toISOString() };
    const byKey = await gql<U>(cp.httpUrl, ADMIN, q, { ...range, g: ["VIRTUAL_KEY"] });
    expect(byKey.usage).toEqual([{ group: { virtualKeyId: keyId, virtualKeyName: "ci", model: null, day: null }, requests: 3, inputTokens: 300, outputTokens: 150, cost: "0.003", blocked: 1 }]);
    const byModel = await gql<U>(cp.httpUrl, ADMIN, q, { ...range, g: ["MODEL"] });
    expect(byModel.usage.map((r) => [r.group.model, r.requests, r.cost, r.blocked])).toEqual([
      ["gpt-4o", 2, "0.002", 0],
      ["gpt-4o-mini", 1, "0.001", 1],
    ]);
    const byDay = await gql<U>(cp.httpUrl, ADMIN, q, { ...range, g: ["DAY"], f: { model: "gpt-4o" } });
    expect(byDay.usage).toEqual([
      { group: { virtualKeyId: null, virtualKeyName: null, model: null, day: new Date(dayStart).toISOString() }, requests: 2, inputTokens: 200, outputTokens: 100, cost: "0.002", blocked: 0 },
    ]);
    const none = await gql<U>(cp.httpUrl, ADMIN, q, { ...range, g: ["MODEL"], f: { virtualKeyId: "vk_other" } });
    expect(none.usage).toEqual([]);
  });
});
