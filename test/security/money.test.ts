/**
 * Issue 9, exact money (real processes: control plane, one node, mock provider; official SDKs with
 * their default settings). Row 2: 100 requests of 7 input / 20 output tokens at $0.15 / $0.60 per
 * million record exactly $0.001305 (not $0.001400): the usage query's cost, the key's budget use
 * and its remainder all show the exact sum. Row 3: an Anthropic response with 100,000
 * `cache_creation_input_tokens` at $3 / $15 bills $0.382650 (5-minute writes, 1.25x) or $0.607650
 * (1-hour writes, 2x), not $0.307650; and an Anthropic stream cut after its `message_start` bills
 * the provider's cached split (cache reads at the cached price), not every input token at full price.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyApplied } from "../support/admin.js";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { createKey, keyBudget, keyUsage, type TestKey } from "../support/tenant.js";

let stack: Stack;
let orgId: string;
let exactKey: TestKey;
let cacheKeys: Record<"write5m" | "write1h" | "cut", TestKey>;

async function mutate<T>(name: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const d = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${name}(input: $input) { ${fields} } }`, { input });
  return d[name] as T;
}

beforeAll(async () => {
  stack = await startStack(1);
  orgId = (await mutate<{ organization: { id: string } }>("createOrganization", "CreateOrganizationInput", { name: "Exact", slug: "exact" }, "organization { id }")).organization.id;
  const account = await mutate<{ providerAccount: { id: string } }>(
    "createProviderAccount",
    "CreateProviderAccountInput",
    { organizationId: orgId, name: "openai-mock", provider: "OPENAI", baseUrl: `${stack.mockUrl}/v1`, apiKey: "sk-upstream-0123456789" },
    "providerAccount { id }",
  );
  await mutate(
    "createModel",
    "CreateModelInput",
    {
      providerAccountId: account.providerAccount.id,
      name: "gpt-4o-mini",
      upstreamModel: "gpt-4o-mini",
      inputPricePerMillion: "0.15",
      outputPricePerMillion: "0.60",
      maxOutputTokens: 1000,
    },
    "model { id }",
  );
  exactKey = await createKey(stack.gql, orgId, "exact", { budgets: [{ unit: "USD", window: "DAY", limit: "1.00", mode: "HARD" }] });
  const anthropic = await mutate<{ providerAccount: { id: string } }>(
    "createProviderAccount",
    "CreateProviderAccountInput",
    { organizationId: orgId, name: "anthropic-mock", provider: "ANTHROPIC", baseUrl: stack.mockUrl, apiKey: "sk-ant-upstream-0123456789" },
    "providerAccount { id }",
  );
  // No cacheWriteInputPricePerMillion: the ANTHROPIC default applies (1.25x input, 1-hour writes 2x).
  await mutate(
    "createModel",
    "CreateModelInput",
    {
      providerAccountId: anthropic.providerAccount.id,
      name: "claude-sonnet",
      upstreamModel: "claude-sonnet-4-5",
      inputPricePerMillion: "3",
      outputPricePerMillion: "15",
      cachedInputPricePerMillion: "0.30",
      maxOutputTokens: 4096,
    },
    "model { id }",
  );
  cacheKeys = {
    write5m: await createKey(stack.gql, orgId, "write-5m", { budgets: [{ unit: "USD", window: "DAY", limit: "5.00", mode: "HARD" }] }),
    write1h: await createKey(stack.gql, orgId, "write-1h"),
    cut: await createKey(stack.gql, orgId, "cut-stream"),
  };
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
        const stream = await client.chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: prompt }],
          max_tokens: 50,
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const _chunk of stream) void _chunk;
      }
    }
    const usage = await eventually(
      async () => {
        const u = await keyUsage(stack.gql, orgId, exactKey.id);
        return u.requests === 100 ? u : undefined;
      },
      20_000,
      "100 requests recorded",
    );
    console.log(`[money] 100 x (7 in, 20 out) at $0.15/$0.60 per million: usage cost ${usage.cost} (exact: 0.001305; rounded per request it was 0.001400)`);
    expect(usage.cost).toBe("0.001305");
    const budget = await keyBudget(stack.gql, exactKey.id);
    expect(budget).toMatchObject({ limit: "1.00", used: "0.001305", remaining: "0.998695" });
  }, 120_000);

  it("bills Anthropic cache writes at the cache-write price: $0.382650 (5-minute), $0.607650 (1-hour)", async () => {
    const ask = async (key: TestKey, directive: string, stream: boolean): Promise<void> => {
      const client = new Anthropic({ baseURL: stack.nodeUrls[0], apiKey: key.secret });
      const body = { model: "claude-sonnet", max_tokens: 1000, messages: [{ role: "user" as const, content: `[[mock:prompt_tokens=100050]] ${directive} [[mock:completion_tokens=500]]` }] };
      if (!stream) {
        const res = await client.messages.create(body);
        expect(res.usage.cache_creation_input_tokens).toBe(100_000);
        return;
      }
      const final = await client.messages.stream(body).finalMessage();
      expect(final.usage.output_tokens).toBe(500);
    };
    await ask(cacheKeys.write5m, "[[mock:cache_write_tokens=100000]]", false);
    await ask(cacheKeys.write5m, "[[mock:cache_write_tokens=100000]]", true);
    await ask(cacheKeys.write1h, "[[mock:cache_write_1h_tokens=100000]]", false);
    const costs = await eventually(
      async () => {
        const [a, b] = [await keyUsage(stack.gql, orgId, cacheKeys.write5m.id), await keyUsage(stack.gql, orgId, cacheKeys.write1h.id)];
        return a.requests === 2 && b.requests === 1 ? [a.cost, b.cost] : undefined;
      },
      20_000,
      "cache-write usage recorded",
    );
    console.log(
      `[money] 100,000 Anthropic cache-write tokens + 50 in + 500 out at $3/$15: 2 requests (JSON, stream) ${costs[0]} (2 x 0.38265), 1-hour ${costs[1]} (0.60765); as plain input it was 0.30765 each`,
    );
    expect(costs).toEqual(["0.7653", "0.60765"]);
    expect(await keyBudget(stack.gql, cacheKeys.write5m.id)).toMatchObject({ used: "0.7653", remaining: "4.2347" });
  }, 60_000);

  it("bills a cut Anthropic stream with the cached split the provider sent in message_start", async () => {
    const client = new Anthropic({ baseURL: stack.nodeUrls[0], apiKey: cacheKeys.cut.secret });
    const content = "[[mock:prompt_tokens=10000]] [[mock:cached_tokens=9000]] [[mock:completion_tokens=50]] [[mock:reset_after=2]]";
    await expect(client.messages.stream({ model: "claude-sonnet", max_tokens: 1000, messages: [{ role: "user", content }] }).finalMessage()).rejects.toThrow();
    const usage = await eventually(
      async () => {
        const d = await stack.gql<{ usage: { group: { virtualKeyId: string | null }; requests: number; blocked: number; inputTokens: number; cost: string }[] }>(
          `query($org: ID!) { usage(organizationId: $org, groupBy: [VIRTUAL_KEY]) { group { virtualKeyId } requests blocked inputTokens cost } }`,
          { org: orgId },
        );
        const row = d.usage.find((r) => r.group.virtualKeyId === cacheKeys.cut.id);
        return row !== undefined && row.requests + row.blocked > 0 ? row : undefined;
      },
      20_000,
      "the cut stream recorded",
    );
    // The prompt on the provider's split from message_start: 1,000 plain input at $3 + 9,000 cache
    // reads at $0.30 = $0.0057 (at the full input price it would be $0.03). The output of a stream
    // that ended without the provider's usage is billed at the limit its admission held and sent
    // upstream (max_tokens 1,000 at $15 = $0.015): hidden tokens cannot be seen, so never less.
    console.log(`[money] cut Anthropic stream (10,000 input of which 9,000 cache reads): recorded ${usage.inputTokens} input tokens, cost ${usage.cost} (all input at full price: 0.045)`);
    expect(usage.inputTokens).toBe(10_000);
    expect(usage.cost).toBe("0.0207");
  }, 60_000);
});
