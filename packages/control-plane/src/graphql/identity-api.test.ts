/**
 * Identity and rights through the API: API tokens (hashed, shown once, dead at once when revoked or
 * when their user is deactivated, removed or demoted), members' own personal keys and usage,
 * user edits and removal (keys revoked in the same transaction), and the snapshot refusing the
 * personal keys of a deactivated user.
 */
import { authenticateKey, buildPolicyIndex } from "@tollgate/policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hmacSecret } from "../security/crypto.js";
import { buildSnapshot } from "../snapshot/snapshot-builder.js";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { createTestToken, createTestUser, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from "../testing/tenant-fixtures.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const CREATE_KEY = `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id status userId } secret } }`;
type Created = { createVirtualKey: { virtualKey: { id: string; status: string; userId: string | null }; secret: string } };

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("identity and rights on $name", (target) => {
  let tdb: TestDatabase;
  let cp: TestControlPlane;
  let a: Tenant;
  let pepper: string;

  beforeAll(async () => {
    tdb = await target.open();
    cp = await startTestControlPlane(tdb.db);
    a = await seedTenant(cp, "ident-a");
    pepper = (await tdb.db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'hmac_pepper'"))[0]?.value ?? "";
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
  });

  const me = (token: string) =>
    postGraphQL<{ me: { kind: string; organizationId: string | null; user: { id: string; role: string } | null } }>(cp.url, token, "{ me { kind organizationId user { id role } } }");
  const keyAuth = async (secret: string) => {
    const index = buildPolicyIndex(await buildSnapshot(tdb.db, { masterKey: cp.masterKey, nowMs: Date.now() }));
    return authenticateKey(index, hmacSecret(pepper, secret), Date.now());
  };

  it("issues API tokens shown once and stored as an HMAC; they carry their user's rights and die when revoked", async () => {
    const userId = await createTestUser(cp.url, cp.adminToken, a.orgId, "tok@ident-a.test", "ADMIN");
    const r = await gql<{ createApiToken: { apiToken: { id: string; prefix: string; userId: string; organizationId: string; lastUsedAt: string | null }; secret: string } }>(
      cp.url,
      a.adminToken,
      `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { apiToken { id prefix userId organizationId createdAt lastUsedAt } secret } }`,
      { i: { organizationId: a.orgId, userId, name: "ci" } },
    );
    const { apiToken, secret } = r.createApiToken;
    expect(secret).toMatch(/^tg_api_[A-Za-z0-9_-]{43}$/);
    expect(apiToken).toMatchObject({ prefix: secret.slice(0, 12), userId, organizationId: a.orgId, lastUsedAt: null });
    expect(apiToken.id).toMatch(/^tok_/);
    const stored = await tdb.db.query<{ token_hash: string }>("SELECT token_hash FROM api_tokens WHERE id = $1", [apiToken.id]);
    expect(stored[0]?.token_hash).toBe(hmacSecret(pepper, secret));
    const dump = JSON.stringify(await tdb.db.query("SELECT * FROM api_tokens")) + JSON.stringify(await tdb.db.query("SELECT * FROM audit_log"));
    expect(dump).not.toContain(secret.slice(12));

    expect((await me(secret)).data?.me).toEqual({ kind: "USER", organizationId: a.orgId, user: { id: userId, role: "ADMIN" } });
    const listed = await gql<{ apiTokens: Array<{ id: string; lastUsedAt: string | null }> }>(
      cp.url,
      a.adminToken,
      `query($o: ID!, $u: ID) { apiTokens(organizationId: $o, userId: $u) { id lastUsedAt } }`,
      { o: a.orgId, u: userId },
    );
    expect(listed.apiTokens).toHaveLength(1);
    expect(listed.apiTokens[0]?.lastUsedAt).not.toBeNull();

    const revoked = await gql<{ revokeApiToken: { apiToken: { revokedAt: string | null } } }>(
      cp.url,
      a.adminToken,
      `mutation($i: RevokeApiTokenInput!) { revokeApiToken(input: $i) { apiToken { revokedAt } } }`,
      { i: { id: apiToken.id } },
    );
    expect(revoked.revokeApiToken.apiToken.revokedAt).not.toBeNull();
    expect(errorCode(await me(secret))).toBe("UNAUTHENTICATED");
    expect(errorCode(await me(`${secret}x`))).toBe("UNAUTHENTICATED");
  });

  it("reads the role on every request: a demoted admin loses admin rights, a deactivated user's token stops at once", async () => {
    const userId = await createTestUser(cp.url, cp.adminToken, a.orgId, "demoted@ident-a.test", "ADMIN");
    const token = await createTestToken(cp.url, cp.adminToken, a.orgId, userId);
    const createTeam = (slug: string) => postGraphQL(cp.url, token, `mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }`, { i: { organizationId: a.orgId, name: slug, slug } });
    expect(errorCode(await createTeam("before-demotion"))).toBeUndefined();
    await gql(cp.url, a.adminToken, `mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role } } }`, { i: { id: userId, role: "MEMBER" } });
    expect(errorCode(await createTeam("after-demotion"))).toBe("FORBIDDEN");
    expect((await me(token)).data?.me.user?.role).toBe("MEMBER");
    await gql(cp.url, a.adminToken, `mutation($i: DeactivateUserInput!) { deactivateUser(input: $i) { user { active } } }`, { i: { id: userId } });
    expect(errorCode(await me(token))).toBe("UNAUTHENTICATED");
    const issue = await postGraphQL(cp.url, a.adminToken, `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret } }`, { i: { organizationId: a.orgId, userId, name: "x" } });
    expect(errorCode(issue)).toBe("BAD_USER_INPUT");
  });

  it("lets a member create, list and manage only their own personal keys, within the models they may use", async () => {
    const create = (input: Record<string, unknown>) => postGraphQL<Created>(cp.url, a.memberToken, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId: a.memberUserId, ...input } });
    const own = await create({ name: "laptop", allowedModels: ["chat-*"] });
    expect(own.errors).toBeUndefined();
    expect(own.data?.createVirtualKey.virtualKey).toMatchObject({ status: "ACTIVE", userId: a.memberUserId });
    expect(errorCode(await create({ name: "svc", kind: "SERVICE", userId: null }))).toBe("FORBIDDEN");
    expect(errorCode(await create({ name: "theirs", userId: a.otherMemberUserId }))).toBe("FORBIDDEN");
    expect(errorCode(await create({ name: "team", teamId: a.teamId }))).toBe("FORBIDDEN");

    // The member's user-level deny list (written as setModelAccess stores it) bounds what their keys may allow.
    await tdb.db.query("UPDATE users SET denied_models = '{chat-large}' WHERE id = $1", [a.memberUserId]);
    try {
      const wide = await create({ name: "wide", allowedModels: ["chat-*"] });
      expect(errorCode(wide)).toBe("FORBIDDEN");
      expect(wide.errors?.[0]?.message).toBe('allowedModels: "chat-*" includes model "chat-large", which you may not use');
      expect(errorCode(await create({ name: "qualified", allowedModels: ["acct/chat-large"] }))).toBe("FORBIDDEN");
      expect(errorCode(await create({ name: "narrow", allowedModels: ["chat-small", "future-model"] }))).toBeUndefined();
      const id = own.data?.createVirtualKey.virtualKey.id ?? "";
      const update = (input: Record<string, unknown>) =>
        postGraphQL(cp.url, a.memberToken, `mutation($i: UpdateVirtualKeyInput!) { updateVirtualKey(input: $i) { virtualKey { id allowedModels } } }`, { i: { id, ...input } });
      expect(errorCode(await update({ allowedModels: ["chat-large"] }))).toBe("FORBIDDEN");
      expect(errorCode(await update({ teamId: a.teamId }))).toBe("FORBIDDEN");
      expect(errorCode(await update({ allowedModels: ["chat-small"], name: "laptop-2" }))).toBeUndefined();
      // An admin is not bound by the member's lists (the request-time chain still is).
      const byAdmin = await postGraphQL<Created>(cp.url, a.adminToken, CREATE_KEY, {
        i: { organizationId: a.orgId, kind: "PERSONAL", userId: a.memberUserId, name: "by-admin", allowedModels: ["chat-*"] },
      });
      expect(byAdmin.errors).toBeUndefined();
    } finally {
      await tdb.db.query("UPDATE users SET denied_models = '{}' WHERE id = $1", [a.memberUserId]);
    }

    await gql<Created>(cp.url, cp.adminToken, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId: a.otherMemberUserId, name: "other's" } });
    const list = `query($o: ID!, $f: VirtualKeyFilter) { virtualKeys(organizationId: $o, filter: $f, first: 500) { edges { node { userId kind } } } }`;
    type L = { virtualKeys: { edges: Array<{ node: { userId: string | null; kind: string } }> } };
    const mine = await gql<L>(cp.url, a.memberToken, list, { o: a.orgId });
    expect(mine.virtualKeys.edges.length).toBeGreaterThanOrEqual(3);
    expect(new Set(mine.virtualKeys.edges.map((e) => e.node.userId))).toEqual(new Set([a.memberUserId]));
    const all = await gql<L>(cp.url, a.adminToken, list, { o: a.orgId });
    expect(all.virtualKeys.edges.some((e) => e.node.userId === a.otherMemberUserId)).toBe(true);
    expect(errorCode(await postGraphQL(cp.url, a.memberToken, list, { o: a.orgId, f: { userId: a.otherMemberUserId } }))).toBe("FORBIDDEN");
  });

  it("forces a member's usage query to their own usage", async () => {
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    for (const [user, requests] of [
      [a.memberUserId, 3],
      [a.otherMemberUserId, 5],
    ] as const) {
      await tdb.db.query(
        `INSERT INTO usage_hourly (organization_id, hour_start_ms, virtual_key_id, user_id, team_id, model, provider_account_id, requests, blocked, input_tokens, cached_input_tokens, output_tokens, cost_picos)
         VALUES ($1, $2, $3, $4, '', 'chat-small', $5, $6, 0, 10, 0, 10, 100)`,
        [a.orgId, hour, `vk_of_${user}`, user, a.accountId, requests],
      );
    }
    const q = `query($o: ID!) { usage(organizationId: $o, groupBy: [USER]) { group { userId } requests } }`;
    type U = { usage: Array<{ group: { userId: string }; requests: number }> };
    expect((await gql<U>(cp.url, a.memberToken, q, { o: a.orgId })).usage).toEqual([{ group: { userId: a.memberUserId }, requests: 3 }]);
    expect((await gql<U>(cp.url, a.adminToken, q, { o: a.orgId })).usage.map((r) => r.requests).sort()).toEqual([3, 5]);
  });

  it("updates users (name, role, teams) within their organization only", async () => {
    const userId = await createTestUser(cp.url, a.adminToken, a.orgId, "edit@ident-a.test", "MEMBER");
    const upd = `mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id name role teamIds } } }`;
    const r = await gql<{ updateUser: { user: Record<string, unknown> } }>(cp.url, a.adminToken, upd, { i: { id: userId, name: "Edited", role: "ADMIN", teamIds: [a.teamId] } });
    expect(r.updateUser.user).toEqual({ id: userId, name: "Edited", role: "ADMIN", teamIds: [a.teamId] });
    const other = await seedTenant(cp, "ident-b");
    expect(errorCode(await postGraphQL(cp.url, a.adminToken, upd, { i: { id: userId, teamIds: [other.teamId] } }))).toBe("BAD_USER_INPUT");
    const kept = await gql<{ updateUser: { user: Record<string, unknown> } }>(cp.url, a.adminToken, upd, { i: { id: userId, name: "Again" } });
    expect(kept.updateUser.user).toMatchObject({ role: "ADMIN", teamIds: [a.teamId] });
    const log = await gql<{ auditLog: { edges: Array<{ node: { action: string; actor: string; target: string; before: Record<string, unknown>; after: Record<string, unknown> } }> } }>(
      cp.url,
      a.adminToken,
      `query($o: ID!) { auditLog(organizationId: $o, first: 1) { edges { node { action actor target before after } } } }`,
      { o: a.orgId },
    );
    expect(log.auditLog.edges[0]?.node).toMatchObject({
      action: "user.update",
      actor: `user:${a.adminUserId}`,
      target: userId,
      before: { name: "Edited", role: "ADMIN" },
      after: { name: "Again", role: "ADMIN", teamIds: [a.teamId] },
    });
  });

  it("refuses a deactivated user's personal keys at once, through the snapshot", async () => {
    const userId = await createTestUser(cp.url, cp.adminToken, a.orgId, "leaver@ident-a.test", "MEMBER");
    const key = await gql<Created>(cp.url, cp.adminToken, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId, name: "leaver-key" } });
    const secret = key.createVirtualKey.secret;
    expect((await keyAuth(secret)).ok).toBe(true);
    await gql(cp.url, a.adminToken, `mutation($i: DeactivateUserInput!) { deactivateUser(input: $i) { user { active } } }`, { i: { id: userId } });
    const after = await keyAuth(secret);
    expect(after.ok).toBe(false);
    if (!after.ok) {
      expect(after.code).toBe("invalid_api_key");
      expect(after.message).toContain("deactivated");
    }
  });

  it("removes a user: their personal keys are revoked and their tokens deleted in the same transaction", async () => {
    const userId = await createTestUser(cp.url, cp.adminToken, a.orgId, "removed@ident-a.test", "MEMBER", [a.teamId]);
    const token = await createTestToken(cp.url, cp.adminToken, a.orgId, userId);
    const k1 = await gql<Created>(cp.url, token, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId, name: "r1" } });
    const k2 = await gql<Created>(cp.url, cp.adminToken, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId, name: "r2" } });
    await gql(cp.url, cp.adminToken, `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`, { i: { scope: "USER", scopeId: userId, unit: "USD", window: "DAY", limit: "1" } });
    expect((await keyAuth(k1.createVirtualKey.secret)).ok).toBe(true);

    const r = await gql<{ removeUser: { user: { id: string; email: string }; revokedVirtualKeyIds: string[] } }>(
      cp.url,
      a.adminToken,
      `mutation($i: RemoveUserInput!) { removeUser(input: $i) { user { id email } revokedVirtualKeyIds } }`,
      { i: { id: userId } },
    );
    expect(r.removeUser.user).toEqual({ id: userId, email: "removed@ident-a.test" });
    expect(r.removeUser.revokedVirtualKeyIds).toEqual([k1.createVirtualKey.virtualKey.id, k2.createVirtualKey.virtualKey.id].sort());
    for (const k of [k1, k2]) {
      const auth = await keyAuth(k.createVirtualKey.secret);
      expect(auth.ok).toBe(false);
      const status = await gql<{ virtualKey: { status: string; userId: string | null } }>(cp.url, a.adminToken, `query($id: ID!) { virtualKey(id: $id) { status userId } }`, {
        id: k.createVirtualKey.virtualKey.id,
      });
      expect(status.virtualKey).toEqual({ status: "REVOKED", userId: null });
    }
    expect(errorCode(await me(token))).toBe("UNAUTHENTICATED");
    expect(await tdb.db.query("SELECT id FROM budgets WHERE scope = 'USER' AND scope_id = $1", [userId])).toEqual([]);
    expect(await tdb.db.query("SELECT user_id FROM user_teams WHERE user_id = $1", [userId])).toEqual([]);
    expect(errorCode(await postGraphQL(cp.url, a.adminToken, `mutation($i: RemoveUserInput!) { removeUser(input: $i) { user { id } } }`, { i: { id: userId } }))).toBe("NOT_FOUND");
    const audit = await tdb.db.query<{ action: string; after: { revokedKeyIds: string[] } }>("SELECT action, after FROM audit_log WHERE target = $1 ORDER BY id DESC LIMIT 1", [userId]);
    expect(audit[0]).toEqual({ action: "user.remove", after: { removed: true, revokedKeyIds: r.removeUser.revokedVirtualKeyIds } });
  });

  it("rolls the key revocations back when the removal fails (one transaction)", async () => {
    const userId = await createTestUser(cp.url, cp.adminToken, a.orgId, "blocked@ident-a.test", "MEMBER");
    const key = await gql<Created>(cp.url, cp.adminToken, CREATE_KEY, { i: { organizationId: a.orgId, kind: "PERSONAL", userId, name: "kept" } });
    await tdb.db.query(`CREATE FUNCTION test_block_user_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'blocked by test'; END $$`);
    await tdb.db.query(`CREATE TRIGGER test_block_user_delete BEFORE DELETE ON users FOR EACH ROW WHEN (OLD.email = 'blocked@ident-a.test') EXECUTE FUNCTION test_block_user_delete()`);
    try {
      const failed = await postGraphQL(cp.url, a.adminToken, `mutation($i: RemoveUserInput!) { removeUser(input: $i) { user { id } } }`, { i: { id: userId } });
      expect(failed.errors?.[0]?.message).toBe("internal error");
    } finally {
      await tdb.db.query("DROP TRIGGER test_block_user_delete ON users");
      await tdb.db.query("DROP FUNCTION test_block_user_delete()");
    }
    expect((await keyAuth(key.createVirtualKey.secret)).ok).toBe(true);
    const rows = await tdb.db.query<{ status: string }>("SELECT status FROM virtual_keys WHERE id = $1", [key.createVirtualKey.virtualKey.id]);
    expect(rows[0]?.status).toBe("ACTIVE");
  });
});
