/**
 * The role matrix, generated from the built schema: every Query and Mutation field must have an
 * entry in ROLE_MATRIX, and every sample call answers as expected for the platform admin, an ADMIN
 * of organization A, a MEMBER of A and an ADMIN of B. Allowed mutations write exactly one audit
 * row (by that actor), refused calls none; a NOT_FOUND for another organization's ids is the exact
 * answer (code and message) given for ids that do not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY_EXPIRY_MS, ADMIN_KEY_GUARDRAILS, ADMIN_KEY_LIMITS, isLimitBearing, KEY_LIMITS_QUERY, MEMBER_LIMIT_MATRIX, type LimitedKey } from "../testing/member-limit-matrix.js";
import { ORG_ADMIN, ROLE_MATRIX, ROLES, SIMULATE, parseExpectation, type MatrixContext, type Role, type SampleCall } from "../testing/role-matrix.js";
import { errorCode, gql, postGraphQL, type GraphQLResponse } from "../testing/graphql-client.js";
import { seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from "../testing/tenant-fixtures.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";
import { getNamedType, isInputObjectType, isObjectType } from "graphql";
import { buildControlPlaneSchema } from "./schema.js";

const ID_SHAPE = /^([a-z]+)_[0-9a-z]{26}$/;

/** Replaces every id in `v` by an id of the same kind that does not exist; records the mapping. */
function withMissingIds(v: unknown, map: Map<string, string>): unknown {
  if (typeof v === "string") {
    const m = ID_SHAPE.exec(v);
    if (!m) return v;
    const fake = map.get(v) ?? `${m[1]}_${"z".repeat(24)}${String(map.size).padStart(2, "0")}`;
    map.set(v, fake);
    return fake;
  }
  if (Array.isArray(v)) return v.map((x) => withMissingIds(x, map));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withMissingIds(x, map)]));
  return v;
}

/** Adds every `secret` string of a response to `out`. */
function collectSecrets(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) collectSecrets(x, out);
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "secret" && typeof x === "string") out.add(x);
      else collectSecrets(x, out);
    }
  }
}

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("role matrix on $name", (target) => {
  let tdb: TestDatabase;
  let cp: TestControlPlane;
  let ctx: MatrixContext;
  let tokens: Record<Role, string>;
  let actors: Record<Role, string>;
  let counter = 0;

  const root = <T>(query: string, variables: Record<string, unknown>): Promise<T> => gql<T>(cp.url, cp.adminToken, query, variables);

  beforeAll(async () => {
    tdb = await target.open();
    cp = await startTestControlPlane(tdb.db);
    const a: Tenant = await seedTenant(cp, "matrix-a");
    const b: Tenant = await seedTenant(cp, "matrix-b");
    const unique = (): string => `${Date.now().toString(36)}${(counter++).toString(36)}`;
    const newKey = async (kind: "PERSONAL" | "SERVICE"): Promise<{ id: string; secret: string }> => {
      const r = await root<{ createVirtualKey: { virtualKey: { id: string }; secret: string } }>(`mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id } secret } }`, {
        i: { organizationId: a.orgId, name: `fresh-${unique()}`, kind, ...(kind === "PERSONAL" ? { userId: a.memberUserId } : {}) },
      });
      return { id: r.createVirtualKey.virtualKey.id, secret: r.createVirtualKey.secret };
    };
    const key = async (kind: "PERSONAL" | "SERVICE"): Promise<string> => (await newKey(kind)).id;
    const keySecret = async (kind: "PERSONAL" | "SERVICE"): Promise<string> => {
      const { secret } = await newKey(kind);
      const body = { model: "chat-small", messages: [{ role: "user", content: "hello" }] };
      for (let i = 0; i < 100; i++) {
        const r = await root<{ simulate: { status: number } }>(SIMULATE, { i: { secret, path: "/v1/chat/completions", body } });
        if (r.simulate.status !== 401) return secret;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error("the simulator's snapshot never saw the new key");
    };
    const user = async (): Promise<string> =>
      (
        await root<{ createUser: { user: { id: string } } }>(`mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
          i: { organizationId: a.orgId, email: `fresh-${unique()}@a.test`, name: "Fresh" },
        })
      ).createUser.user.id;
    const team = async (): Promise<string> =>
      (
        await root<{ createTeam: { team: { id: string } } }>(`mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }`, {
          i: { organizationId: a.orgId, name: "Fresh", slug: `fresh-${unique()}` },
        })
      ).createTeam.team.id;
    const limitedPersonalKey = async (): Promise<LimitedKey> => {
      const name = `limited-${unique()}`;
      const created = await root<{ createVirtualKey: { virtualKey: { id: string; budgets: Array<{ id: string }>; rateLimits: Array<{ id: string }> } } }>(
        `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id budgets { id } rateLimits { id } } } }`,
        { i: { organizationId: a.orgId, name, kind: "PERSONAL", userId: a.memberUserId, ...ADMIN_KEY_LIMITS, expiresAt: new Date(Date.now() + ADMIN_KEY_EXPIRY_MS).toISOString() } },
      );
      const key = created.createVirtualKey.virtualKey;
      await root(`mutation($i: SetGuardrailsInput!) { setGuardrails(input: $i) { guardrails { scopeId } } }`, { i: { scope: "VIRTUAL_KEY", scopeId: key.id, rules: ADMIN_KEY_GUARDRAILS } });
      return { id: key.id, name, budgetId: key.budgets[0]?.id ?? "", rateLimitId: key.rateLimits[0]?.id ?? "" };
    };
    ctx = {
      a,
      b,
      unique,
      fresh: {
        user,
        team,
        limitedPersonalKey,
        pauseKey: async (id, by) => {
          await gql(cp.url, by === "admin" ? a.adminToken : a.memberToken, `mutation($i: PauseVirtualKeyInput!) { pauseVirtualKey(input: $i) { virtualKey { id } } }`, { i: { id } });
        },
        keySecret,
        teamRateLimit: async () =>
          (
            await root<{ setRateLimit: { rateLimit: { id: string } } }>(`mutation($i: SetRateLimitInput!) { setRateLimit(input: $i) { rateLimit { id } } }`, {
              i: { scope: "TEAM", scopeId: await team(), unit: "TOKENS", limit: 1000, windowSeconds: 60 },
            })
          ).setRateLimit.rateLimit.id,
        personalKey: () => key("PERSONAL"),
        serviceKey: () => key("SERVICE"),
        apiToken: async () =>
          (
            await root<{ createApiToken: { apiToken: { id: string } } }>(`mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { apiToken { id } } }`, {
              i: { organizationId: a.orgId, userId: await user(), name: "fresh" },
            })
          ).createApiToken.apiToken.id,
        teamBudget: async () =>
          (
            await root<{ setBudget: { budget: { id: string } } }>(`mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`, {
              i: { scope: "TEAM", scopeId: await team(), unit: "REQUESTS", window: "DAY", limit: 10 },
            })
          ).setBudget.budget.id,
      },
    };
    tokens = { platform: cp.adminToken, adminA: a.adminToken, memberA: a.memberToken, adminB: b.adminToken };
    actors = { platform: "platform-admin", adminA: `user:${a.adminUserId}`, memberA: `user:${a.memberUserId}`, adminB: `user:${b.adminUserId}` };
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
  });

  const auditCount = async (): Promise<number> => Number((await tdb.db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_log"))[0]?.n ?? 0);
  const lastAudit = async (): Promise<{ actor: string; organization_id: string | null }> =>
    (await tdb.db.query<{ actor: string; organization_id: string | null }>("SELECT actor, organization_id FROM audit_log ORDER BY id DESC LIMIT 1"))[0] ?? { actor: "", organization_id: null };

  it("has an entry for every Query and Mutation field of the schema, and none for fields that do not exist", async () => {
    const schema = await buildControlPlaneSchema();
    const fields = [...Object.keys(schema.getQueryType()?.getFields() ?? {}), ...Object.keys(schema.getMutationType()?.getFields() ?? {})];
    expect(fields.length).toBeGreaterThan(30);
    expect(
      fields.filter((f) => !(f in ROLE_MATRIX)),
      "operations without a role-matrix entry",
    ).toEqual([]);
    expect(
      Object.keys(ROLE_MATRIX).filter((f) => !fields.includes(f)),
      "role-matrix entries for operations not in the schema",
    ).toEqual([]);
    for (const [op, cases] of Object.entries(ROLE_MATRIX)) {
      expect(cases.length, op).toBeGreaterThan(0);
      for (const c of cases) parseExpectation(c.expect);
    }
    expect(parseExpectation(ORG_ADMIN)).toEqual({ platform: "allowed", adminA: "allowed", memberA: "FORBIDDEN", adminB: "NOT_FOUND" });
  });

  it("answers every operation as the matrix says, for every role", async () => {
    const schema = await buildControlPlaneSchema();
    const mutations = new Set(Object.keys(schema.getMutationType()?.getFields() ?? {}));
    const failures: string[] = [];
    const secrets = new Set<string>(["sk-matrix-0000000000", "sk-test-rights-000000000"]);
    for (const [op, cases] of Object.entries(ROLE_MATRIX)) {
      for (const c of cases) {
        const expected = parseExpectation(c.expect);
        for (const role of ROLES) {
          const where = `${op} (${c.label}) as ${role}`;
          const call: SampleCall = await c.call(ctx);
          const before = await auditCount();
          const res: GraphQLResponse = await postGraphQL(cp.url, tokens[role], call.query, call.variables);
          const got = res.errors?.length ? (errorCode(res) ?? "?") : "allowed";
          if (got !== expected[role]) {
            failures.push(`${where}: expected ${expected[role]}, got ${got}${res.errors?.[0] ? ` (${res.errors[0].message})` : ""}`);
            continue;
          }
          const written = (await auditCount()) - before;
          if (mutations.has(op)) {
            const want = got === "allowed" ? 1 : 0;
            if (written !== want) failures.push(`${where}: wrote ${written} audit rows, expected ${want}`);
            else if (want === 1 && (await lastAudit()).actor !== actors[role]) failures.push(`${where}: audit actor is not ${actors[role]}`);
          } else if (written !== 0) failures.push(`${where}: a query wrote ${written} audit rows`);
          if (got === "allowed") collectSecrets(res.data, secrets);
          if (got === "allowed" && c.verify && res.data) {
            try {
              c.verify(role, res.data, ctx);
            } catch (e) {
              failures.push(`${where}: ${e instanceof Error ? e.message : String(e)}`);
            }
          }
          if (got === "NOT_FOUND") {
            const map = new Map<string, string>();
            const missing = await postGraphQL(cp.url, tokens[role], call.query, withMissingIds(call.variables, map) as Record<string, unknown>);
            let message = res.errors?.[0]?.message ?? "";
            for (const [real, fake] of map) message = message.split(real).join(fake);
            if (errorCode(missing) !== "NOT_FOUND" || missing.errors?.[0]?.message !== message) {
              failures.push(`${where}: another organization's id answered "${message}" but a missing id "${missing.errors?.[0]?.message ?? "(no error)"}"`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(secrets.size).toBeGreaterThan(10);
    const audit = JSON.stringify(await tdb.db.query("SELECT * FROM audit_log"));
    expect(
      [...secrets].filter((secret) => audit.includes(secret)),
      "secrets found in the audit log",
    ).toEqual([]);
  }, 240_000);

  it("has a member rule for every mutation that takes or answers a limit", async () => {
    const schema = await buildControlPlaneSchema();
    const bearing = Object.entries(schema.getMutationType()?.getFields() ?? {})
      .filter(([, field]) => {
        const input = field.args.find((arg) => arg.name === "input");
        const inputType = input ? getNamedType(input.type) : null;
        const inputFields = inputType && isInputObjectType(inputType) ? Object.keys(inputType.getFields()) : [];
        const payload = getNamedType(field.type);
        const payloadTypes = isObjectType(payload) ? Object.values(payload.getFields()).map((f) => getNamedType(f.type).name) : [];
        return isLimitBearing(field.name, inputFields, payloadTypes);
      })
      .map(([name]) => name);
    expect(bearing).toEqual(
      expect.arrayContaining(["createVirtualKey", "updateVirtualKey", "upsertVirtualKey", "setBudget", "removeBudget", "setRateLimit", "removeRateLimit", "setModelAccess", "setGuardrails"]),
    );
    expect(
      bearing.filter((op) => !(op in MEMBER_LIMIT_MATRIX)),
      "limit-bearing mutations without a member rule",
    ).toEqual([]);
    for (const op of Object.keys(MEMBER_LIMIT_MATRIX)) expect(bearing, `${op} is not limit-bearing`).toContain(op);
  });

  it("lets a MEMBER only tighten the limits an admin set on their own key; refused calls change nothing", async () => {
    const failures: string[] = [];
    const limitsOf = async (id: string): Promise<string> => JSON.stringify(await root(KEY_LIMITS_QUERY, { id }));
    for (const [op, cases] of Object.entries(MEMBER_LIMIT_MATRIX)) {
      for (const c of cases) {
        for (const role of ["memberA", "adminA"] as const) {
          const where = `${op} (${c.label}) as ${role}`;
          const key = await ctx.fresh.limitedPersonalKey();
          const call = await c.call(ctx, key);
          const before = await limitsOf(key.id);
          const audits = await auditCount();
          const res = await postGraphQL(cp.url, tokens[role], call.query, call.variables);
          const got = res.errors?.length ? (errorCode(res) ?? "?") : "allowed";
          const want = role === "adminA" ? "allowed" : c.expect;
          if (got !== want) {
            failures.push(`${where}: expected ${want}, got ${got}${res.errors?.[0] ? ` (${res.errors[0].message})` : ""}`);
            continue;
          }
          const after = await limitsOf(key.id);
          if (got === "FORBIDDEN") {
            if (!res.errors?.[0]?.message.includes("members may only tighten limits")) failures.push(`${where}: refused with "${res.errors?.[0]?.message}"`);
            if (after !== before) failures.push(`${where}: a refused call changed the key's limits`);
            if ((await auditCount()) !== audits) failures.push(`${where}: a refused call wrote an audit row`);
          } else if (op !== "createVirtualKey" && after === before) failures.push(`${where}: an allowed call changed nothing`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});
