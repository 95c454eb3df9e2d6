/**
 * Issue 4 routing end to end, on real processes: one public model served by two provider accounts
 * (priority 0 on a failing upstream, priority 1 on a healthy, dearer one). The node falls back,
 * bills the account that answered at its price, and the usage query attributes the request to it;
 * the Responses API goes through the same route with the official `openai` client.
 */
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
let failing: MockProvider;
let healthy: MockProvider;
let orgId: string;
let keyId: string;
let client: OpenAI;
const accounts: Record<string, string> = {};

async function create<T>(mutation: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const data = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${mutation}(input: $input) { ${fields} } }`, { input });
  return data[mutation] as T;
}

beforeAll(async () => {
  [stack, failing, healthy] = await Promise.all([startStack(1), startMockProvider({ defaultCompletionTokens: 4 }), startMockProvider({ defaultCompletionTokens: 4 })]);
  failing.setFault({ status: 503 });
  orgId = (await create<{ organization: { id: string } }>("createOrganization", "CreateOrganizationInput", { name: "Routes", slug: "routes" }, "organization { id }")).organization.id;
  for (const [name, mock, priority, price] of [
    ["primary", failing, 0, "1.00"],
    ["fallback", healthy, 1, "3.00"],
  ] as const) {
    const { providerAccount } = await create<{ providerAccount: { id: string } }>(
      "createProviderAccount",
      "CreateProviderAccountInput",
      { organizationId: orgId, name, provider: "OPENAI", baseUrl: `${mock.url}/v1`, apiKey: `sk-${name}` },
      "providerAccount { id }",
    );
    accounts[name] = providerAccount.id;
    await create(
      "createModel",
      "CreateModelInput",
      { providerAccountId: providerAccount.id, name: "routed", upstreamModel: `up-${name}`, inputPricePerMillion: price, outputPricePerMillion: price, maxOutputTokens: 500, priority },
      "model { id }",
    );
  }
  const key = await create<{ virtualKey: { id: string }; secret: string }>(
    "createVirtualKey",
    "CreateVirtualKeyInput",
    { organizationId: orgId, name: "app", kind: "SERVICE", allowedModels: ["routed"] },
    "virtualKey { id } secret",
  );
  keyId = key.virtualKey.id;
  client = new OpenAI({ baseURL: `${stack.nodeUrls[0]}/v1`, apiKey: key.secret, maxRetries: 0, timeout: 15_000 });
  const listed = async (): Promise<true | undefined> => {
    try {
      return (await client.models.list()).data.some((m) => m.id === "routed") ? true : undefined;
    } catch {
      return undefined; // the key has not reached the node yet
    }
  };
  await eventually(listed, 15_000, "the route on the node");
}, 120_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), failing?.close(), healthy?.close()]);
});

describe("a route group on real processes", () => {
  it("falls back from a failing account, bills the one that answered, and lists the model once", async () => {
    const res = await client.chat.completions.create({ model: "routed", messages: [{ role: "user", content: "hi" }] });
    expect(res.choices[0]?.message.content).toBe(" tok".repeat(4));
    expect(failing.requests()).toHaveLength(1);
    expect(healthy.requests().at(-1)?.body).toMatchObject({ model: "up-fallback" });
    const reply = await client.responses.create({ model: "routed", input: "and again", instructions: "short" });
    expect(reply.output_text).toBe(" tok".repeat(4));
    let streamed = "";
    for await (const e of await client.responses.create({ model: "routed", input: "streamed", stream: true })) if (e.type === "response.output_text.delta") streamed += e.delta;
    expect(streamed).toBe(" tok".repeat(4));
    expect((await client.models.list()).data.filter((m) => m.id === "routed")).toHaveLength(1);
    const tokens = res.usage!.prompt_tokens + res.usage!.completion_tokens + reply.usage!.input_tokens + reply.usage!.output_tokens;
    type Row = { group: { providerAccountId: string | null }; requests: number; cost: string; inputTokens: number; outputTokens: number };
    const row = await eventually(
      async () => {
        const d = await stack.gql<{ usage: Row[] }>(
          `query($org: ID!, $f: UsageFilter) { usage(organizationId: $org, groupBy: [PROVIDER_ACCOUNT], filter: $f) { group { providerAccountId } requests cost inputTokens outputTokens } }`,
          { org: orgId, f: { virtualKeyId: keyId } },
        );
        const r = d.usage.find((u) => u.group.providerAccountId === accounts["fallback"]);
        return r !== undefined && r.requests === 3 ? r : undefined;
      },
      15_000,
      "usage on the fallback account",
    );
    expect(row.inputTokens + row.outputTokens).toBeGreaterThan(tokens);
    // Every token at the fallback account's $3 per million: 3 micro-dollars each.
    const micros = Math.round(Number(row.cost) * 1_000_000);
    expect(micros).toBe(3 * (row.inputTokens + row.outputTokens));
  });
});
