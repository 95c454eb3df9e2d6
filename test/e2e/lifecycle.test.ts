/**
 * Key lifecycle end to end on real processes (a control plane, two data-plane nodes, the mock
 * provider): a MEMBER's personal key dies with the member (deactivated or removed), a rotated key
 * keeps working under both secrets until its grace period ends, a JWT-format key works through the
 * SDK and dies with its revocation, and the Simulator (`POST /v1/simulate` and the GraphQL
 * `simulate` query) agrees with itself and consumes nothing.
 */
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken, createModel, createOpenAIAccount, createUser, failureOf, openaiClient, policyApplied, refusalMessage as bodyMessage, sdkChat, type OpenAIApiError } from "../support/admin.js";
import { graphqlClient } from "../support/graphql.js";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, createKey, keyBudget, keyUsage, setupTenant, type Tenant, type TestKey } from "../support/tenant.js";

let stack: Stack;
let tenant: Tenant;
/** An upstream of its own for the Simulator's model: it proves that simulating calls no provider. */
let simUpstream: MockProvider;

const node = (i: number): string => stack.nodeUrls[i] ?? "";
const sdk = (secret: string, i = 0): OpenAI => openaiClient(node(i), secret);
const applied = (): Promise<void> => policyApplied(stack.gql, stack.nodeUrls.length);

/** Resolves (to each node's refusal) once every node refuses `secret` with 401 invalid_api_key. */
async function refusedEverywhere(secret: string, timeoutMs = 5_000): Promise<OpenAIApiError[]> {
  return Promise.all(
    stack.nodeUrls.map((_, i) =>
      eventually(
        async () => {
          // /v1/models is not billed: polling it leaves the key's usage as it was.
          const err = await sdk(secret, i)
            .models.list()
            .then(
              () => null,
              (e: unknown) => e,
            );
          return err instanceof OpenAI.AuthenticationError && err.code === "invalid_api_key" ? err : undefined;
        },
        timeoutMs,
        `node ${i + 1} refusing the key`,
      ),
    ),
  );
}

/** A user's personal key, created by the user themself with their own admin-API token. */
async function memberWithPersonalKey(email: string): Promise<{ userId: string; key: TestKey }> {
  const userId = await createUser(stack.gql, tenant.orgId, email, "MEMBER");
  const token = await createApiToken(stack.gql, tenant.orgId, userId, `${email}-laptop`);
  const asMember = graphqlClient(stack.graphqlUrl, token);
  const me = await asMember<{ me: { kind: string; user: { id: string; role: string } } }>(`{ me { kind user { id role } } }`);
  expect(me.me).toEqual({ kind: "USER", user: { id: userId, role: "MEMBER" } });
  const created = await asMember<{ createVirtualKey: { virtualKey: { id: string; kind: string; userId: string }; secret: string } }>(
    `mutation($input: CreateVirtualKeyInput!) { createVirtualKey(input: $input) { virtualKey { id kind userId } secret } }`,
    { input: { organizationId: tenant.orgId, name: `${email}-key`, kind: "PERSONAL", userId } },
  );
  expect(created.createVirtualKey.virtualKey).toMatchObject({ kind: "PERSONAL", userId });
  const key = { id: created.createVirtualKey.virtualKey.id, secret: created.createVirtualKey.secret };
  await acceptedEverywhere(stack.nodeUrls, key.secret);
  for (const i of [0, 1]) expect(await sdkChat(sdk(key.secret, i), tenant.model)).not.toBe("");
  return { userId, key };
}

beforeAll(async () => {
  [stack, simUpstream] = await Promise.all([startStack(2), startMockProvider()]);
  tenant = await setupTenant(stack.gql, stack.mockUrl, "lifecycle");
  await createModel(stack.gql, await createOpenAIAccount(stack.gql, tenant.orgId, "sim-upstream", simUpstream.baseUrl), "sim-model");
  await applied();
}, 120_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), simUpstream?.close()]);
});

describe("a member's personal key dies with the member", () => {
  it("deactivateUser: every node refuses the key within a second", async () => {
    const { userId, key } = await memberWithPersonalKey("dana@example.com");
    const started = Date.now();
    const d = await stack.gql<{ deactivateUser: { user: { active: boolean } } }>(`mutation($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { active } } }`, {
      input: { id: userId },
    });
    expect(d.deactivateUser.user.active).toBe(false);
    const refusals = await refusedEverywhere(key.secret);
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const err of refusals) expect(bodyMessage(err)).toBe(`the user of virtual key "dana@example.com-key" is deactivated`);
    for (const i of [0, 1]) expect(await failureOf(sdkChat(sdk(key.secret, i), tenant.model))).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("removeUser: the key is revoked with the user and every node refuses it within a second", async () => {
    const { userId, key } = await memberWithPersonalKey("eli@example.com");
    const started = Date.now();
    const d = await stack.gql<{ removeUser: { revokedVirtualKeyIds: string[]; user: { id: string } } }>(
      `mutation($input: RemoveUserInput!) { removeUser(input: $input) { revokedVirtualKeyIds user { id } } }`,
      { input: { id: userId } },
    );
    expect(d.removeUser.revokedVirtualKeyIds).toEqual([key.id]);
    await refusedEverywhere(key.secret);
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const i of [0, 1]) expect(await failureOf(sdkChat(sdk(key.secret, i), tenant.model))).toBeInstanceOf(OpenAI.AuthenticationError);
    const status = await stack.gql<{ virtualKey: { status: string } }>(`query($id: ID!) { virtualKey(id: $id) { status } }`, { id: key.id });
    expect(status.virtualKey.status).toBe("REVOKED");
  });
});

describe("rotateVirtualKey with a grace period", () => {
  it("serves the old and the new secret during the grace, then only the new one, on the same key", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "rotating");
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    expect(await sdkChat(sdk(key.secret), tenant.model)).not.toBe("");
    const rotatedAt = Date.now();
    const r = await stack.gql<{ rotateVirtualKey: { secret: string; virtualKey: { id: string; status: string } } }>(
      `mutation($input: RotateVirtualKeyInput!) { rotateVirtualKey(input: $input) { secret virtualKey { id status } } }`,
      { input: { id: key.id, gracePeriodSeconds: 4 } },
    );
    const fresh = r.rotateVirtualKey.secret;
    expect(r.rotateVirtualKey.virtualKey).toEqual({ id: key.id, status: "ACTIVE" });
    await acceptedEverywhere(stack.nodeUrls, fresh);
    for (const i of [0, 1]) {
      expect(await sdkChat(sdk(key.secret, i), tenant.model)).not.toBe("");
      expect(await sdkChat(sdk(fresh, i), tenant.model)).not.toBe("");
    }
    expect(Date.now() - rotatedAt).toBeLessThan(4_000); // all of those were inside the grace period
    const refusals = await refusedEverywhere(key.secret, 10_000);
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(3_000);
    for (const err of refusals) expect(bodyMessage(err)).toBe(`this secret of virtual key "rotating" was rotated and its grace period has ended`);
    for (const i of [0, 1]) expect(await sdkChat(sdk(fresh, i), tenant.model)).not.toBe("");
    // Same key, same usage: the 1 + 2 + 2 + 2 requests under both secrets all count on it.
    const usage = await eventually(
      async () => {
        const u = await keyUsage(stack.gql, tenant.orgId, key.id);
        return u.requests >= 7 ? u : undefined;
      },
      15_000,
      "usage of the rotated key",
    );
    expect(usage.requests).toBe(7);
  });
});

describe("JWT-format keys", () => {
  it("an EdDSA token works through the SDK on every node and is refused right after its revocation", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "jwt-key", { format: "JWT" });
    const parts = key.secret.split(".");
    expect(parts).toHaveLength(3);
    const header = JSON.parse(Buffer.from(parts[0] ?? "", "base64url").toString("utf8")) as { alg: string; kid?: string };
    const claims = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as { sub: string; org: string };
    expect(header.alg).toBe("EdDSA");
    expect(header.kid).toBeTruthy();
    expect(claims).toMatchObject({ sub: key.id, org: tenant.orgId });
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    for (const i of [0, 1]) expect(await sdkChat(sdk(key.secret, i), tenant.model)).not.toBe("");

    const started = Date.now();
    await stack.gql(`mutation($input: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $input) { virtualKey { status } } }`, { input: { id: key.id } });
    await refusedEverywhere(key.secret);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

/** The Simulator's answer (contract §2). */
interface SimulationAnswer {
  readonly allowed: boolean;
  readonly status: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly estimatedCost: string;
  readonly route: { readonly model: string; readonly providerAccount: string; readonly upstreamModel: string } | null;
  readonly checks: readonly { readonly name: string; readonly level: string; readonly passed: boolean; readonly detail: string }[];
  readonly budgets: readonly { readonly name: string; readonly limit: string; readonly used: string | null; readonly remaining: string | null; readonly heldByThisNode: string | null }[];
}

const SIM_PATH = "/v1/chat/completions";
const simBody = (model: string): Record<string, unknown> => ({ model, messages: [{ role: "user", content: "what would happen?" }], max_tokens: 50 });

async function simulateOnNode(i: number, secret: string, body: Record<string, unknown>): Promise<SimulationAnswer> {
  const res = await fetch(`${node(i)}/v1/simulate`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ path: SIM_PATH, body }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as SimulationAnswer;
}

async function simulateOnControlPlane(secret: string, body: Record<string, unknown>): Promise<SimulationAnswer> {
  const d = await stack.gql<{ simulate: SimulationAnswer }>(
    `query($input: SimulateInput!) { simulate(input: $input) { allowed status error { code message } estimatedCost route { model providerAccount upstreamModel } checks { name level passed detail } budgets { name limit used remaining heldByThisNode } } }`,
    { input: { secret, path: SIM_PATH, body } },
  );
  return d.simulate;
}

/** Checks compared across the two Simulators: the node's `budget_grant` checks (the grants it would ask for) aside. */
const withoutGrantChecks = (a: SimulationAnswer): SimulationAnswer["checks"] => a.checks.filter((c) => c.name !== "budget_grant");

describe("the Simulator", () => {
  it("POST /v1/simulate and the simulate query agree on an allowed request, a budget refusal and an allow-list refusal, and consume nothing", async () => {
    const open = await createKey(stack.gql, tenant.orgId, "sim-open", {
      budgets: [{ unit: "REQUESTS", window: "TOTAL", limit: 1, mode: "HARD" }],
      rateLimits: [{ unit: "REQUESTS", limit: 2, windowSeconds: 2_678_400 }], // the Simulator counts nothing against it
    });
    const dry = await createKey(stack.gql, tenant.orgId, "sim-dry", { budgets: [{ unit: "REQUESTS", window: "TOTAL", limit: 0, mode: "HARD" }] });
    const narrow = await createKey(stack.gql, tenant.orgId, "sim-narrow", { allowedModels: ["other-*"] });
    for (const k of [open, dry, narrow]) await acceptedEverywhere(stack.nodeUrls, k.secret);
    const body = simBody("sim-model");
    const expected = [
      { key: open, allowed: true, status: 200, code: null },
      { key: dry, allowed: false, status: 429, code: "budget_exceeded" },
      { key: narrow, allowed: false, status: 403, code: "model_not_allowed" },
    ] as const;
    for (const { key, allowed, status, code } of expected) {
      for (let round = 0; round < 3; round++) {
        const fromControlPlane = await simulateOnControlPlane(key.secret, body);
        for (const i of [0, 1]) {
          const fromNode = await simulateOnNode(i, key.secret, body);
          expect({ allowed: fromNode.allowed, status: fromNode.status, code: fromNode.error?.code ?? null }).toEqual({ allowed, status, code });
          expect({ allowed: fromControlPlane.allowed, status: fromControlPlane.status, error: fromControlPlane.error }).toEqual({
            allowed,
            status,
            error: fromNode.error === null ? null : { code: fromNode.error.code, message: fromNode.error.message },
          });
          expect(fromControlPlane.route).toEqual({ model: "sim-model", providerAccount: "sim-upstream", upstreamModel: "sim-model-upstream" });
          expect(fromNode.route).toEqual(fromControlPlane.route);
          expect(fromNode.estimatedCost).toBe(fromControlPlane.estimatedCost);
          expect(withoutGrantChecks(fromControlPlane)).toEqual(withoutGrantChecks(fromNode));
          expect(fromNode.checks.at(-1)?.passed).toBe(allowed);
        }
      }
    }
    const open0 = await simulateOnNode(0, open.secret, body);
    expect(open0.checks.map((c) => c.name)).toEqual(["request", "api_key", "key_status", "model", "model_access", "price", "rate_limit", "budget", "budget_grant"]);
    // The key's budget as the admin set it, with its use, on every Simulator; the node says separately what it holds.
    const truth = { name: 'total request budget of virtual key "sim-open"', limit: "1", used: "0", remaining: "1" };
    expect(open0.budgets).toMatchObject([{ ...truth, heldByThisNode: expect.any(String) }]);
    expect(open0.budgets[0]?.heldByThisNode).not.toBeNull();
    expect((await simulateOnControlPlane(open.secret, body)).budgets).toEqual([{ ...truth, heldByThisNode: null }]);
    const narrow0 = await simulateOnNode(0, narrow.secret, body);
    expect(narrow0.checks.at(-1)).toEqual({ name: "model_access", level: "VIRTUAL_KEY", passed: false, detail: `model "sim-model" is not allowed for virtual key "sim-narrow"` });

    // 21 simulations per key later: no provider call, no budget used, no rate-limit share taken, no usage.
    expect(simUpstream.requests()).toHaveLength(0);
    expect((await keyBudget(stack.gql, open.id)).used).toBe("0");
    expect(await sdkChat(sdk(open.secret, 0), "sim-model")).not.toBe(""); // the rate limit (2) and the budget (1) were intact
    expect(simUpstream.requests()).toHaveLength(1);
    const spent = await failureOf(sdkChat(sdk(open.secret, 1), "sim-model"));
    expect(spent).toBeInstanceOf(OpenAI.RateLimitError);
    expect((spent as OpenAIApiError).code).toBe("budget_exceeded");
    for (const k of [dry, narrow]) expect(await failureOf(sdkChat(sdk(k.secret, 0), "sim-model"))).toBeInstanceOf(OpenAI.APIError);
    expect(simUpstream.requests()).toHaveLength(1);
    for (const [key, want] of [
      [open, { requests: 1, blocked: 1 }],
      [dry, { requests: 0, blocked: 1 }],
      [narrow, { requests: 0, blocked: 1 }],
    ] as const) {
      // Simulations left before the real requests: any record of theirs would be counted by now.
      const usage = await eventually(
        async () => {
          const u = await keyUsage(stack.gql, tenant.orgId, key.id);
          return u.requests + u.blocked >= want.requests + want.blocked ? u : undefined;
        },
        15_000,
        "usage of the real requests",
      );
      expect({ requests: usage.requests, blocked: usage.blocked }).toEqual(want);
    }
    expect((await keyBudget(stack.gql, open.id)).used).toBe("1");
    // What the real request consumed, the Simulators now see: the key's rate limit (2 for the
    // cluster) still has room, so every Simulator meets the spent budget.
    const after = [await simulateOnNode(0, open.secret, body), await simulateOnNode(1, open.secret, body), await simulateOnControlPlane(open.secret, body)];
    for (const a of after) expect(a.budgets.map((b) => [b.limit, b.used, b.remaining])).toEqual([["1", "1", "0"]]);
    expect(after.map((a) => [a.allowed, a.status, a.error?.code])).toEqual([
      [false, 429, "budget_exceeded"],
      [false, 429, "budget_exceeded"],
      [false, 429, "budget_exceeded"],
    ]);
  });
});
