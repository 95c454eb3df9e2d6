/**
 * Issue 2's loop, end to end, on real processes: an admin sets up an organization, a provider
 * account (the mock provider), priced models and keys through GraphQL; two data-plane nodes get
 * the policy over gRPC; the official `openai` client calls them; the usage comes back exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { startStack, type Stack } from "../support/stack.js";
import { eventually } from "../support/processes.js";

const UPSTREAM_KEY = "sk-upstream-secret-0123456789";
let stack: Stack;
let orgId: string;
let mainKey: { id: string; secret: string };

function client(nodeIndex: number, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${stack.nodeUrls[nodeIndex]}/v1`, apiKey, maxRetries: 0, timeout: 15_000 });
}

async function createKey(name: string, extra: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const data = await stack.gql<{ createVirtualKey: { virtualKey: { id: string; status: string }; secret: string } }>(
    `mutation($input: CreateVirtualKeyInput!) { createVirtualKey(input: $input) { virtualKey { id name status prefix } secret } }`,
    { input: { organizationId: orgId, name, kind: "SERVICE", ...extra } },
  );
  expect(data.createVirtualKey.virtualKey.status).toBe("ACTIVE");
  return { id: data.createVirtualKey.virtualKey.id, secret: data.createVirtualKey.secret };
}

/** Resolves once `secret` is accepted by every node (a new key propagates within a second). */
async function acceptedEverywhere(secret: string): Promise<number> {
  const started = Date.now();
  await Promise.all(
    stack.nodeUrls.map((u) =>
      eventually(
        async () => {
          const res = await fetch(`${u}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
          return res.status === 200 ? true : undefined;
        },
        5_000,
        `key accepted by ${u}`,
      ),
    ),
  );
  return Date.now() - started;
}

beforeAll(async () => {
  stack = await startStack(2);
  const org = await stack.gql<{ createOrganization: { organization: { id: string; slug: string } } }>(
    `mutation { createOrganization(input: { name: "Acme", slug: "acme" }) { organization { id slug } } }`,
  );
  orgId = org.createOrganization.organization.id;
  const account = await stack.gql<{ createProviderAccount: { providerAccount: { id: string; apiKeyHint: string } } }>(
    `mutation($input: CreateProviderAccountInput!) { createProviderAccount(input: $input) { providerAccount { id name apiKeyHint } } }`,
    { input: { organizationId: orgId, name: "mock", provider: "OPENAI_COMPATIBLE", baseUrl: `${stack.mockUrl}/v1`, apiKey: UPSTREAM_KEY } },
  );
  expect(account.createProviderAccount.providerAccount.apiKeyHint).not.toContain(UPSTREAM_KEY);
  for (const name of ["gpt-4o-mini", "gpt-4o"]) {
    await stack.gql(`mutation($input: CreateModelInput!) { createModel(input: $input) { model { id name } } }`, {
      input: {
        providerAccountId: account.createProviderAccount.providerAccount.id,
        name,
        upstreamModel: `${name}-upstream`,
        inputPricePerMillion: "1.00",
        outputPricePerMillion: "2.00",
        maxOutputTokens: 1000,
      },
    });
  }
  mainKey = await createKey("main", { allowedModels: ["gpt-4o-mini"] });
  const ms = await acceptedEverywhere(mainKey.secret);
  expect(ms).toBeLessThan(1_000);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the loop through the official openai client", () => {
  it("answers a chat completion on both nodes, and the upstream sees only the provider key", async () => {
    for (const i of [0, 1]) {
      const res = await client(i, mainKey.secret).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
      expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
      expect(res.usage?.completion_tokens).toBe(20);
    }
  });

  it("streams a chat completion and captures its usage", async () => {
    const stream = await client(1, mainKey.secret).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "stream please" }],
      stream: true,
    });
    let text = "";
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) sawUsage = true;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(sawUsage).toBe(false); // the client did not ask for usage: the gateway hides it
  });

  it("refuses a wrong key with 401 invalid_api_key", async () => {
    const err = await client(0, "tg_live_not-a-real-key")
      .models.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_api_key");
  });

  it("refuses a model outside the allow-list with 403 model_not_allowed", async () => {
    const err = await client(0, mainKey.secret)
      .chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_allowed");
  });

  it("lists only the key's models", async () => {
    const models = await client(0, mainKey.secret).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-4o-mini"]);
  });
});

/**
 * What a run of identical calls against a hard USD budget must do under the documented rules:
 * the mock bills ceil(bytes/4)+3 prompt tokens per message and 20 completion tokens (fewer when
 * max_tokens is lower); the gateway reserves a sound upper bound (input bytes + 8 per message + 16
 * tokens, plus the output cap) and, with CAP_OUTPUT, admits the last calls with a lowered output
 * cap while the budget can pay the input and at least 16 output tokens.
 */
function expectedBudgetRun(limitMicros: number, prompt: string, maxTokens: number): { calls: number; spent: number } {
  const bytes = Buffer.byteLength(prompt);
  const promptTokens = Math.ceil(bytes / 4) + 3;
  const inputUpperBound = bytes + 8 + 16;
  const [inPrice, outPrice] = [1, 2]; // micro-dollars per token ($1 and $2 per million)
  let spent = 0;
  let calls = 0;
  for (;;) {
    const left = limitMicros - spent;
    const affordableOutput = Math.floor((left - inputUpperBound * inPrice) / outPrice);
    const cap = Math.min(maxTokens, affordableOutput);
    if (cap < Math.min(16, maxTokens)) return { calls, spent };
    const completion = Math.min(20, cap);
    spent += promptTokens * inPrice + completion * outPrice;
    calls += 1;
  }
}

describe("a small hard USD budget", () => {
  it("admits exactly the calls the budget can pay, then 429 budget_exceeded, with exact recorded spend", async () => {
    const budgetKey = await createKey("budgeted", { budgets: [{ unit: "USD", window: "TOTAL", limit: "0.0005", mode: "HARD" }] });
    await acceptedEverywhere(budgetKey.secret);
    const prompt = "hello budget";
    const expected = expectedBudgetRun(500, prompt, 20);
    let ok = 0;
    let refusal: unknown = null;
    for (let i = 0; i < 40 && refusal === null; i++) {
      try {
        await client(0, budgetKey.secret).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: 20 });
        ok += 1;
      } catch (err) {
        refusal = err;
      }
    }
    expect(ok).toBe(expected.calls);
    expect(refusal).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refusal as InstanceType<typeof OpenAI.APIError>).code).toBe("budget_exceeded");
    // The other node cannot spend past the limit either.
    const other = await client(1, budgetKey.secret)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: 20 })
      .catch((e: unknown) => e);
    expect((other as InstanceType<typeof OpenAI.APIError>).code).toBe("budget_exceeded");

    const spentUsd = (expected.spent / 1e6)
      .toFixed(6)
      .replace(/0+$/, "")
      .replace(/\.(\d)$/, ".$10");
    const budgets = await eventually(
      async () => {
        const d = await stack.gql<{ virtualKey: { budgets: { used: string; remaining: string; limit: string }[] } }>(
          `query($id: ID!) { virtualKey(id: $id) { budgets { unit window limit mode used remaining resetsAt } } }`,
          { id: budgetKey.id },
        );
        const b = d.virtualKey.budgets[0];
        return b && b.used === spentUsd ? b : undefined;
      },
      10_000,
      `recorded spend of ${spentUsd}`,
    );
    expect(budgets.used).toBe(spentUsd);
    expect(budgets.remaining).toBe(
      ((500 - expected.spent) / 1e6)
        .toFixed(6)
        .replace(/0+$/, "")
        .replace(/\.(\d)$/, ".$10"),
    );
  });
});

describe("revocation and usage", () => {
  it("a revoked key is refused by both nodes within a second", async () => {
    const key = await createKey("to-revoke", {});
    await acceptedEverywhere(key.secret);
    const started = Date.now();
    const revoked = await stack.gql<{ revokeVirtualKey: { virtualKey: { status: string } } }>(
      `mutation($input: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $input) { virtualKey { status } } }`,
      { input: { id: key.id } },
    );
    expect(revoked.revokeVirtualKey.virtualKey.status).toBe("REVOKED");
    await Promise.all(
      [0, 1].map((i) =>
        eventually(
          async () => {
            const err = await client(i, key.secret)
              .models.list()
              .then(
                () => null,
                (e: unknown) => e,
              );
            return err instanceof OpenAI.AuthenticationError ? true : undefined;
          },
          5_000,
          `node ${i + 1} refusing the revoked key`,
        ),
      ),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("the usage query shows every request once", async () => {
    const rows = await eventually(
      async () => {
        const d = await stack.gql<{ usage: { group: { virtualKeyId: string | null }; requests: number; blocked: number; cost: string }[] }>(
          `query($org: ID!) { usage(organizationId: $org, groupBy: [VIRTUAL_KEY]) { group { virtualKeyId } requests inputTokens outputTokens cost blocked } }`,
          { org: orgId },
        );
        const main = d.usage.find((r) => r.group.virtualKeyId === mainKey.id);
        return main && main.requests === 3 ? d.usage : undefined;
      },
      10_000,
      "usage rows for the main key",
    );
    const main = rows.find((r) => r.group.virtualKeyId === mainKey.id);
    expect(main?.requests).toBe(3);
    expect(main?.blocked).toBe(1);
  });
});

describe("policy changes reach every node", () => {
  it("a budget set through GraphQL is enforced by both nodes within a second", async () => {
    const key = await createKey("gets-a-budget", {});
    await acceptedEverywhere(key.secret);
    const started = Date.now();
    await stack.gql(`mutation($input: SetBudgetInput!) { setBudget(input: $input) { budget { id unit window limit mode } } }`, {
      input: { scope: "VIRTUAL_KEY", scopeId: key.id, unit: "REQUESTS", window: "DAY", limit: 0, mode: "HARD" },
    });
    await Promise.all(
      [0, 1].map((i) =>
        eventually(
          async () => {
            const err = await client(i, key.secret)
              .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 20 })
              .then(
                () => null,
                (e: unknown) => e,
              );
            return err instanceof OpenAI.RateLimitError && err.code === "budget_exceeded" ? true : undefined;
          },
          5_000,
          `node ${i + 1} enforcing the new budget`,
        ),
      ),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
