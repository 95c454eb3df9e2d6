/**
 * Issue 9, exact money (real processes: control plane, one node, mock provider; official SDKs with
 * their default settings). Row 2: 100 requests of 7 input / 20 output tokens at $0.15 / $0.60 per
 * million record exactly $0.001305 (not $0.001400): the usage query's cost, the key's budget use
 * and its remainder all show the exact sum.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyApplied } from "../support/admin.js";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { createKey, keyBudget, keyUsage, type TestKey } from "../support/tenant.js";

let stack: Stack;
let orgId: string;
let exactKey: TestKey;

async function mutate<T>(name: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const d = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${name}(input: $input) { ${fields} } }`, { input });
  return d[name] as T;
}

beforeAll(async () => {
  stack = await startStack(1);
  orgId = (await mutate<{ organization: { id: string } }>("createOrganization", "CreateOrganizationInput", { name: "Exact", slug: "exact" }, "organization { id }")).organization.id;
  const account = await mutate<{ providerAccount: { id: string } }>(
    "createProviderAccount", "CreateProviderAccountInput",
    { organizationId: orgId, name: "openai-mock", provider: "OPENAI", baseUrl: `${stack.mockUrl}/v1`, apiKey: "sk-upstream-0123456789" }, "providerAccount { id }",
  );
  await mutate("createModel", "CreateModelInput", {
    providerAccountId: account.providerAccount.id, name: "gpt-4o-mini", upstreamModel: "gpt-4o-mini", inputPricePerMillion: "0.15", outputPricePerMillion: "0.60", maxOutputTokens: 1000,
  }, "model { id }");
  exactKey = await createKey(stack.gql, orgId, "exact", { budgets: [{ unit: "USD", window: "DAY", limit: "1.00", mode: "HARD" }] });
  await policyApplied(stack.gql, 1);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("exact money through the gateway", () => {
  it("100 requests of 7 in / 20 out at $0.15 / $0.60 per million record $0.001305 in usage and in the budget", async () => {
    const client = new OpenAI({ baseURL: `${stack.nodeUrls[0]}/v1`, apiKey: exactKey.secret });
    const prompt = "[[mock:prompt_tokens=7]] [[mock:completion_tokens=20]]";
    for (let i = 0; i < 100; i++) {
      if (i % 2 === 0) {
        const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: 50 });
        expect([res.usage?.prompt_tokens, res.usage?.completion_tokens]).toEqual([7, 20]);
      } else {
        const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: 50, stream: true, stream_options: { include_usage: true } });
        for await (const _chunk of stream) void _chunk;
      }
    }
    const usage = await eventually(async () => {
      const u = await keyUsage(stack.gql, orgId, exactKey.id);
      return u.requests === 100 ? u : undefined;
    }, 20_000, "100 requests recorded");
    console.log(`[money] 100 x (7 in, 20 out) at $0.15/$0.60 per million: usage cost ${usage.cost} (exact: 0.001305; rounded per request it was 0.001400)`);
    expect(usage.cost).toBe("0.001305");
    const budget = await keyBudget(stack.gql, exactKey.id);
    expect(budget).toMatchObject({ limit: "1.00", used: "0.001305", remaining: "0.998695" });
  }, 120_000);
});
