/**
 * Every refusal of the contract (§2) that an app can meet, end to end on real processes: a control
 * plane, two data-plane nodes and the mock provider, called through the official `openai` client
 * (no retries) — plus one Anthropic SDK and one Google SDK refusal with their own error shapes.
 * Each test asserts the SDK's typed error class, the HTTP status, `error.code` and the message
 * naming the rule and level. The nodes run with a 64 KiB body limit and a 1.5 s first-byte timeout.
 */
import { randomBytes } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import { generateOpaqueSecret } from "@tollgate/policy";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createModel, createOpenAIAccount, createTeam, failureOf, openaiClient, policyApplied, refusalMessage as bodyMessage, sdkChat, type OpenAIApiError } from "../support/admin.js";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, createKey, setupTenant, type Tenant, type TestKey } from "../support/tenant.js";

const BODY_LIMIT = 65_536;
const FIRST_BYTE_TIMEOUT_MS = 1_500;
/** A rate-limit window so long (31 days, epoch-aligned) that no test run straddles two windows. */
const LONG_WINDOW_S = 2_678_400;

let stack: Stack;
let tenant: Tenant;

const node = (i: number): string => stack.nodeUrls[i] ?? "";
const sdk = (secret: string, i = 0): OpenAI => openaiClient(node(i), secret);
const applied = (): Promise<void> => policyApplied(stack.gql, stack.nodeUrls.length);

/** Asserts `err` is the OpenAI SDK's `cls` with this status and code; returns it typed. */
function expectOpenAIError(err: unknown, cls: new (...args: never[]) => OpenAIApiError, status: number, code: string): OpenAIApiError {
  expect(err).toBeInstanceOf(cls);
  const e = err as OpenAIApiError;
  expect({ status: e.status, code: e.code }).toEqual({ status, code });
  return e;
}

/** Sends `mutation` with `input` as the admin, then waits until both nodes applied the change. */
async function mutate<T = Record<string, unknown>>(mutation: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const d = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${mutation}(input: $input) { ${fields} } }`, { input });
  await applied();
  return d[mutation] as T;
}

/** Creates a SERVICE key and waits until both nodes accept it. */
async function newKey(name: string, extra: Record<string, unknown> = {}): Promise<TestKey> {
  const key = await createKey(stack.gql, tenant.orgId, name, extra);
  await acceptedEverywhere(stack.nodeUrls, key.secret);
  return key;
}

/** Resolves once every node refuses `secret` with the SDK's AuthenticationError. */
async function refusedEverywhere(secret: string, timeoutMs = 5_000): Promise<OpenAIApiError[]> {
  return Promise.all(
    stack.nodeUrls.map((_, i) =>
      eventually(
        async () => {
          const err = await sdk(secret, i)
            .models.list()
            .then(
              () => null,
              (e: unknown) => e,
            );
          return err instanceof OpenAI.AuthenticationError ? err : undefined;
        },
        timeoutMs,
        `node ${i + 1} refusing the key`,
      ),
    ),
  );
}

/** Cost in USD (Decimal string) of one key's usage of one model, once `requests` served requests are recorded. */
async function usageCost(keyId: string, model: string, requests: number): Promise<string> {
  return eventually(
    async () => {
      const d = await stack.gql<{ usage: { group: { model: string }; requests: number; cost: string }[] }>(
        `query($org: ID!, $filter: UsageFilter) { usage(organizationId: $org, groupBy: [MODEL], filter: $filter) { group { model } requests cost } }`,
        { org: tenant.orgId, filter: { virtualKeyId: keyId } },
      );
      const row = d.usage.find((r) => r.group.model === model);
      return row !== undefined && row.requests === requests ? row.cost : undefined;
    },
    15_000,
    `usage of ${model}`,
  );
}

beforeAll(async () => {
  stack = await startStack(2, {
    nodeEnv: () => ({ DATA_PLANE_BODY_LIMIT_BYTES: String(BODY_LIMIT), UPSTREAM_FIRST_BYTE_TIMEOUT_MS: String(FIRST_BYTE_TIMEOUT_MS) }),
  });
  tenant = await setupTenant(stack.gql, stack.mockUrl, "refusals");
  for (const name of ["gpt-4o", "org-denied-model"]) await createModel(stack.gql, tenant.accountId, name);
  await createModel(stack.gql, tenant.accountId, "unpriced-model", null);
  // The failure tests get accounts of their own, so their failures open no circuit on the main one.
  await createModel(stack.gql, await createOpenAIAccount(stack.gql, tenant.orgId, "flaky", `${stack.mockUrl}/v1`), "flaky-model");
  await createModel(stack.gql, await createOpenAIAccount(stack.gql, tenant.orgId, "stuck", `${stack.mockUrl}/v1`), "stuck-model");
  await applied();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("401 invalid_api_key", () => {
  it("refuses an unknown secret, a malformed one and a revoked key", async () => {
    const unknown = generateOpaqueSecret(new Uint8Array(randomBytes(32)));
    for (const secret of [unknown, "tg_live_not-a-real-key"]) {
      const err = expectOpenAIError(
        await failureOf(sdk(secret).chat.completions.create({ model: tenant.model, messages: [{ role: "user", content: "hi" }] })),
        OpenAI.AuthenticationError,
        401,
        "invalid_api_key",
      );
      expect(bodyMessage(err)).toContain("the API key is not valid");
    }
    const noKey = await fetch(`${node(0)}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: tenant.model, messages: [] }) });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { code: "invalid_api_key" } });

    const key = await newKey("to-revoke");
    await mutate("revokeVirtualKey", "RevokeVirtualKeyInput", { id: key.id }, "virtualKey { status }");
    for (const i of [0, 1]) {
      // A revoked key leaves the nodes' snapshot: its secret is as unknown as any other.
      const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret, i), tenant.model)), OpenAI.AuthenticationError, 401, "invalid_api_key");
      expect(bodyMessage(err)).toBe("the API key is not valid");
    }
  });

  it("refuses an expired key: a short expiry that passes, and an expiry moved into the past", async () => {
    const shortLived = await newKey("short-lived", { expiresAt: new Date(Date.now() + 4_000).toISOString() });
    const pastDue = await newKey("past-due");
    expect(await sdkChat(sdk(shortLived.secret), tenant.model)).not.toBe("");
    expect(await sdkChat(sdk(pastDue.secret, 1), tenant.model)).not.toBe("");
    await mutate("updateVirtualKey", "UpdateVirtualKeyInput", { id: pastDue.id, expiresAt: new Date(Date.now() - 60_000).toISOString() }, "virtualKey { id }");
    for (const i of [0, 1]) {
      const err = expectOpenAIError(await failureOf(sdkChat(sdk(pastDue.secret, i), tenant.model)), OpenAI.AuthenticationError, 401, "invalid_api_key");
      expect(bodyMessage(err)).toContain(`virtual key "past-due" has expired`);
    }
    const [first] = await refusedEverywhere(shortLived.secret, 8_000);
    expect(bodyMessage(first)).toContain(`virtual key "short-lived" has expired`);
    const status = await stack.gql<{ virtualKey: { status: string } }>(`query($id: ID!) { virtualKey(id: $id) { status } }`, { id: shortLived.id });
    expect(status.virtualKey.status).toBe("EXPIRED");
  });

  it("a rotated key: both secrets work during the grace period, the old one is refused after it", async () => {
    const key = await newKey("rotated");
    const rotatedAt = Date.now();
    const rotated = await mutate<{ secret: string; virtualKey: { id: string } }>("rotateVirtualKey", "RotateVirtualKeyInput", { id: key.id, gracePeriodSeconds: 4 }, "secret virtualKey { id }");
    expect(rotated.virtualKey.id).toBe(key.id);
    expect(rotated.secret).not.toBe(key.secret);
    for (const i of [0, 1]) {
      expect(await sdkChat(sdk(key.secret, i), tenant.model)).not.toBe("");
      expect(await sdkChat(sdk(rotated.secret, i), tenant.model)).not.toBe("");
    }
    expect(Date.now() - rotatedAt).toBeLessThan(4_000); // the old secret was used inside its grace period
    const [first] = await refusedEverywhere(key.secret, 10_000);
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(4_000 - 1_000);
    expect(first?.code).toBe("invalid_api_key");
    expect(bodyMessage(first)).toContain("was rotated and its grace period has ended");
    for (const i of [0, 1]) expect(await sdkChat(sdk(rotated.secret, i), tenant.model)).not.toBe("");
  });
});

describe("403 key_paused", () => {
  it("refuses a paused key on every node and serves it again once resumed", async () => {
    const key = await newKey("pausable");
    const paused = await mutate<{ virtualKey: { status: string } }>("pauseVirtualKey", "PauseVirtualKeyInput", { id: key.id }, "virtualKey { status }");
    expect(paused.virtualKey.status).toBe("PAUSED");
    for (const i of [0, 1]) {
      const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret, i), tenant.model)), OpenAI.PermissionDeniedError, 403, "key_paused");
      expect(bodyMessage(err)).toContain(`virtual key "pausable" is paused`);
    }
    await mutate("resumeVirtualKey", "ResumeVirtualKeyInput", { id: key.id }, "virtualKey { status }");
    for (const i of [0, 1]) expect(await sdkChat(sdk(key.secret, i), tenant.model)).not.toBe("");
  });
});

describe("403 model_not_allowed at every level, 404 model_not_found", () => {
  it("organization level: setModelAccess deny", async () => {
    const key = await newKey("org-level");
    expect(await sdkChat(sdk(key.secret), "org-denied-model")).not.toBe("");
    await mutate("setModelAccess", "SetModelAccessInput", { scope: "ORGANIZATION", scopeId: tenant.orgId, allow: [], deny: ["org-denied-*"] }, "modelAccess { deny }");
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret, 1), "org-denied-model")), OpenAI.PermissionDeniedError, 403, "model_not_allowed");
    expect(bodyMessage(err)).toBe(`model "org-denied-model" is not allowed for organization "refusals"`);
    expect(await sdkChat(sdk(key.secret, 1), tenant.model)).not.toBe("");
  });

  it("team level: setModelAccess allow on the key's team", async () => {
    const teamId = await createTeam(stack.gql, tenant.orgId, "research");
    await mutate("setModelAccess", "SetModelAccessInput", { scope: "TEAM", scopeId: teamId, allow: ["gpt-4o-mini*"], deny: [] }, "modelAccess { allow }");
    const key = await newKey("team-level", { teamId });
    expect(await sdkChat(sdk(key.secret), tenant.model)).not.toBe("");
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "gpt-4o")), OpenAI.PermissionDeniedError, 403, "model_not_allowed");
    expect(bodyMessage(err)).toBe(`model "gpt-4o" is not allowed for team "research"`);
  });

  it("key level: the key's allow-list", async () => {
    const key = await newKey("key-level", { allowedModels: ["gpt-4o-mini"] });
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "gpt-4o")), OpenAI.PermissionDeniedError, 403, "model_not_allowed");
    expect(bodyMessage(err)).toBe(`model "gpt-4o" is not allowed for virtual key "key-level"`);
  });

  it("an unknown model is 404 model_not_found", async () => {
    const key = await newKey("unknown-model");
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "no-such-model")), OpenAI.NotFoundError, 404, "model_not_found");
    expect(bodyMessage(err)).toContain(`model "no-such-model" does not exist`);
  });
});

describe("403 model_not_priced", () => {
  it("refuses a model without a price until the organization sets a fallback price, then bills at it", async () => {
    const key = await newKey("unpriced");
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "unpriced-model")), OpenAI.PermissionDeniedError, 403, "model_not_priced");
    expect(bodyMessage(err)).toContain(`model "unpriced-model" has no price`);
    await mutate("updateOrganization", "UpdateOrganizationInput", { id: tenant.orgId, fallbackInputPricePerMillion: "3.00", fallbackOutputPricePerMillion: "5.00" }, "organization { id }");
    const text = await sdkChat(sdk(key.secret, 1), "unpriced-model", "fallback [[mock:prompt_tokens=1000]] [[mock:completion_tokens=100]]", 200);
    expect(text).toBe(" tok".repeat(100));
    // 1000 input tokens at $3/M + 100 output tokens at $5/M = $0.0035.
    expect(await usageCost(key.id, "unpriced-model", 1)).toBe("0.0035");
  });
});

describe("429 budget_exceeded and rate_limit_exceeded", () => {
  let teamKey: TestKey;

  it("a team's monthly USD budget: refused with the team named, the reset instant, and x-should-retry false (no Retry-After an SDK would sleep on)", async () => {
    const teamId = await createTeam(stack.gql, tenant.orgId, "search");
    await mutate("setBudget", "SetBudgetInput", { scope: "TEAM", scopeId: teamId, unit: "USD", window: "MONTH", limit: "0.00001", mode: "HARD" }, "budget { id }");
    teamKey = await newKey("search-bot", { teamId });
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(teamKey.secret), tenant.model)), OpenAI.RateLimitError, 429, "budget_exceeded");
    const now = new Date();
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    expect(bodyMessage(err)).toBe(`monthly USD budget of team "search" is exhausted; resets at ${nextMonth}`);
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(err.headers?.get("retry-after")).toBeNull();
  });

  it("the Anthropic SDK gets the same refusal as its RateLimitError in Anthropic's error shape", async () => {
    const client = new Anthropic({ baseURL: node(1), apiKey: teamKey.secret, maxRetries: 0, timeout: 15_000 });
    const err = await failureOf(client.messages.create({ model: tenant.model, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({ type: "error", error: { type: "rate_limit_error", message: expect.stringMatching(/^monthly USD budget of team "search" is exhausted; resets at \S+Z$/) } });
    expect(e.headers?.get("x-should-retry")).toBe("false");
  });

  it("a key's request rate limit: x-ratelimit-* headers on every answer, then 429 (a 31-day window: the reset in the message and headers, x-should-retry false)", async () => {
    const key = await newKey("rate-limited", { rateLimits: [{ unit: "REQUESTS", limit: 4, windowSeconds: LONG_WINDOW_S }] });
    // The limit is the key's over both connected nodes: one node borrows units until all 4 are used.
    const remaining: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { response } = await sdk(key.secret)
        .chat.completions.create({ model: tenant.model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 })
        .withResponse();
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("4");
      expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+s$/);
      remaining.push(response.headers.get("x-ratelimit-remaining-requests") ?? "");
    }
    expect(remaining).toEqual(["3", "2", "1", "0"]);
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), tenant.model, "hi", 5)), OpenAI.RateLimitError, 429, "rate_limit_exceeded");
    const windowEnd = Math.ceil(Date.now() / (LONG_WINDOW_S * 1000)) * LONG_WINDOW_S * 1000;
    expect(bodyMessage(err)).toBe(`request rate limit of virtual key "rate-limited" exceeded (4 per ${LONG_WINDOW_S}s); resets at ${new Date(windowEnd).toISOString()}`);
    expect(err.headers?.get("x-ratelimit-limit-requests")).toBe("4");
    expect(err.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
    const reset = Number(/^(\d+)s$/.exec(err.headers?.get("x-ratelimit-reset-requests") ?? "")?.[1]);
    expect(Math.abs(reset - (windowEnd - Date.now()) / 1000)).toBeLessThan(5);
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(err.headers?.get("retry-after")).toBeNull();
    // The other node has nothing left to give either: the limit is the key's, not a node's.
    expectOpenAIError(await failureOf(sdkChat(sdk(key.secret, 1), tenant.model, "hi", 5)), OpenAI.RateLimitError, 429, "rate_limit_exceeded");
  });
});

describe("400 request_cost_limit, guardrail_blocked, invalid_request; 413 request_too_large", () => {
  it("refuses a request whose upper-bound cost is over maxCostPerRequest, and serves a cheaper one", async () => {
    const key = await newKey("capped", { maxCostPerRequest: "0.0001" });
    // Up to 1000 output tokens at $2/M = $0.002 > $0.0001.
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), tenant.model, "hi", 1000)), OpenAI.BadRequestError, 400, "request_cost_limit");
    expect(bodyMessage(err)).toMatch(/^request may cost up to \$0\.00\d+, over the per-request limit of \$0\.0001 of virtual key "capped"$/);
    expect(await sdkChat(sdk(key.secret), tenant.model, "hi", 10)).not.toBe("");
  });

  it("refuses a prompt matching a key's regex guardrail (OpenAI and Google SDKs), and serves a clean one", async () => {
    const key = await newKey("guarded");
    await mutate(
      "setGuardrails",
      "SetGuardrailsInput",
      { scope: "VIRTUAL_KEY", scopeId: key.id, rules: [{ name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\b\\d{3}-\\d{2}-\\d{4}\\b" }] },
      "guardrails { rules { name } }",
    );
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), tenant.model, "my ssn is 123-45-6789")), OpenAI.BadRequestError, 400, "guardrail_blocked");
    expect(bodyMessage(err)).toBe(`blocked by guardrail "no-ssn" of virtual key "guarded"`);
    expect(await sdkChat(sdk(key.secret), tenant.model, "nothing secret here")).not.toBe("");

    const ai = new GoogleGenAI({ apiKey: key.secret, httpOptions: { baseUrl: node(1) } });
    const gerr = await failureOf(ai.models.generateContent({ model: tenant.model, contents: "ssn 123-45-6789" }));
    expect(gerr).toBeInstanceOf(ApiError);
    expect((gerr as ApiError).status).toBe(400);
    expect(JSON.parse((gerr as ApiError).message)).toEqual({ error: { code: 400, message: `blocked by guardrail "no-ssn" of virtual key "guarded"`, status: "INVALID_ARGUMENT" } });
  });

  it("malformed JSON (fetch) and a request without messages (SDK) are 400 invalid_request", async () => {
    const key = await newKey("sloppy");
    const res = await fetch(`${node(0)}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: `{"model": "${tenant.model}", "messages": [`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_request", type: "invalid_request_error" } });
    const noMessages = { model: tenant.model } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    const err = expectOpenAIError(await failureOf(sdk(key.secret, 1).chat.completions.create(noMessages)), OpenAI.BadRequestError, 400, "invalid_request");
    expect(bodyMessage(err)).toContain("messages");
  });

  it("a body over the node's limit is 413 request_too_large", async () => {
    const key = await newKey("verbose");
    const body = JSON.stringify({ model: tenant.model, messages: [{ role: "user", content: "x".repeat(BODY_LIMIT + 1) }] });
    const res = await fetch(`${node(1)}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` }, body });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "request_too_large" } });
    const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), tenant.model, "y".repeat(BODY_LIMIT))), OpenAI.APIError, 413, "request_too_large");
    expect(err.status).toBe(413);
  });
});

describe("502 upstream_error, 504 upstream_timeout", () => {
  it("an upstream 500 is 502 upstream_error", async () => {
    const key = await newKey("unlucky");
    expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "flaky-model", "[[mock:status=500]]")), OpenAI.InternalServerError, 502, "upstream_error");
  });

  it("an upstream that never answers is 504 upstream_timeout after the first-byte timeout", async () => {
    const key = await newKey("patient");
    const started = Date.now();
    expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), "stuck-model", "[[mock:hang]]")), OpenAI.InternalServerError, 504, "upstream_timeout");
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(FIRST_BYTE_TIMEOUT_MS - 100);
    expect(waited).toBeLessThan(FIRST_BYTE_TIMEOUT_MS + 5_000);
  });
});

describe("503 budget_unverifiable", () => {
  it("with the control plane down, a hard-budget key whose node holds no grant is refused; it works again after the restart", async () => {
    const key = await newKey("unverifiable", { budgets: [{ unit: "USD", window: "DAY", limit: "10", mode: "HARD" }] });
    const open = await newKey("no-budget");
    await stack.killControlPlane("SIGKILL");
    try {
      const err = expectOpenAIError(await failureOf(sdkChat(sdk(key.secret), tenant.model)), OpenAI.InternalServerError, 503, "budget_unverifiable");
      expect(bodyMessage(err)).toBe(`daily USD budget of virtual key "unverifiable" cannot be verified right now`);
      // A key without a hard budget is served from the node's snapshot meanwhile.
      expect(await sdkChat(sdk(open.secret, 1), tenant.model)).not.toBe("");
    } finally {
      await stack.restartControlPlane();
    }
    await eventually(
      async () =>
        (await sdkChat(sdk(key.secret), tenant.model).then(
          () => true,
          () => false,
        ))
          ? true
          : undefined,
      20_000,
      "the budget verifiable again",
    );
  });
});
