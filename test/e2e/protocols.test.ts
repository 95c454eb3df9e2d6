/**
 * Issue 4 end to end, on real processes: one provider account per upstream protocol (the mock
 * provider speaking OpenAI, Anthropic and Gemini), and the official `openai`, `@anthropic-ai/sdk`
 * and `@google/genai` clients calling one data-plane node for every inbound × upstream pair,
 * streaming and not. The usage query must show exactly the tokens the mock reported; a client that
 * leaves is billed the tokens the mock really generated, a cut stream the output its admission held.
 */
import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";

type Protocol = "openai" | "anthropic" | "google";
const PROTOCOLS: readonly Protocol[] = ["openai", "anthropic", "google"];
const MODEL: Readonly<Record<Protocol, string>> = { openai: "oai-chat", anthropic: "claude-chat", google: "gemini-chat" };
const PAIRS = PROTOCOLS.flatMap((inbound) => PROTOCOLS.map((upstream) => [inbound, upstream] as const));

let stack: Stack;
let slowMock: MockProvider;
let orgId: string;
const keys: Record<string, { id: string; secret: string }> = {};

/** One chat call through `inbound`'s official SDK; returns the generated text. */
async function chat(inbound: Protocol, secret: string, model: string, prompt: string, stream: boolean): Promise<string> {
  const base = stack.nodeUrls[0] ?? "";
  switch (inbound) {
    case "openai": {
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: secret, maxRetries: 0, timeout: 15_000 });
      const messages = [{ role: "user" as const, content: prompt }];
      if (!stream) return (await client.chat.completions.create({ model, messages })).choices[0]?.message.content ?? "";
      let text = "";
      for await (const chunk of await client.chat.completions.create({ model, messages, stream: true })) text += chunk.choices[0]?.delta?.content ?? "";
      return text;
    }
    case "anthropic": {
      const client = new Anthropic({ baseURL: base, apiKey: secret, maxRetries: 0, timeout: 15_000 });
      const body = { model, max_tokens: 200, messages: [{ role: "user" as const, content: prompt }] };
      const message = stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body);
      return message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    }
    case "google": {
      const ai = new GoogleGenAI({ apiKey: secret, httpOptions: { baseUrl: base } });
      if (!stream) return (await ai.models.generateContent({ model, contents: prompt })).text ?? "";
      let text = "";
      for await (const chunk of await ai.models.generateContentStream({ model, contents: prompt })) text += chunk.text ?? "";
      return text;
    }
  }
}

/** The error a call raises (null when it succeeds). */
async function failureOf(inbound: Protocol, secret: string, model: string): Promise<unknown> {
  return chat(inbound, secret, model, "hi", false).then(
    () => null,
    (e: unknown) => e,
  );
}

async function gqlCreate<T>(mutation: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const data = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${mutation}(input: $input) { ${fields} } }`, { input });
  return data[mutation] as T;
}

async function createAccount(name: string, provider: string, baseUrl: string, models: Record<string, string>): Promise<void> {
  const { providerAccount } = await gqlCreate<{ providerAccount: { id: string } }>(
    "createProviderAccount",
    "CreateProviderAccountInput",
    { organizationId: orgId, name, provider, baseUrl, apiKey: `sk-${name}` },
    "providerAccount { id }",
  );
  for (const [model, upstreamModel] of Object.entries(models)) {
    await gqlCreate(
      "createModel",
      "CreateModelInput",
      { providerAccountId: providerAccount.id, name: model, upstreamModel, inputPricePerMillion: "1.00", outputPricePerMillion: "2.00", maxOutputTokens: 1000 },
      "model { id }",
    );
  }
}

async function createKey(name: string, allowedModels: string[] = []): Promise<void> {
  const r = await gqlCreate<{ virtualKey: { id: string }; secret: string }>(
    "createVirtualKey",
    "CreateVirtualKeyInput",
    { organizationId: orgId, name, kind: "SERVICE", allowedModels },
    "virtualKey { id } secret",
  );
  keys[name] = { id: r.virtualKey.id, secret: r.secret };
}

interface UsageRow {
  readonly group: { readonly virtualKeyId: string; readonly model: string };
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly blocked: number;
}

/** Waits until the usage query shows `want` for (key, model), and returns that row. */
async function usageRow(key: string, model: string, want: (r: UsageRow) => boolean): Promise<UsageRow> {
  return eventually(
    async () => {
      const d = await stack.gql<{ usage: UsageRow[] }>(
        `query($org: ID!, $filter: UsageFilter) { usage(organizationId: $org, groupBy: [VIRTUAL_KEY, MODEL], filter: $filter) { group { virtualKeyId model } requests inputTokens outputTokens blocked } }`,
        { org: orgId, filter: { virtualKeyId: keys[key]?.id } },
      );
      const row = d.usage.find((r) => r.group.model === model);
      return row !== undefined && want(row) ? row : undefined;
    },
    15_000,
    `usage of ${key} on ${model}`,
  );
}

beforeAll(async () => {
  [stack, slowMock] = await Promise.all([startStack(1), startMockProvider({ defaultCompletionTokens: 60, chunkDelayMs: 100 })]);
  const org = await gqlCreate<{ organization: { id: string } }>("createOrganization", "CreateOrganizationInput", { name: "Proto", slug: "proto" }, "organization { id }");
  orgId = org.organization.id;
  await createAccount("oai", "OPENAI_COMPATIBLE", `${stack.mockUrl}/v1`, { [MODEL.openai]: "gpt-4o-mini" });
  await createAccount("ant", "ANTHROPIC", stack.mockUrl, { [MODEL.anthropic]: "claude-3-5-haiku-latest" });
  await createAccount("goo", "GOOGLE", stack.mockUrl, { [MODEL.google]: "gemini-2.0-flash", "gemini-embed": "text-embedding-004" });
  await createAccount("slow", "ANTHROPIC", slowMock.url, { "slow-claude": "claude-slow" });
  for (const name of [...PROTOCOLS, "cut", "leave", "tools"]) await createKey(name);
  await createKey("restricted", ["only-this-one"]);
  await eventually(
    async () => {
      const res = await fetch(`${stack.nodeUrls[0]}/v1/models`, { headers: { authorization: `Bearer ${keys["restricted"]?.secret}` } });
      return res.status === 200 ? true : undefined;
    },
    10_000,
    "keys on the node",
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), slowMock?.close()]);
});

describe("every inbound SDK against every upstream protocol", () => {
  it.each(PAIRS)("%s client -> %s upstream: text, typed refusals, exact usage", async (inbound, upstream) => {
    const model = MODEL[upstream];
    const secret = keys[inbound]?.secret ?? "";
    // Distinct scripted counts per pair, so the usage query proves each pair's exact tokens.
    const p = 10 * PROTOCOLS.indexOf(inbound) + PROTOCOLS.indexOf(upstream) + 11;
    const plain = await chat(inbound, secret, model, `hello [[mock:prompt_tokens=${p}]] [[mock:completion_tokens=4]]`, false);
    expect(plain).toBe(" tok".repeat(4));
    const streamed = await chat(inbound, secret, model, `stream [[mock:prompt_tokens=${p + 100}]] [[mock:completion_tokens=6]]`, true);
    expect(streamed).toBe(" tok".repeat(6));

    const denied = await failureOf(inbound, keys["restricted"]?.secret ?? "", model);
    if (inbound === "openai") expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    if (inbound === "anthropic") expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    if (inbound === "google") expect(denied).toMatchObject({ status: 403 });
    expect(String((denied as Error).message)).toContain("is not allowed");

    const row = await usageRow(inbound, model, (r) => r.requests >= 2);
    expect(row).toMatchObject({ requests: 2, inputTokens: 2 * p + 100, outputTokens: 10 });
  });

  it.each(PROTOCOLS)("%s client with a bad key: the SDK's own authentication error", async (inbound) => {
    const err = await failureOf(inbound, "tg_live_not-a-real-key", MODEL.openai);
    if (inbound === "openai") expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    if (inbound === "anthropic") expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    if (inbound === "google") {
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ status: 401 });
    }
  });
});

describe("every token counted when a stream does not finish", () => {
  it.each([
    ["openai", "anthropic"],
    ["anthropic", "google"],
    ["google", "openai"],
  ] as const)("%s client, %s upstream cut after 3 tokens: the output its admission held billed", async (inbound, upstream) => {
    const text = await chat(inbound, keys["cut"]?.secret ?? "", MODEL[upstream], "cut [[mock:reset_after=3]] [[mock:completion_tokens=20]]", true).catch((e: unknown) => e);
    // The client sees the cut as its SDK's error (or a truncated text), never as a complete answer.
    if (typeof text === "string") expect(text).toBe(" tok".repeat(3));
    const row = await usageRow("cut", MODEL[upstream], (r) => r.outputTokens > 0);
    // Not the 3 tokens seen: hidden tokens are unknown, so the hold is billed (Anthropic's max_tokens 200, else the model's 1000).
    expect(row.outputTokens).toBe(inbound === "anthropic" ? 200 : 1000);
    expect(row.inputTokens).toBeGreaterThan(0);
  });

  it("a client that leaves mid-stream: the upstream is read on and the tokens it wrote are billed", async () => {
    const client = new OpenAI({ baseURL: `${stack.nodeUrls[0]}/v1`, apiKey: keys["leave"]?.secret ?? "", maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "slow-claude", messages: [{ role: "user", content: "take your time [[mock:completion_tokens=20]]" }], stream: true });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) received += 1;
      if (received === 2) break; // leaving the loop aborts the request
    }
    // The upstream's 20 tokens (2 s at 100 ms each, within the 5 s usage grace), as it reported them.
    const row = await usageRow("leave", "slow-claude", (r) => r.outputTokens > 0);
    expect(row.outputTokens).toBe(20);
    expect(row.inputTokens).toBeGreaterThan(0);
  });
});

describe("token counting and embeddings through the SDKs", () => {
  it("Anthropic countTokens and Gemini countTokens answer the upstream's count and bill nothing; Gemini embedContent is billed", async () => {
    const secret = keys["tools"]?.secret ?? "";
    const base = stack.nodeUrls[0] ?? "";
    const anthropic = new Anthropic({ baseURL: base, apiKey: secret, maxRetries: 0 });
    const counted = await anthropic.messages.countTokens({ model: MODEL.anthropic, messages: [{ role: "user", content: "count [[mock:prompt_tokens=55]]" }] });
    expect(counted.input_tokens).toBe(55);
    const ai = new GoogleGenAI({ apiKey: secret, httpOptions: { baseUrl: base } });
    expect((await ai.models.countTokens({ model: MODEL.google, contents: "count [[mock:prompt_tokens=66]]" })).totalTokens).toBe(66);
    const denied = await new GoogleGenAI({ apiKey: keys["restricted"]?.secret ?? "", httpOptions: { baseUrl: base } }).models
      .countTokens({ model: MODEL.google, contents: "x" })
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({ status: 403 });
    const embedded = await ai.models.embedContent({ model: "gemini-embed", contents: ["hello", "world"] });
    expect(embedded.embeddings).toHaveLength(2);
    const row = await usageRow("tools", "gemini-embed", (r) => r.requests > 0);
    expect(row).toMatchObject({ requests: 1, inputTokens: 2, outputTokens: 0 });
    const all = await stack.gql<{ usage: UsageRow[] }>(
      `query($org: ID!, $filter: UsageFilter) { usage(organizationId: $org, groupBy: [MODEL], filter: $filter) { group { model } requests inputTokens outputTokens blocked } }`,
      { org: orgId, filter: { virtualKeyId: keys["tools"]?.id } },
    );
    expect(all.usage.map((r) => r.group.model)).toEqual(["gemini-embed"]); // counting consumed nothing
  });
});
