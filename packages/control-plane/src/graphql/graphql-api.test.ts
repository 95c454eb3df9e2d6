import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWellFormedSecret, windowEndOf, windowStartOf } from "@tollgate/policy";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { isMigrated, migrate } from "../db/migrate.js";
import { hmacSecret } from "../security/crypto.js";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const ADMIN = "test-admin-token-0123456789";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("GraphQL admin API on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let url: string;
  let dataDir: string;
  let orgId: string;

  beforeAll(async () => {
    tdb = await target.open();
    dataDir = mkdtempSync(join(tmpdir(), "tg-cp-"));
    const config = loadControlPlaneConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64"),
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      LOG_LEVEL: "silent",
    });
    cp = await startControlPlane(config, { database: tdb.db, logger: pino({ level: "silent" }), nodeToken: "test-node-token-0123456789" });
    url = cp.httpUrl;
    const r = await gql<{ createOrganization: { organization: { id: string; slug: string } } }>(
      url,
      ADMIN,
      `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id slug } } }`,
      { i: { name: "Acme", slug: "acme" } },
    );
    orgId = r.createOrganization.organization.id;
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("applied every migration, and applying again changes nothing", async () => {
    expect(await isMigrated(tdb.db)).toBe(true);
    expect(await migrate(tdb.db)).toEqual([]);
  });

  it("refuses requests without a valid bearer token", async () => {
    const none = await postGraphQL(url, null, "{ organizations { id } }");
    expect(errorCode(none)).toBe("UNAUTHENTICATED");
    expect(none.data).toBeNull();
    const wrong = await postGraphQL(url, "not-the-token", "{ me { kind } }");
    expect(errorCode(wrong)).toBe("UNAUTHENTICATED");
    const me = await gql<{ me: { kind: string } }>(url, ADMIN, "{ me { kind } }");
    expect(me.me.kind).toBe("PLATFORM_ADMIN");
  });

  it("creates an organization with a prefixed id; a duplicate slug is a CONFLICT; upsert twice is the same object", async () => {
    expect(orgId).toMatch(/^org_/);
    const dup = await postGraphQL(url, ADMIN, `mutation { createOrganization(input: {name: "Other", slug: "acme"}) { organization { id } } }`);
    expect(errorCode(dup)).toBe("CONFLICT");
    const upsert = `mutation($i: UpsertOrganizationInput!) { upsertOrganization(input: $i) { organization { id name slug } } }`;
    type U = { upsertOrganization: { organization: { id: string; name: string } } };
    const a = await gql<U>(url, ADMIN, upsert, { i: { name: "Globex", slug: "globex" } });
    const b = await gql<U>(url, ADMIN, upsert, { i: { name: "Globex Corp", slug: "globex" } });
    expect(b.upsertOrganization.organization.id).toBe(a.upsertOrganization.organization.id);
    expect(b.upsertOrganization.organization.name).toBe("Globex Corp");
    const byAcme = await gql<U>(url, ADMIN, upsert, { i: { name: "Acme", slug: "acme" } });
    expect(byAcme.upsertOrganization.organization.id).toBe(orgId);
  });

  it("answers NOT_FOUND for unknown ids and BAD_USER_INPUT for invalid input", async () => {
    expect(errorCode(await postGraphQL(url, ADMIN, `{ organization(id: "org_missing") { id } }`))).toBe("NOT_FOUND");
    expect(errorCode(await postGraphQL(url, ADMIN, `{ virtualKey(id: "vk_missing") { id } }`))).toBe("NOT_FOUND");
    const badSlug = await postGraphQL(url, ADMIN, `mutation { createOrganization(input: {name: "X", slug: "Not A Slug"}) { organization { id } } }`);
    expect(errorCode(badSlug)).toBe("BAD_USER_INPUT");
    expect(badSlug.errors?.[0]?.message).toContain("slug");
  });

  it("creates teams and users, with CONFLICT on duplicates and upserts by natural key", async () => {
    const team = await gql<{ createTeam: { team: { id: string; slug: string } } }>(url, ADMIN, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id slug } } }`, {
      i: { organizationId: orgId, name: "Search", slug: "search" },
    });
    expect(team.createTeam.team.id).toMatch(/^team_/);
    expect(errorCode(await postGraphQL(url, ADMIN, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }`, { i: { organizationId: orgId, name: "S", slug: "search" } }))).toBe(
      "CONFLICT",
    );
    const up = await gql<{ upsertTeam: { team: { id: string } } }>(url, ADMIN, `mutation($i: UpsertTeamInput!) { upsertTeam(input: $i) { team { id } } }`, {
      i: { organizationId: orgId, name: "Search!", slug: "search" },
    });
    expect(up.upsertTeam.team.id).toBe(team.createTeam.team.id);

    const userMutation = `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id email role active teamIds } } }`;
    const user = await gql<{ createUser: { user: { id: string; email: string; role: string; teamIds: string[] } } }>(url, ADMIN, userMutation, {
      i: { organizationId: orgId, email: "Ada@Example.com", name: "Ada", role: "ADMIN", teamIds: [team.createTeam.team.id] },
    });
    expect(user.createUser.user).toMatchObject({ email: "ada@example.com", role: "ADMIN", teamIds: [team.createTeam.team.id] });
    expect(errorCode(await postGraphQL(url, ADMIN, userMutation, { i: { organizationId: orgId, email: "ada@example.com", name: "Ada 2" } }))).toBe("CONFLICT");
    const upUser = await gql<{ upsertUser: { user: { id: string; teamIds: string[] } } }>(url, ADMIN, `mutation($i: UpsertUserInput!) { upsertUser(input: $i) { user { id teamIds } } }`, {
      i: { organizationId: orgId, email: "ada@example.com", name: "Ada L" },
    });
    expect(upUser.upsertUser.user).toEqual({ id: user.createUser.user.id, teamIds: [] });
    const deact = await gql<{ deactivateUser: { user: { active: boolean } } }>(url, ADMIN, `mutation($i: DeactivateUserInput!) { deactivateUser(input: $i) { user { active } } }`, {
      i: { id: user.createUser.user.id },
    });
    expect(deact.deactivateUser.user.active).toBe(false);
  });

  it("keeps provider API keys write-only and encrypted at rest", async () => {
    const apiKey = "sk-test-SuperSecretProviderKey-wxyz";
    const r = await gql<{ createProviderAccount: { providerAccount: { id: string; apiKeyHint: string; baseUrl: string } } }>(
      url,
      ADMIN,
      `mutation($i: CreateProviderAccountInput!) { createProviderAccount(input: $i) { providerAccount { id apiKeyHint baseUrl } } }`,
      { i: { organizationId: orgId, name: "openai-main", provider: "OPENAI", apiKey } },
    );
    const account = r.createProviderAccount.providerAccount;
    expect(account.apiKeyHint).toBe("sk-...wxyz");
    expect(account.baseUrl).toBe("https://api.openai.com/v1");
    const readKey = await postGraphQL(url, ADMIN, `{ organization(id: "${orgId}") { providerAccounts { apiKey } } }`);
    expect(errorCode(readKey)).toBe("GRAPHQL_VALIDATION_FAILED");
    const rows = await tdb.db.query<{ api_key_ciphertext: Uint8Array; api_key_nonce: Uint8Array; api_key_tag: Uint8Array }>(
      "SELECT api_key_ciphertext, api_key_nonce, api_key_tag FROM provider_accounts WHERE id = $1",
      [account.id],
    );
    const raw = Buffer.from(rows[0]?.api_key_ciphertext ?? new Uint8Array());
    expect(raw.length).toBe(Buffer.byteLength(apiKey));
    expect(raw.toString("utf8")).not.toContain("SuperSecret");
    expect(Buffer.from(rows[0]?.api_key_nonce ?? new Uint8Array()).length).toBe(12);
    expect(Buffer.from(rows[0]?.api_key_tag ?? new Uint8Array()).length).toBe(16);
    const google = await gql<{ createProviderAccount: { providerAccount: { baseUrl: string } } }>(
      url,
      ADMIN,
      `mutation($i: CreateProviderAccountInput!) { createProviderAccount(input: $i) { providerAccount { baseUrl } } }`,
      { i: { organizationId: orgId, name: "gemini", provider: "GOOGLE", apiKey: "AIza-test-key-123456" } },
    );
    expect(google.createProviderAccount.providerAccount.baseUrl).toBe("https://generativelanguage.googleapis.com");
  });

  it("creates models with Decimal prices; bad Decimals are BAD_USER_INPUT; duplicate names CONFLICT", async () => {
    const acc = await gql<{ upsertProviderAccount: { providerAccount: { id: string } } }>(
      url,
      ADMIN,
      `mutation($i: UpsertProviderAccountInput!) { upsertProviderAccount(input: $i) { providerAccount { id } } }`,
      { i: { organizationId: orgId, name: "anthropic", provider: "ANTHROPIC", apiKey: "sk-ant-test-000000001" } },
    );
    const accountId = acc.upsertProviderAccount.providerAccount.id;
    const create = `mutation($i: CreateModelInput!) { createModel(input: $i) { model { id name upstreamModel inputPricePerMillion outputPricePerMillion cachedInputPricePerMillion maxOutputTokens priced } } }`;
    const m = await gql<{ createModel: { model: Record<string, unknown> } }>(url, ADMIN, create, {
      i: { providerAccountId: accountId, name: "claude-haiku", inputPricePerMillion: "0.8", outputPricePerMillion: 4 },
    });
    expect(m.createModel.model).toMatchObject({
      name: "claude-haiku",
      upstreamModel: "claude-haiku",
      inputPricePerMillion: "0.80",
      outputPricePerMillion: "4.00",
      cachedInputPricePerMillion: null,
      maxOutputTokens: 4096,
      priced: true,
    });
    expect(errorCode(await postGraphQL(url, ADMIN, create, { i: { providerAccountId: accountId, name: "claude-haiku" } }))).toBe("CONFLICT");
    const badVar = await postGraphQL(url, ADMIN, create, { i: { providerAccountId: accountId, name: "x1", inputPricePerMillion: "abc", outputPricePerMillion: "1" } });
    expect(errorCode(badVar)).toBe("BAD_USER_INPUT");
    const tooPrecise = await postGraphQL(url, ADMIN, create, { i: { providerAccountId: accountId, name: "x2", inputPricePerMillion: "0.0000001", outputPricePerMillion: "1" } });
    expect(errorCode(tooPrecise)).toBe("BAD_USER_INPUT");
    const badLiteral = await postGraphQL(
      url,
      ADMIN,
      `mutation { createModel(input: {providerAccountId: "${accountId}", name: "x3", inputPricePerMillion: "-1", outputPricePerMillion: "1"}) { model { id } } }`,
    );
    expect(errorCode(badLiteral)).toBe("BAD_USER_INPUT");
    const unpriced = await gql<{ createModel: { model: { priced: boolean; inputPricePerMillion: string | null } } }>(url, ADMIN, create, { i: { providerAccountId: accountId, name: "claude-free" } });
    expect(unpriced.createModel.model).toMatchObject({ priced: false, inputPricePerMillion: null });
    const upsert = `mutation($i: UpsertModelInput!) { upsertModel(input: $i) { model { id outputPricePerMillion } } }`;
    type M = { upsertModel: { model: { id: string; outputPricePerMillion: string } } };
    const u1 = await gql<M>(url, ADMIN, upsert, { i: { providerAccountId: accountId, name: "claude-haiku", inputPricePerMillion: "0.8", outputPricePerMillion: "5" } });
    expect(u1.upsertModel.model).toEqual({ id: (m.createModel.model as { id: string }).id, outputPricePerMillion: "5.00" });
  });

  it("shows a key's secret once and stores only its HMAC", async () => {
    const r = await gql<{ createVirtualKey: { virtualKey: { id: string; name: string; status: string; prefix: string; last4: string; kind: string }; secret: string } }>(
      url,
      ADMIN,
      `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id name status prefix last4 kind } secret } }`,
      {
        i: {
          organizationId: orgId,
          name: "ci",
          kind: "SERVICE",
          allowedModels: ["claude-*"],
          deniedModels: ["claude-free"],
          maxCostPerRequest: "0.50",
          metadata: { owner: "ci" },
          budgets: [
            { unit: "USD", window: "DAY", limit: "10" },
            { unit: "TOKENS", window: "MONTH", limit: 1000000, mode: "SOFT" },
          ],
          rateLimits: [{ unit: "REQUESTS", limit: 60, windowSeconds: 60 }],
        },
      },
    );
    const { virtualKey: key, secret } = r.createVirtualKey;
    expect(key.id).toMatch(/^vk_/);
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(key).toMatchObject({ name: "ci", status: "ACTIVE", kind: "SERVICE", prefix: secret.slice(0, 12), last4: secret.slice(-4) });
    const pepper = (await tdb.db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'hmac_pepper'"))[0]?.value ?? "";
    const stored = await tdb.db.query<{ hmac: string }>("SELECT hmac FROM key_secrets WHERE key_id = $1", [key.id]);
    expect(stored.map((s) => s.hmac)).toEqual([hmacSecret(pepper, secret)]);
    const dump = JSON.stringify(await tdb.db.query("SELECT * FROM virtual_keys")) + JSON.stringify(await tdb.db.query("SELECT * FROM audit_log"));
    expect(dump).not.toContain(secret.slice(12, 40));

    const read = await gql<{ virtualKey: { maxCostPerRequest: string; metadata: unknown; allowedModels: string[]; rateLimits: unknown[]; budgets: Array<Record<string, unknown>> } }>(
      url,
      ADMIN,
      `query($id: ID!) { virtualKey(id: $id) { maxCostPerRequest metadata allowedModels rateLimits { unit limit windowSeconds } budgets { id unit window limit mode enforcement used remaining resetsAt } } }`,
      { id: key.id },
    );
    expect(read.virtualKey).toMatchObject({ maxCostPerRequest: "0.50", metadata: { owner: "ci" }, allowedModels: ["claude-*"], rateLimits: [{ unit: "REQUESTS", limit: 60, windowSeconds: 60 }] });
    const now = Date.now();
    const usd = read.virtualKey.budgets.find((b) => b.unit === "USD");
    expect(usd).toMatchObject({ window: "DAY", limit: "10.00", mode: "HARD", enforcement: "CAP_OUTPUT", used: "0.00", remaining: "10.00" });
    expect(usd?.resetsAt).toBe(new Date(windowEndOf("DAY", windowStartOf("DAY", now)) ?? 0).toISOString());
    expect(read.virtualKey.budgets.find((b) => b.unit === "TOKENS")).toMatchObject({ limit: "1000000", used: "0", remaining: "1000000", mode: "SOFT" });

    const jwt = await gql<{ createVirtualKey: { secret: string; virtualKey: { format: string } } }>(
      url,
      ADMIN,
      `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "j", kind: SERVICE, format: JWT}) { secret virtualKey { format } } }`,
    );
    expect(jwt.createVirtualKey.virtualKey.format).toBe("JWT");
    expect(jwt.createVirtualKey.secret.split(".")).toHaveLength(3);
    const personalWithoutUser = await postGraphQL(url, ADMIN, `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "p", kind: PERSONAL}) { secret } }`);
    expect(errorCode(personalWithoutUser)).toBe("BAD_USER_INPUT");
  });

  it("pauses, resumes, rotates and revokes keys; revoking bumps the policy revision", async () => {
    const created = await gql<{ createVirtualKey: { virtualKey: { id: string }; secret: string } }>(
      url,
      ADMIN,
      `mutation { createVirtualKey(input: {organizationId: "${orgId}", name: "rotating", kind: SERVICE}) { virtualKey { id } secret } }`,
    );
    const id = created.createVirtualKey.virtualKey.id;
    const status = async (m: string): Promise<string> =>
      (await gql<Record<string, { virtualKey: { status: string } }>>(url, ADMIN, `mutation { ${m}(input: {id: "${id}"}) { virtualKey { status } } }`))[m]?.virtualKey.status ?? "";
    expect(await status("pauseVirtualKey")).toBe("PAUSED");
    expect(await status("resumeVirtualKey")).toBe("ACTIVE");

    const rotated = await gql<{ rotateVirtualKey: { virtualKey: { id: string; prefix: string }; secret: string } }>(
      url,
      ADMIN,
      `mutation { rotateVirtualKey(input: {id: "${id}", gracePeriodSeconds: 3600}) { virtualKey { id prefix } secret } }`,
    );
    expect(rotated.rotateVirtualKey.virtualKey.id).toBe(id);
    expect(rotated.rotateVirtualKey.secret).not.toBe(created.createVirtualKey.secret);
    const secrets = await tdb.db.query<{ valid_until: Date | null }>("SELECT valid_until FROM key_secrets WHERE key_id = $1 ORDER BY created_at, valid_until NULLS LAST", [id]);
    expect(secrets).toHaveLength(2);
    const ends = secrets.map((s) => s.valid_until?.getTime() ?? null);
    expect(ends.filter((v) => v === null)).toHaveLength(1);
    const graceEnd = ends.find((v) => v !== null) ?? 0;
    expect(Math.abs(graceEnd - (Date.now() + 3_600_000))).toBeLessThan(60_000);

    const before = BigInt((await gql<{ policyRevision: string }>(url, ADMIN, "{ policyRevision }")).policyRevision);
    expect(await status("revokeVirtualKey")).toBe("REVOKED");
    const after = BigInt((await gql<{ policyRevision: string }>(url, ADMIN, "{ policyRevision }")).policyRevision);
    expect(after).toBe(before + 1n);
    expect(errorCode(await postGraphQL(url, ADMIN, `mutation { resumeVirtualKey(input: {id: "${id}"}) { virtualKey { status } } }`))).toBe("BAD_USER_INPUT");
  });

  it("sets one budget per scope, unit and window, and removes it", async () => {
    const team = await gql<{ upsertTeam: { team: { id: string } } }>(url, ADMIN, `mutation { upsertTeam(input: {organizationId: "${orgId}", name: "ML", slug: "ml"}) { team { id } } }`);
    const set = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id scope scopeId unit window limit mode alertThresholds } } }`;
    type B = { setBudget: { budget: { id: string; limit: string; alertThresholds: number[] } } };
    const a = await gql<B>(url, ADMIN, set, { i: { scope: "TEAM", scopeId: team.upsertTeam.team.id, unit: "USD", window: "MONTH", limit: "100", alertThresholds: [0.8, 0.5] } });
    const b = await gql<B>(url, ADMIN, set, { i: { scope: "TEAM", scopeId: team.upsertTeam.team.id, unit: "USD", window: "MONTH", limit: "250.5" } });
    expect(b.setBudget.budget.id).toBe(a.setBudget.budget.id);
    expect(a.setBudget.budget.alertThresholds).toEqual([0.5, 0.8]);
    expect(b.setBudget.budget.limit).toBe("250.50");
    const tokens = await postGraphQL(url, ADMIN, set, { i: { scope: "TEAM", scopeId: team.upsertTeam.team.id, unit: "TOKENS", window: "DAY", limit: "1.5" } });
    expect(errorCode(tokens)).toBe("BAD_USER_INPUT");
    expect(errorCode(await postGraphQL(url, ADMIN, set, { i: { scope: "TEAM", scopeId: "team_missing", unit: "USD", window: "DAY", limit: "1" } }))).toBe("NOT_FOUND");
    const removed = await gql<{ removeBudget: { budget: { id: string } } }>(url, ADMIN, `mutation { removeBudget(input: {id: "${a.setBudget.budget.id}"}) { budget { id } } }`);
    expect(removed.removeBudget.budget.id).toBe(a.setBudget.budget.id);
    expect(errorCode(await postGraphQL(url, ADMIN, `mutation { removeBudget(input: {id: "${a.setBudget.budget.id}"}) { budget { id } } }`))).toBe("NOT_FOUND");
  });

  it("pages virtual keys and the audit log as connections", async () => {
    const org = await gql<{ createOrganization: { organization: { id: string } } }>(url, ADMIN, `mutation { createOrganization(input: {name: "Paging", slug: "paging"}) { organization { id } } }`);
    const pid = org.createOrganization.organization.id;
    for (const name of ["k1", "k2", "k3"]) await gql(url, ADMIN, `mutation { createVirtualKey(input: {organizationId: "${pid}", name: "${name}", kind: SERVICE}) { secret } }`);
    type C = { virtualKeys: { edges: Array<{ cursor: string; node: { name: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
    const q = `query($o: ID!, $after: String) { virtualKeys(organizationId: $o, first: 2, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }`;
    const p1 = await gql<C>(url, ADMIN, q, { o: pid });
    expect(p1.virtualKeys.edges.map((e) => e.node.name)).toEqual(["k1", "k2"]);
    expect(p1.virtualKeys.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql<C>(url, ADMIN, q, { o: pid, after: p1.virtualKeys.pageInfo.endCursor });
    expect(p2.virtualKeys.edges.map((e) => e.node.name)).toEqual(["k3"]);
    expect(p2.virtualKeys.pageInfo.hasNextPage).toBe(false);
    const filtered = await gql<C>(
      url,
      ADMIN,
      `query($o: ID!) { virtualKeys(organizationId: $o, filter: {nameContains: "K2"}) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }`,
      { o: pid },
    );
    expect(filtered.virtualKeys.edges.map((e) => e.node.name)).toEqual(["k2"]);

    type A = { auditLog: { edges: Array<{ node: { action: string; actor: string; target: string; createdAt: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    const aq = `query($o: ID!, $after: String) { auditLog(organizationId: $o, first: 3, after: $after) { edges { node { id action actor target createdAt } } pageInfo { hasNextPage endCursor } } }`;
    const a1 = await gql<A>(url, ADMIN, aq, { o: pid });
    expect(a1.auditLog.edges.map((e) => e.node.action)).toEqual(["virtual_key.create", "virtual_key.create", "virtual_key.create"]);
    expect(a1.auditLog.edges[0]?.node.actor).toBe("platform-admin");
    expect(a1.auditLog.pageInfo.hasNextPage).toBe(true);
    const a2 = await gql<A>(url, ADMIN, aq, { o: pid, after: a1.auditLog.pageInfo.endCursor });
    expect(a2.auditLog.edges.map((e) => e.node.action)).toEqual(["organization.create"]);
    expect(a2.auditLog.edges[0]?.node.target).toBe(pid);
  });
});
