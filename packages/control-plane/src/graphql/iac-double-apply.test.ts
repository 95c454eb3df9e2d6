/**
 * Infrastructure as code: a script of upsert mutations (organization, teams, users, provider
 * account, models, virtual keys, budgets via setBudget) applied twice gives the same state: same
 * ids, no duplicate rows, an identical dump of the organization's objects and an identical policy
 * snapshot. Documented increment: every mutation, even one that changes nothing, writes one audit
 * row and bumps the policy revision by one, so the second run moves the revision by the script's
 * length and changes no row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSnapshot } from "../snapshot/snapshot-builder.js";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { startTestControlPlane, type TestControlPlane } from "../testing/tenant-fixtures.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

type Ids = Record<string, string>;
interface RunResult {
  ids: Ids;
  secrets: Array<string | null>;
  created: boolean[];
}

const VOLATILE_COLUMNS = new Set(["updated_at", "api_key_ciphertext", "api_key_nonce", "api_key_tag"]);

/** Applies the script with `token`; later steps use the ids earlier steps answered. */
async function applyScript(url: string, token: string, steps: { teamName: string }): Promise<RunResult> {
  const run = <T>(name: string, input: Record<string, unknown>, selection: string): Promise<T> =>
    gql<Record<string, T>>(url, token, `mutation($i: ${name.charAt(0).toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $i) { ${selection} } }`, { i: input }).then((r) => r[name] as T);
  const ids: Ids = {};
  const secrets: Array<string | null> = [];
  const created: boolean[] = [];
  ids.org = (await run<{ organization: { id: string } }>("upsertOrganization", { name: "Initech", slug: "initech" }, "organization { id }")).organization.id;
  ids.search = (await run<{ team: { id: string } }>("upsertTeam", { organizationId: ids.org, name: steps.teamName, slug: "search" }, "team { id }")).team.id;
  ids.platform = (await run<{ team: { id: string } }>("upsertTeam", { organizationId: ids.org, name: "Platform", slug: "platform" }, "team { id }")).team.id;
  ids.ada = (await run<{ user: { id: string } }>("upsertUser", { organizationId: ids.org, email: "ada@initech.test", name: "Ada", role: "ADMIN", teamIds: [ids.search] }, "user { id }")).user.id;
  ids.bob = (
    await run<{ user: { id: string } }>("upsertUser", { organizationId: ids.org, email: "Bob@Initech.test", name: "Bob", role: "MEMBER", teamIds: [ids.search, ids.platform] }, "user { id }")
  ).user.id;
  ids.account = (
    await run<{ providerAccount: { id: string } }>(
      "upsertProviderAccount",
      { organizationId: ids.org, name: "openai-main", provider: "OPENAI", apiKey: "sk-iac-test-0000000001" },
      "providerAccount { id }",
    )
  ).providerAccount.id;
  ids.mini = (
    await run<{ model: { id: string } }>("upsertModel", { providerAccountId: ids.account, name: "gpt-4o-mini", inputPricePerMillion: "0.15", outputPricePerMillion: "0.6" }, "model { id }")
  ).model.id;
  ids.full = (
    await run<{ model: { id: string } }>(
      "upsertModel",
      { providerAccountId: ids.account, name: "gpt-4o", inputPricePerMillion: "2.5", outputPricePerMillion: "10", cachedInputPricePerMillion: "1.25", maxOutputTokens: 16384 },
      "model { id }",
    )
  ).model.id;
  for (const [name, input] of [
    [
      "searchKey",
      {
        name: "search-backend",
        kind: "SERVICE",
        teamId: ids.search,
        allowedModels: ["gpt-4o*"],
        maxCostPerRequest: "0.25",
        metadata: { env: "prod" },
        budgets: [{ unit: "USD", window: "MONTH", limit: "100", alertThresholds: [0.8] }],
      },
    ],
    ["bobKey", { name: "bob-laptop", kind: "PERSONAL", userId: ids.bob, deniedModels: ["gpt-4o"] }],
  ] as const) {
    const r = await run<{ virtualKey: { id: string }; secret: string | null; created: boolean }>("upsertVirtualKey", { organizationId: ids.org, ...input }, "virtualKey { id } secret created");
    ids[name] = r.virtualKey.id;
    secrets.push(r.secret);
    created.push(r.created);
  }
  const budget = async (name: string, input: Record<string, unknown>) => {
    ids[name] = (await run<{ budget: { id: string } }>("setBudget", input, "budget { id }")).budget.id;
  };
  await budget("orgBudget", { scope: "ORGANIZATION", scopeId: ids.org, unit: "USD", window: "MONTH", limit: "1000", alertThresholds: [0.5, 0.8, 1.0] });
  await budget("teamBudget", { scope: "TEAM", scopeId: ids.search, unit: "TOKENS", window: "DAY", limit: 1000000, mode: "SOFT" });
  await budget("keyBudget", { scope: "VIRTUAL_KEY", scopeId: ids.bobKey, unit: "REQUESTS", window: "DAY", limit: 500 });
  return { ids, secrets, created };
}

/** The script's length in mutations. */
const SCRIPT_MUTATIONS = 13;

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("an IaC script applied twice on $name", (target) => {
  let tdb: TestDatabase;
  let cp: TestControlPlane;

  beforeAll(async () => {
    tdb = await target.open();
    cp = await startTestControlPlane(tdb.db);
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
  });

  /** Every row of the organization's objects, volatile columns left out, in a stable order. */
  async function dumpOrganization(orgId: string): Promise<Record<string, unknown[]>> {
    const tables: Record<string, string> = {
      organizations: "SELECT * FROM organizations WHERE id = $1",
      teams: "SELECT * FROM teams WHERE organization_id = $1",
      users: "SELECT * FROM users WHERE organization_id = $1",
      user_teams: "SELECT ut.* FROM user_teams ut JOIN users u ON u.id = ut.user_id WHERE u.organization_id = $1",
      provider_accounts: "SELECT * FROM provider_accounts WHERE organization_id = $1",
      models: "SELECT * FROM models WHERE organization_id = $1",
      virtual_keys: "SELECT * FROM virtual_keys WHERE organization_id = $1",
      key_secrets: "SELECT s.* FROM key_secrets s JOIN virtual_keys k ON k.id = s.key_id WHERE k.organization_id = $1",
      budgets: "SELECT * FROM budgets WHERE organization_id = $1",
      rate_limits: "SELECT * FROM rate_limits WHERE organization_id = $1",
      api_tokens: "SELECT * FROM api_tokens WHERE organization_id = $1",
    };
    const dump: Record<string, unknown[]> = {};
    for (const [table, sql] of Object.entries(tables)) {
      const rows = await tdb.db.query<Record<string, unknown>>(sql, [orgId]);
      dump[table] = rows
        .map((r) =>
          JSON.stringify(
            Object.fromEntries(
              Object.entries(r)
                .filter(([k]) => !VOLATILE_COLUMNS.has(k))
                .sort(([x], [y]) => (x < y ? -1 : 1)),
            ),
          ),
        )
        .sort()
        .map((s) => JSON.parse(s) as unknown);
    }
    return dump;
  }

  const revision = async (): Promise<bigint> => BigInt((await gql<{ policyRevision: string }>(cp.url, cp.adminToken, "{ policyRevision }")).policyRevision);
  const auditRows = async (): Promise<number> => Number((await tdb.db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_log"))[0]?.n ?? 0);
  const snapshotWithoutVersion = async (): Promise<string> => {
    const { version: _version, ...rest } = await buildSnapshot(tdb.db, { masterKey: cp.masterKey, nowMs: Date.now() });
    return JSON.stringify(rest, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  };

  it("gives identical state: same ids, no duplicate rows, the same dump and snapshot; secrets only on creation", async () => {
    const first = await applyScript(cp.url, cp.adminToken, { teamName: "Search" });
    expect(first.created).toEqual([true, true]);
    expect(first.secrets.every((s) => typeof s === "string" && s.startsWith("tg_live_"))).toBe(true);
    const orgId = first.ids.org ?? "";
    const dump1 = await dumpOrganization(orgId);
    expect(Object.fromEntries(Object.entries(dump1).map(([t, rows]) => [t, rows.length]))).toEqual({
      organizations: 1,
      teams: 2,
      users: 2,
      user_teams: 3,
      provider_accounts: 1,
      models: 2,
      virtual_keys: 2,
      key_secrets: 2,
      budgets: 4,
      rate_limits: 0,
      api_tokens: 0,
    });
    const snapshot1 = await snapshotWithoutVersion();
    const rev1 = await revision();
    const audit1 = await auditRows();

    const second = await applyScript(cp.url, cp.adminToken, { teamName: "Search" });
    expect(second.ids).toEqual(first.ids);
    expect(second.created).toEqual([false, false]);
    expect(second.secrets).toEqual([null, null]);
    expect(await dumpOrganization(orgId)).toEqual(dump1);
    expect(await snapshotWithoutVersion()).toBe(snapshot1);
    expect(await revision()).toBe(rev1 + BigInt(SCRIPT_MUTATIONS));
    expect((await auditRows()) - audit1).toBe(SCRIPT_MUTATIONS);

    const changed = await applyScript(cp.url, cp.adminToken, { teamName: "Search & Ranking" });
    expect(changed.ids).toEqual(first.ids);
    const dump3 = await dumpOrganization(orgId);
    expect(dump3.teams).not.toEqual(dump1.teams);
    expect({ ...dump3, teams: dump1.teams }).toEqual(dump1);
  });

  it("upsertVirtualKey: kind and owner are fixed, a revoked key is replaced, duplicate live names are a CONFLICT", async () => {
    const org = await gql<{ upsertOrganization: { organization: { id: string } } }>(
      cp.url,
      cp.adminToken,
      `mutation { upsertOrganization(input: {name: "Keys", slug: "keys"}) { organization { id } } }`,
    );
    const orgId = org.upsertOrganization.organization.id;
    const upsert = (input: Record<string, unknown>) =>
      postGraphQL<{ upsertVirtualKey: { virtualKey: { id: string; status: string }; secret: string | null; created: boolean } }>(
        cp.url,
        cp.adminToken,
        `mutation($i: UpsertVirtualKeyInput!) { upsertVirtualKey(input: $i) { virtualKey { id status } secret created } }`,
        { i: { organizationId: orgId, ...input } },
      );
    const first = await upsert({ name: "svc", kind: "SERVICE" });
    const id = first.data?.upsertVirtualKey.virtualKey.id ?? "";
    const user = await gql<{ createUser: { user: { id: string } } }>(cp.url, cp.adminToken, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
      i: { organizationId: orgId, email: "k@keys.test", name: "K" },
    });
    const kindChange = await upsert({ name: "svc", kind: "PERSONAL", userId: user.createUser.user.id });
    expect(errorCode(kindChange)).toBe("BAD_USER_INPUT");
    expect(kindChange.errors?.[0]?.message).toContain("cannot change the kind (SERVICE), userId");
    await gql(cp.url, cp.adminToken, `mutation($i: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $i) { virtualKey { id } } }`, { i: { id } });
    const replaced = await upsert({ name: "svc", kind: "SERVICE" });
    expect(replaced.data?.upsertVirtualKey.created).toBe(true);
    expect(replaced.data?.upsertVirtualKey.virtualKey.id).not.toBe(id);
    expect(replaced.data?.upsertVirtualKey.secret).toMatch(/^tg_live_/);
    await gql(cp.url, cp.adminToken, `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "svc", kind: SERVICE}) { secret } }`);
    expect(errorCode(await upsert({ name: "svc", kind: "SERVICE" }))).toBe("CONFLICT");
  });
});
