/**
 * Test support: a control plane on a test database, and an organization seeded through the API
 * with an ADMIN, two MEMBERs (API tokens for the admin and the first member), a team, a provider
 * account and two priced models.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane } from "../control-plane.js";
import type { Database } from "../db/database.js";
import { gql } from "./graphql-client.js";

/** The platform admin token of test control planes. */
export const TEST_ADMIN_TOKEN = "test-admin-token-rights-0123456789";

/** A control plane started for a test file. */
export interface TestControlPlane {
  readonly url: string;
  readonly db: Database;
  readonly adminToken: string;
  /** The master key provider credentials are sealed with (to build snapshots in tests). */
  readonly masterKey: Buffer;
  close(): Promise<void>;
}

/** Starts a control plane (HTTP and gRPC on free ports) on `db`; the caller keeps the database. */
export async function startTestControlPlane(db: Database, now?: () => number): Promise<TestControlPlane> {
  const dataDir = mkdtempSync(join(tmpdir(), "tg-rights-"));
  const masterKey = randomBytes(32);
  const config = loadControlPlaneConfig({
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    TOLLGATE_MASTER_KEY: masterKey.toString("base64"),
    CONTROL_PLANE_HTTP_PORT: "0",
    CONTROL_PLANE_GRPC_PORT: "0",
    LOG_LEVEL: "silent",
  });
  const cp = await startControlPlane(config, { database: db, logger: pino({ level: "silent" }), nodeToken: "test-node-token-rights-0123", ...(now ? { now } : {}) });
  return {
    url: cp.httpUrl,
    db,
    adminToken: TEST_ADMIN_TOKEN,
    masterKey,
    async close() {
      await cp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An organization seeded for rights tests. */
export interface Tenant {
  readonly orgId: string;
  readonly slug: string;
  readonly teamId: string;
  readonly adminUserId: string;
  readonly adminToken: string;
  readonly memberUserId: string;
  readonly memberToken: string;
  readonly otherMemberUserId: string;
  readonly accountId: string;
  /** Model names: "chat-small" and "chat-large" on account "acct". */
  readonly modelIds: readonly string[];
}

/** Creates a user through the API; resolves to its id. */
export async function createTestUser(url: string, token: string, organizationId: string, email: string, role: "ADMIN" | "MEMBER", teamIds: string[] = []): Promise<string> {
  const r = await gql<{ createUser: { user: { id: string } } }>(url, token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
    i: { organizationId, email, name: email.split("@")[0], role, teamIds },
  });
  return r.createUser.user.id;
}

/** Issues an API token for a user; resolves to the secret. */
export async function createTestToken(url: string, token: string, organizationId: string, userId: string): Promise<string> {
  const r = await gql<{ createApiToken: { secret: string } }>(url, token, `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret } }`, {
    i: { organizationId, userId, name: "test" },
  });
  return r.createApiToken.secret;
}

/** Seeds an organization with the platform admin token. */
export async function seedTenant(cp: TestControlPlane, slug: string): Promise<Tenant> {
  const { url, adminToken: root } = cp;
  const org = await gql<{ createOrganization: { organization: { id: string } } }>(url, root, `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }`, {
    i: { name: slug, slug },
  });
  const orgId = org.createOrganization.organization.id;
  const team = await gql<{ createTeam: { team: { id: string } } }>(url, root, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }`, {
    i: { organizationId: orgId, name: "Core", slug: "core" },
  });
  const teamId = team.createTeam.team.id;
  const adminUserId = await createTestUser(url, root, orgId, `admin@${slug}.test`, "ADMIN");
  const memberUserId = await createTestUser(url, root, orgId, `member@${slug}.test`, "MEMBER", [teamId]);
  const otherMemberUserId = await createTestUser(url, root, orgId, `other@${slug}.test`, "MEMBER", [teamId]);
  const account = await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
    url,
    root,
    `mutation($i: CreateProviderAccountInput!) { createProviderAccount(input: $i) { providerAccount { id } } }`,
    { i: { organizationId: orgId, name: "acct", provider: "OPENAI", apiKey: "sk-test-rights-000000000" } },
  );
  const accountId = account.createProviderAccount.providerAccount.id;
  const modelIds: string[] = [];
  for (const name of ["chat-small", "chat-large"]) {
    const m = await gql<{ createModel: { model: { id: string } } }>(url, root, `mutation($i: CreateModelInput!) { createModel(input: $i) { model { id } } }`, {
      i: { providerAccountId: accountId, name, inputPricePerMillion: "1", outputPricePerMillion: "2" },
    });
    modelIds.push(m.createModel.model.id);
  }
  return {
    orgId,
    slug,
    teamId,
    adminUserId,
    memberUserId,
    otherMemberUserId,
    accountId,
    modelIds,
    adminToken: await createTestToken(url, root, orgId, adminUserId),
    memberToken: await createTestToken(url, root, orgId, memberUserId),
  };
}
