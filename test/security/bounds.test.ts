/**
 * Issue 9, item 5 ("bounds are bounds"), on real processes (a control plane, one data-plane node,
 * the mock provider speaking OpenAI, Anthropic and Gemini), through the official SDKs with their
 * default settings: a part the gateway cannot size (an OpenAI file by id, an Anthropic PDF by URL,
 * a Gemini file by URI or cached content) is refused with a 400 naming the part and the setting for
 * a key under a hard USD budget, passes for a key without hard limits, and is admitted under the
 * hard budget once the admin sets `maxInputTokensPerAttachment` on the model (`updateModel`).
 */
import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyApplied } from "../support/admin.js";
import { startStack, type Stack } from "../support/stack.js";
import { createKey, type TestKey } from "../support/tenant.js";

type Protocol = "openai" | "anthropic" | "google";
type Case = "file" | "document_url" | "cached_content";

let stack: Stack;
let orgId = "";
const modelIds: Record<string, string> = {};
let hard: TestKey;
let free: TestKey;

const MODEL: Readonly<Record<Protocol, string>> = { openai: "oai-chat", anthropic: "claude-chat", google: "gemini-chat" };
const node = (): string => stack.nodeUrls[0] ?? "";

/** One chat call carrying an unsizable part through `protocol`'s SDK; resolves to the answer's text. */
async function ask(protocol: Protocol, what: Case, secret: string): Promise<string> {
  switch (protocol) {
    case "openai": {
      const client = new OpenAI({ baseURL: `${node()}/v1`, apiKey: secret });
      const res = await client.chat.completions.create({
        model: MODEL.openai,
        max_tokens: 20,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "summarise the file" },
              { type: "file", file: { file_id: "file-abc123" } },
            ],
          },
        ],
      });
      return res.choices[0]?.message.content ?? "";
    }
    case "anthropic": {
      const client = new Anthropic({ baseURL: node(), apiKey: secret });
      const res = await client.messages.create({
        model: MODEL.anthropic,
        max_tokens: 20,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "summarise" },
              { type: "document", source: { type: "url", url: "https://example.test/report.pdf" } },
            ],
          },
        ],
      });
      return res.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    }
    case "google": {
      const ai = new GoogleGenAI({ apiKey: secret, httpOptions: { baseUrl: node() } });
      const contents =
        what === "file"
          ? [{ role: "user", parts: [{ text: "describe" }, { fileData: { mimeType: "video/mp4", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc" } }] }]
          : [{ role: "user", parts: [{ text: "continue" }] }];
      const res = await ai.models.generateContent({ model: MODEL.google, contents, config: { maxOutputTokens: 20, ...(what === "cached_content" ? { cachedContent: "cachedContents/abc123" } : {}) } });
      return res.text ?? "";
    }
  }
}

/** Status and message of the error a call raises (Anthropic's and Gemini's SDKs put the JSON body in it: quotes unescaped). */
async function refusalOf(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  const e = await call.then(
    () => null,
    (err: unknown) => err,
  );
  const unquote = (m: string): string => m.replaceAll('\\"', '"');
  if (e instanceof OpenAI.APIError || e instanceof Anthropic.APIError) return { status: e.status ?? 0, message: unquote(e.message) };
  if (e instanceof ApiError) return { status: e.status, message: unquote(e.message) };
  throw new Error(`expected an API error, got ${String(e)}`);
}

async function createAccount(name: string, provider: string, baseUrl: string, model: string): Promise<void> {
  const a = await stack.gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
    `mutation($i: CreateProviderAccountInput!) { createProviderAccount(input: $i) { providerAccount { id } } }`,
    { i: { organizationId: orgId, name, provider, baseUrl, apiKey: `sk-${name}-0123456789` } },
  );
  const m = await stack.gql<{ createModel: { model: { id: string } } }>(`mutation($i: CreateModelInput!) { createModel(input: $i) { model { id } } }`, {
    i: { providerAccountId: a.createProviderAccount.providerAccount.id, name: model, inputPricePerMillion: "1.00", outputPricePerMillion: "2.00", maxOutputTokens: 1000 },
  });
  modelIds[model] = m.createModel.model.id;
}

beforeAll(async () => {
  stack = await startStack(1);
  const org = await stack.gql<{ createOrganization: { organization: { id: string } } }>(`mutation { createOrganization(input: {name: "bounds", slug: "bounds"}) { organization { id } } }`);
  orgId = org.createOrganization.organization.id;
  await createAccount("oai", "OPENAI_COMPATIBLE", `${stack.mockUrl}/v1`, MODEL.openai);
  await createAccount("claude", "ANTHROPIC", stack.mockUrl, MODEL.anthropic);
  await createAccount("gemini", "GOOGLE", stack.mockUrl, MODEL.google);
  hard = await createKey(stack.gql, orgId, "hard", { budgets: [{ unit: "USD", window: "DAY", limit: "5.00", mode: "HARD" }] });
  free = await createKey(stack.gql, orgId, "free");
  await policyApplied(stack.gql, 1);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const CASES: [Protocol, Case, string][] = [
  ["openai", "file", "messages[0].content[1] is a file reference"],
  ["anthropic", "document_url", "messages[0].content[1] is a document"],
  ["google", "file", "contents[0].parts[1] is a file reference"],
  ["google", "cached_content", "cachedContent is a cached-content reference"],
];

describe("unsizable parts before the admin sets a bound", () => {
  it.each(CASES)("%s %s: 400 under a hard USD budget, naming the part and the setting", async (protocol, what, part) => {
    const r = await refusalOf(ask(protocol, what, hard.secret));
    expect(r.status).toBe(400);
    expect(r.message).toContain(part);
    expect(r.message).toContain(`model "${MODEL[protocol]}"`);
    expect(r.message).toContain("maxInputTokensPerAttachment");
  });

  it.each(CASES)("%s %s: admitted for a key without hard limits", async (protocol, what) => {
    expect((await ask(protocol, what, free.secret)).length).toBeGreaterThan(0);
  });
});

describe("after updateModel sets maxInputTokensPerAttachment", () => {
  beforeAll(async () => {
    for (const model of Object.values(MODEL)) {
      await stack.gql(`mutation($i: UpdateModelInput!) { updateModel(input: $i) { model { id } } }`, { i: { id: modelIds[model], maxInputTokensPerAttachment: 100_000 } });
    }
    await policyApplied(stack.gql, 1);
  });

  it.each(CASES)("%s %s: admitted under the hard USD budget", async (protocol, what) => {
    expect((await ask(protocol, what, hard.secret)).length).toBeGreaterThan(0);
  });
});
