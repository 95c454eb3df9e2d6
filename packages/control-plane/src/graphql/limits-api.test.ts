import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { BudgetLedger, buildPolicyIndex, decide, generateOpaqueSecret, RateLimiter, windowStartOf, type Decision, type PolicySnapshot } from "@tollgate/policy";
import { BudgetChargeSchema, Outcome, UsageBatchSchema, UsageRecordSchema, UsageSource, createControlPlaneClient, type ControlPlaneClient } from "@tollgate/proto";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import { startControlPlane, type ControlPlaneHandle } from "../control-plane.js";
import { hmacSecret } from "../security/crypto.js";
import { buildSnapshot } from "../snapshot/snapshot-builder.js";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const ADMIN = "limits-test-admin-token-0123";
const NODE_TOKEN = "limits-test-node-token-0123";

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

/** A local webhook receiver: answers 500 to the first request, 200 afterwards. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = received.length === 0 ? 500 : 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tollgate`, received };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("limits at every level on $name", (target) => {
  let tdb: TestDatabase;
  let cp: ControlPlaneHandle;
  let client: ControlPlaneClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dataDir: string;
  let url: string;
  const masterKey = randomBytes(32);
  const ids = { org: "", other: "", team: "", user: "", account: "", ciKey: "", personalKey: "", otherKey: "" };
  const secrets = { ci: "", personal: "", other: "" };
  const q = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => gql<T>(url, ADMIN, query, variables);

  /** The snapshot the control plane would send now, and a decision on it (one node, fresh ledger). */
  const snapshot = (): Promise<PolicySnapshot> => buildSnapshot(tdb.db, { masterKey, nowMs: Date.now() });
  const decideOn = async (secret: string, request: { model: string; promptText?: string }): Promise<Decision> => {
    const snap = await snapshot();
    return decide(
      buildPolicyIndex(snap),
      new BudgetLedger(),
      new RateLimiter(),
      {
        keyHmac: hmacSecret(snap.hmacPepper, secret),
        now: Date.now(),
        dryRun: true,
        allowPartial: true,
        grantsUnavailable: false,
        request: { inputTokensUpperBound: 1000, requestedMaxOutputTokens: 100, operation: "chat", ...request },
      },
      1,
    );
  };
  const simulate = (secret: string, body: Record<string, unknown>, token = ADMIN, path = "/v1/chat/completions") =>
    postGraphQL<{
      simulate: {
        allowed: boolean;
        status: number;
        error: { code: string; message: string; type: string } | null;
        route: { model: string; providerAccount: string; upstreamModel: string } | null;
        estimatedCost: string;
        checks: Array<{ name: string; level: string; passed: boolean; detail: string }>;
      };
    }>(
      url,
      token,
      `query($i: SimulateInput!) { simulate(input: $i) { allowed status error { code message type param } route { model providerAccount upstreamModel } estimatedCost checks { name level passed detail } } }`,
      { i: { secret, path, body } },
    );
  const chat = (content: string, model = "gpt-4o-mini") => ({ model, messages: [{ role: "user", content }], max_tokens: 100 });

  beforeAll(async () => {
    tdb = await target.open();
    receiver = await startReceiver();
    dataDir = mkdtempSync(join(tmpdir(), "tg-limits-"));
    const config = loadControlPlaneConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_MASTER_KEY: masterKey.toString("base64"),
      TOLLGATE_NODE_TOKEN: NODE_TOKEN,
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      LOG_LEVEL: "silent",
    });
    cp = await startControlPlane(config, { database: tdb.db, logger: pino({ level: "silent" }), webhooks: { pollMs: 50, retryBaseMs: 200 } });
    url = cp.httpUrl;
    client = createControlPlaneClient(cp.grpcAddress, NODE_TOKEN);
    type Org = { createOrganization: { organization: { id: string } } };
    ids.org = (await q<Org>(`mutation { createOrganization(input: {name: "Acme", slug: "acme"}) { organization { id } } }`)).createOrganization.organization.id;
    ids.other = (await q<Org>(`mutation { createOrganization(input: {name: "Globex", slug: "globex"}) { organization { id } } }`)).createOrganization.organization.id;
    ids.team = (await q<{ createTeam: { team: { id: string } } }>(`mutation { createTeam(input: {organizationId: "${ids.org}", name: "Search", slug: "search"}) { team { id } } }`)).createTeam.team.id;
    ids.user = (
      await q<{ createUser: { user: { id: string } } }>(
        `mutation { createUser(input: {organizationId: "${ids.org}", email: "ada@acme.test", name: "Ada", role: MEMBER, teamIds: ["${ids.team}"]}) { user { id } } }`,
      )
    ).createUser.user.id;
    for (const org of [ids.org, ids.other]) {
      const account = (
        await q<{ createProviderAccount: { providerAccount: { id: string } } }>(
          `mutation { createProviderAccount(input: {organizationId: "${org}", name: "openai-main", provider: OPENAI, apiKey: "sk-test-0000000000001"}) { providerAccount { id } } }`,
        )
      ).createProviderAccount.providerAccount.id;
      if (org === ids.org) ids.account = account;
      await q(`mutation { createModel(input: {providerAccountId: "${account}", name: "gpt-4o-mini", inputPricePerMillion: "1", outputPricePerMillion: "2"}) { model { id } } }`);
      await q(`mutation { createModel(input: {providerAccountId: "${account}", name: "gpt-4o", inputPricePerMillion: "5", outputPricePerMillion: "10"}) { model { id } } }`);
      await q(`mutation { createModel(input: {providerAccountId: "${account}", name: "house-llm"}) { model { id } } }`);
    }
    type K = { createVirtualKey: { virtualKey: { id: string }; secret: string } };
    const ci = await q<K>(`mutation { createVirtualKey(input: {organizationId: "${ids.org}", name: "ci", kind: SERVICE, teamId: "${ids.team}"}) { virtualKey { id } secret } }`);
    const personal = await q<K>(`mutation { createVirtualKey(input: {organizationId: "${ids.org}", name: "ada-laptop", kind: PERSONAL, userId: "${ids.user}"}) { virtualKey { id } secret } }`);
    const other = await q<K>(`mutation { createVirtualKey(input: {organizationId: "${ids.other}", name: "globex-ci", kind: SERVICE}) { virtualKey { id } secret } }`);
    [ids.ciKey, secrets.ci] = [ci.createVirtualKey.virtualKey.id, ci.createVirtualKey.secret];
    [ids.personalKey, secrets.personal] = [personal.createVirtualKey.virtualKey.id, personal.createVirtualKey.secret];
    [ids.otherKey, secrets.other] = [other.createVirtualKey.virtualKey.id, other.createVirtualKey.secret];
  });

  afterAll(async () => {
    client?.close();
    await cp?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.server.close(() => resolve()) : resolve()));
    await tdb?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("sets model access at every level, puts it in the snapshot, and the decision names the refusing level", async () => {
    const set = `mutation($i: SetModelAccessInput!) { setModelAccess(input: $i) { modelAccess { scope scopeId allow deny } } }`;
    type S = { setModelAccess: { modelAccess: { scope: string; scopeId: string; allow: string[]; deny: string[] } } };
    const org = await q<S>(set, { i: { scope: "ORGANIZATION", scopeId: ids.org, allow: ["gpt-*", "house-llm"], deny: [] } });
    expect(org.setModelAccess.modelAccess).toEqual({ scope: "ORGANIZATION", scopeId: ids.org, allow: ["gpt-*", "house-llm"], deny: [] });
    await q(set, { i: { scope: "TEAM", scopeId: ids.team, allow: [], deny: ["openai-main/gpt-4o"] } });
    await q(set, { i: { scope: "USER", scopeId: ids.user, allow: ["gpt-4o*"], deny: [] } });
    await q(set, { i: { scope: "VIRTUAL_KEY", scopeId: ids.personalKey, allow: [], deny: ["*mini"] } });

    const snap = await snapshot();
    expect(snap.organizations.find((o) => o.id === ids.org)?.access).toEqual({ allow: ["gpt-*", "house-llm"], deny: [] });
    expect(snap.teams.find((t) => t.id === ids.team)?.access).toEqual({ allow: [], deny: ["openai-main/gpt-4o"] });
    expect(snap.users.find((u) => u.id === ids.user)?.access).toEqual({ allow: ["gpt-4o*"], deny: [] });
    expect(snap.virtualKeys.find((k) => k.id === ids.personalKey)?.access).toEqual({ allow: [], deny: ["*mini"] });

    expect(await decideOn(secrets.ci, { model: "gpt-4o" })).toMatchObject({ allow: false, code: "model_not_allowed", message: 'model "gpt-4o" is not allowed for team "search"' });
    expect((await decideOn(secrets.ci, { model: "gpt-4o-mini" })).allow).toBe(true);
    expect(await decideOn(secrets.personal, { model: "gpt-4o-mini" })).toMatchObject({ message: 'model "gpt-4o-mini" is not allowed for virtual key "ada-laptop"' });
    expect(await decideOn(secrets.personal, { model: "house-llm" })).toMatchObject({ message: 'model "house-llm" is not allowed for user "ada@acme.test"' });

    const read = await q<{ organization: { modelAccess: { allow: string[] }; teams: Array<{ modelAccess: { deny: string[] } }> } }>(
      `{ organization(id: "${ids.org}") { modelAccess { allow } teams { modelAccess { deny } } } }`,
    );
    expect(read.organization).toEqual({ modelAccess: { allow: ["gpt-*", "house-llm"] }, teams: [{ modelAccess: { deny: ["openai-main/gpt-4o"] } }] });
    expect(errorCode(await postGraphQL(url, ADMIN, set, { i: { scope: "TEAM", scopeId: ids.team, allow: ["bad pattern!"], deny: [] } }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await postGraphQL(url, ADMIN, set, { i: { scope: "USER", scopeId: "usr_missing", allow: [], deny: [] } }))).toBe("NOT_FOUND");
    // Open everything again for the tests below.
    for (const [scope, scopeId] of [
      ["ORGANIZATION", ids.org],
      ["TEAM", ids.team],
      ["USER", ids.user],
      ["VIRTUAL_KEY", ids.personalKey],
    ]) {
      await q(set, { i: { scope, scopeId, allow: [], deny: [] } });
    }
  });

  it("sets one rate limit per scope, unit and window (again = update), removes it, and labels it in the snapshot", async () => {
    const set = `mutation($i: SetRateLimitInput!) { setRateLimit(input: $i) { rateLimit { id scope scopeId unit limit windowSeconds } } }`;
    type R = { setRateLimit: { rateLimit: { id: string; scope: string; limit: number } } };
    const a = await q<R>(set, { i: { scope: "TEAM", scopeId: ids.team, unit: "REQUESTS", limit: 10, windowSeconds: 60 } });
    const b = await q<R>(set, { i: { scope: "TEAM", scopeId: ids.team, unit: "REQUESTS", limit: 20, windowSeconds: 60 } });
    expect(b.setRateLimit.rateLimit).toMatchObject({ id: a.setRateLimit.rateLimit.id, scope: "TEAM", limit: 20 });
    const tokens = await q<R>(set, { i: { scope: "ORGANIZATION", scopeId: ids.org, unit: "TOKENS", limit: 100000, windowSeconds: 3600 } });
    await q(set, { i: { scope: "USER", scopeId: ids.user, unit: "REQUESTS", limit: 5, windowSeconds: 60 } });
    const snap = await snapshot();
    expect(snap.rateLimits.map((r) => [r.scope, r.unit, r.limit, r.scopeLabel]).sort()).toEqual([
      ["ORGANIZATION", "TOKENS", 100000, 'organization "acme"'],
      ["TEAM", "REQUESTS", 20, 'team "search"'],
      ["USER", "REQUESTS", 5, 'user "ada@acme.test"'],
    ]);
    const list = await q<{ rateLimits: Array<{ id: string }> }>(`{ rateLimits(scope: TEAM, scopeId: "${ids.team}") { id } }`);
    expect(list.rateLimits.map((r) => r.id)).toEqual([a.setRateLimit.rateLimit.id]);
    expect(errorCode(await postGraphQL(url, ADMIN, set, { i: { scope: "TEAM", scopeId: ids.team, unit: "REQUESTS", limit: 0, windowSeconds: 60 } }))).toBe("BAD_USER_INPUT");
    const removed = await q<{ removeRateLimit: { rateLimit: { id: string } } }>(`mutation { removeRateLimit(input: {id: "${tokens.setRateLimit.rateLimit.id}"}) { rateLimit { id } } }`);
    expect(removed.removeRateLimit.rateLimit.id).toBe(tokens.setRateLimit.rateLimit.id);
    expect((await snapshot()).rateLimits).toHaveLength(2);
    expect(errorCode(await postGraphQL(url, ADMIN, `mutation { removeRateLimit(input: {id: "${tokens.setRateLimit.rateLimit.id}"}) { rateLimit { id } } }`))).toBe("NOT_FOUND");
  });

  it("validates and stores guardrails; the snapshot carries them; decisions and simulate refuse with guardrail_blocked", async () => {
    const set = `mutation($i: SetGuardrailsInput!) { setGuardrails(input: $i) { guardrails { scope scopeId rules { name kind pattern flags keywords limit } } } }`;
    const bad = await postGraphQL(url, ADMIN, set, { i: { scope: "ORGANIZATION", scopeId: ids.org, rules: [{ name: "broken", kind: "BLOCK_REGEX", pattern: "(unclosed" }] } });
    expect(errorCode(bad)).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0]?.message).toContain('rule "broken"');
    expect(errorCode(await postGraphQL(url, ADMIN, set, { i: { scope: "TEAM", scopeId: ids.team, rules: [] } }))).toBe("BAD_USER_INPUT");
    const org = await q<{ setGuardrails: { guardrails: { rules: unknown[] } } }>(set, {
      i: {
        scope: "ORGANIZATION",
        scopeId: ids.org,
        rules: [
          { name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\b\\d{3}-\\d{2}-\\d{4}\\b" },
          { name: "short", kind: "MAX_INPUT_TOKENS", limit: 5000 },
        ],
      },
    });
    expect(org.setGuardrails.guardrails.rules).toEqual([
      { name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\b\\d{3}-\\d{2}-\\d{4}\\b", flags: "", keywords: null, limit: null },
      { name: "short", kind: "MAX_INPUT_TOKENS", pattern: null, flags: null, keywords: null, limit: 5000 },
    ]);
    await q(set, { i: { scope: "VIRTUAL_KEY", scopeId: ids.ciKey, rules: [{ name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["password", " "] }] } });

    const snap = await snapshot();
    expect(snap.guardrails.map((g) => [g.scope, g.scopeLabel, g.rules.map((r) => r.name)]).sort()).toEqual([
      ["ORGANIZATION", 'organization "acme"', ["no-ssn", "short"]],
      ["VIRTUAL_KEY", 'virtual key "ci"', ["no-secrets"]],
    ]);
    expect(await decideOn(secrets.personal, { model: "gpt-4o-mini", promptText: "ssn 123-45-6789" })).toMatchObject({
      allow: false,
      code: "guardrail_blocked",
      message: 'blocked by guardrail "no-ssn" of organization "acme"',
    });
    const sim = await simulate(secrets.ci, chat("my password is hunter2"));
    expect(sim.data?.simulate).toMatchObject({
      allowed: false,
      status: 400,
      error: { code: "guardrail_blocked", message: 'blocked by guardrail "no-secrets" of virtual key "ci"', type: "invalid_request_error" },
    });
    expect(sim.data?.simulate.checks.filter((c) => c.name === "guardrail").map((c) => [c.level, c.passed])).toEqual([
      ["ORGANIZATION", true],
      ["ORGANIZATION", true],
      ["VIRTUAL_KEY", false],
    ]);
    const cleared = await q<{ setGuardrails: { guardrails: { rules: unknown[] } } }>(set, { i: { scope: "VIRTUAL_KEY", scopeId: ids.ciKey, rules: [] } });
    expect(cleared.setGuardrails.guardrails.rules).toEqual([]);
    expect((await snapshot()).guardrails).toHaveLength(1);
  });

  it("charges an unpriced model at the organization's fallback price, set with updateOrganization", async () => {
    expect(await decideOn(secrets.ci, { model: "house-llm" })).toMatchObject({ allow: false, code: "model_not_priced" });
    const update = `mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { organization { id fallbackInputPricePerMillion fallbackOutputPricePerMillion } webhookSecret } }`;
    expect(errorCode(await postGraphQL(url, ADMIN, update, { i: { id: ids.org, fallbackInputPricePerMillion: "3" } }))).toBe("BAD_USER_INPUT");
    const r = await q<{ updateOrganization: { organization: Record<string, unknown>; webhookSecret: string | null } }>(update, {
      i: { id: ids.org, fallbackInputPricePerMillion: "3", fallbackOutputPricePerMillion: 6 },
    });
    expect(r.updateOrganization).toEqual({ organization: { id: ids.org, fallbackInputPricePerMillion: "3.00", fallbackOutputPricePerMillion: "6.00" }, webhookSecret: null });
    expect((await snapshot()).organizations.find((o) => o.id === ids.org)?.fallbackPrice).toEqual({ inputPerMillion: 3_000_000n, outputPerMillion: 6_000_000n, cachedInputPerMillion: null });
    // 1000 input tokens at $3/M + 100 output tokens at $6/M = $0.0036.
    expect(await decideOn(secrets.ci, { model: "house-llm" })).toMatchObject({ allow: true, estimatedCost: 3_600_000_000n, price: { inputPerMillion: 3_000_000n } });
    const sim = await simulate(secrets.ci, chat("hello", "house-llm"));
    expect(sim.data?.simulate).toMatchObject({ allowed: true, status: 200, estimatedCost: expect.stringMatching(/^0\.00\d+$/) });
    expect(sim.data?.simulate.checks.find((c) => c.name === "price")?.detail).toBe("charged at the organization's fallback price");
  });

  it("simulate: route and cost on the current snapshot; unknown or foreign keys answer alike; bad paths are BAD_USER_INPUT", async () => {
    const ok = await simulate(secrets.ci, chat("hello"));
    expect(ok.data?.simulate).toMatchObject({ allowed: true, status: 200, error: null, route: { model: "gpt-4o-mini", providerAccount: "openai-main", upstreamModel: "gpt-4o-mini" } });
    expect(ok.data?.simulate.checks[0]).toMatchObject({ name: "request", passed: true });
    const unknownSecret = generateOpaqueSecret(randomBytes(32));
    const unknown = await simulate(unknownSecret, chat("hello"));
    expect(unknown.data?.simulate).toMatchObject({ allowed: false, status: 401, error: { code: "invalid_api_key" } });
    const garbage = await simulate("not-a-secret", chat("hello"));
    expect(garbage.data?.simulate).toMatchObject({ allowed: false, status: 401, error: { code: "invalid_api_key", message: "the API key is not valid" } });
    const malformed = await simulate(secrets.ci, { model: "gpt-4o-mini" });
    expect(malformed.data?.simulate).toMatchObject({ allowed: false, status: 400, error: { code: "invalid_request" } });
    expect(errorCode(await simulate(secrets.ci, chat("hello"), ADMIN, "/v1/nope"))).toBe("BAD_USER_INPUT");

    // An admin of another organization sees a key of acme exactly like an unknown one.
    type T = { createUser: { user: { id: string } } };
    const globexAdmin = (await q<T>(`mutation { createUser(input: {organizationId: "${ids.other}", email: "boss@globex.test", name: "Boss", role: ADMIN}) { user { id } } }`)).createUser.user.id;
    const token = (await q<{ createApiToken: { secret: string } }>(`mutation { createApiToken(input: {organizationId: "${ids.other}", userId: "${globexAdmin}", name: "t"}) { secret } }`))
      .createApiToken.secret;
    const foreign = await simulate(secrets.ci, chat("hello"), token);
    const unknownAsGlobex = await simulate(unknownSecret, chat("hello"), token);
    expect(foreign.data?.simulate).toEqual(unknownAsGlobex.data?.simulate);
    expect((await simulate(secrets.other, chat("hello"), token)).data?.simulate.allowed).toBe(true);
  });

  it("refuses on a team budget the control plane knows is spent, and delivers signed threshold alerts once per window", async () => {
    const update = `mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { webhookSecret organization { webhookUrl } } }`;
    type U = { updateOrganization: { webhookSecret: string | null; organization: { webhookUrl: string | null } } };
    const first = await q<U>(update, { i: { id: ids.org, webhookUrl: receiver.url } });
    const secret = first.updateOrganization.webhookSecret ?? "";
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first.updateOrganization.organization.webhookUrl).toBe(receiver.url);
    expect((await q<U>(update, { i: { id: ids.org, webhookUrl: receiver.url } })).updateOrganization.webhookSecret).toBeNull();
    const sealed = await tdb.db.query<{ c: Uint8Array }>("SELECT webhook_secret_ciphertext AS c FROM organizations WHERE id = $1", [ids.org]);
    expect(Buffer.from(sealed[0]?.c ?? new Uint8Array()).toString("utf8")).not.toContain(secret.slice(6, 30));

    const budget = (
      await q<{ setBudget: { budget: { id: string; alertThresholds: number[] } } }>(
        `mutation { setBudget(input: {scope: TEAM, scopeId: "${ids.team}", unit: USD, window: MONTH, limit: "0.01", alertThresholds: [1.0, 0.5, 0.8], mode: HARD}) { budget { id alertThresholds } } }`,
      )
    ).setBudget.budget;
    expect(budget.alertThresholds).toEqual([0.5, 0.8, 1]);
    const month = windowStartOf("MONTH", Date.now());
    let seq = 0;
    const spend = async (amount: bigint, windowStart = month): Promise<void> => {
      seq += 1;
      const record = create(UsageRecordSchema, {
        requestId: `req_limits_${target.name}_${seq}`,
        nodeId: "n1",
        bootId: "b1",
        sequence: BigInt(seq),
        startedAtMs: BigInt(Date.now()),
        durationMs: 5,
        organizationId: ids.org,
        virtualKeyId: ids.ciKey,
        teamId: ids.team,
        model: "gpt-4o-mini",
        providerAccountId: ids.account,
        route: "/v1/chat/completions",
        inputTokens: 10,
        outputTokens: 10,
        usageSource: UsageSource.PROVIDER,
        costMicros: amount,
        outcome: Outcome.SUCCESS,
        status: 200,
        charges: [create(BudgetChargeSchema, { budgetId: budget.id, windowStartMs: BigInt(windowStart), amount })],
      });
      const batch = create(UsageBatchSchema, { nodeId: "n1", bootId: "b1", records: [record] });
      expect(await client.reportUsage(batch, 10_000)).toMatchObject({ accepted: 1 });
      expect(await client.reportUsage(batch, 10_000)).toMatchObject({ accepted: 0, duplicates: 1 });
    };

    await spend(4_000n);
    const before = await simulate(secrets.ci, chat("hi"));
    expect(before.errors).toBeUndefined();
    expect(before.data?.simulate.allowed).toBe(true);
    await spend(1_500n); // 55%: crosses 0.5
    await spend(3_000n); // 85%: crosses 0.8
    await spend(100n); // 86%: nothing new
    await spend(1_500n); // 101%: crosses 1.0
    await spend(500n); // still over: nothing new
    await spend(6_000n, windowStartOf("MONTH", month - 1)); // last month's window: 0.5 fires there too

    await waitFor("four delivered alerts", () => receiver.received.filter((r) => r.status === 200).length >= 4);
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.received[0]?.status).toBe(500);
    const delivered = receiver.received.filter((r) => r.status === 200);
    expect(delivered).toHaveLength(4);
    const bodies = delivered.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(bodies.map((b) => [b.threshold, b.windowStart]).sort()).toEqual([
      [0.5, new Date(windowStartOf("MONTH", month - 1)).toISOString()],
      [0.5, new Date(month).toISOString()],
      [0.8, new Date(month).toISOString()],
      [1, new Date(month).toISOString()],
    ]);
    for (const r of delivered) {
      expect(new Webhook(secret).verify(r.body, r.headers as Record<string, string>)).toEqual(JSON.parse(r.body));
      expect(r.headers["webhook-id"]).toBe((JSON.parse(r.body) as { id: string }).id);
      expect(Math.abs(Number(r.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
      expect(r.headers["content-type"]).toBe("application/json");
    }
    const ninety = bodies.find((b) => b.threshold === 0.8 && b.windowStart === new Date(month).toISOString());
    expect(ninety).toMatchObject({
      type: "budget.threshold",
      organizationId: ids.org,
      used: "0.0085",
      budget: { id: budget.id, scope: "TEAM", scopeId: ids.team, unit: "USD", window: "MONTH", limit: "0.01" },
    });
    expect(receiver.received.find((r) => r.status === 500)?.body).toBe(delivered.find((r) => r.headers["webhook-id"] === receiver.received[0]?.headers["webhook-id"])?.body);

    type A = { budgetAlerts: Array<{ budgetId: string; threshold: number; used: string; deliveredAt: string | null; deliveryAttempts: number; scope: string }> };
    const alerts = (await q<A>(`{ budgetAlerts(organizationId: "${ids.org}") { budgetId threshold used deliveredAt deliveryAttempts scope } }`)).budgetAlerts;
    expect(alerts).toHaveLength(4);
    expect(alerts.every((a) => a.deliveredAt !== null && a.scope === "TEAM")).toBe(true);
    expect(alerts.map((a) => a.deliveryAttempts).sort()).toEqual([1, 1, 1, 2]);

    // The team budget is spent: the Simulator (on what the control plane knows) refuses like a node would.
    const refused = await simulate(secrets.ci, chat("hi"));
    expect(refused.data?.simulate).toMatchObject({ allowed: false, status: 429, error: { code: "budget_exceeded", message: 'monthly USD budget of team "search" is exhausted' } });
    expect(refused.data?.simulate.checks.at(-1)).toMatchObject({ name: "budget", level: "TEAM", passed: false });
    expect(refused.data?.simulate.checks.some((c) => c.name === "budget_grant")).toBe(false);
  });

  it("keeps limits within the tenancy: another organization's admin gets NOT_FOUND, a member FORBIDDEN", async () => {
    type T = { createUser: { user: { id: string } } };
    const member = (await q<T>(`mutation { createUser(input: {organizationId: "${ids.org}", email: "mem@acme.test", name: "Mem", role: MEMBER}) { user { id } } }`)).createUser.user.id;
    const token = (await q<{ createApiToken: { secret: string } }>(`mutation { createApiToken(input: {organizationId: "${ids.org}", userId: "${member}", name: "m"}) { secret } }`)).createApiToken
      .secret;
    const setAccess = `mutation { setModelAccess(input: {scope: ORGANIZATION, scopeId: "${ids.org}", allow: [], deny: ["*"]}) { modelAccess { scope } } }`;
    expect(errorCode(await postGraphQL(url, token, setAccess))).toBe("FORBIDDEN");
    expect(errorCode(await postGraphQL(url, token, `{ budgetAlerts(organizationId: "${ids.org}") { id } }`))).toBe("FORBIDDEN");
    expect(errorCode(await postGraphQL(url, token, `mutation { updateOrganization(input: {id: "${ids.org}", webhookUrl: null}) { webhookSecret } }`))).toBe("FORBIDDEN");
    const globexAdmin = (await q<T>(`mutation { createUser(input: {organizationId: "${ids.other}", email: "admin2@globex.test", name: "A2", role: ADMIN}) { user { id } } }`)).createUser.user.id;
    const other = (await q<{ createApiToken: { secret: string } }>(`mutation { createApiToken(input: {organizationId: "${ids.other}", userId: "${globexAdmin}", name: "g"}) { secret } }`))
      .createApiToken.secret;
    expect(errorCode(await postGraphQL(url, other, setAccess))).toBe("NOT_FOUND");
    expect(errorCode(await postGraphQL(url, other, `mutation { setGuardrails(input: {scope: VIRTUAL_KEY, scopeId: "${ids.ciKey}", rules: []}) { guardrails { scope } } }`))).toBe("NOT_FOUND");
    expect(errorCode(await postGraphQL(url, other, `{ budgetAlerts(organizationId: "${ids.org}") { id } }`))).toBe("NOT_FOUND");
  });
});
