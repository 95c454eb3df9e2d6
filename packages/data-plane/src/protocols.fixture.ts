/**
 * Test fixtures (used only by `*.test.ts`): the fixture policy with one provider account per
 * upstream protocol pointing at a mock provider (OpenAI at `{url}/v1`, Anthropic and Google at
 * `{url}`, Azure at `azureUrl`), and an app built on it whose upstream calls are recorded.
 */
import { BudgetLedger, RateLimiter, type ModelPolicy, type PolicySnapshot, type ProviderAccountPolicy } from "@tollgate/policy";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "./app.js";
import type { HttpLimits } from "./config.js";
import { createMemorySink, type MemorySink } from "./app.fixture.js";
import { silentLogger } from "./grpc.fixture.js";
import { PROVIDER_API_KEY, buildPolicyFixture, createFixtureGrantSource, toFullUpdate, type FixtureKeyName, type PolicyFixture } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import type { UpstreamRequest, UpstreamSend } from "./upstream.client.js";

/** The public model served by each upstream protocol's account. */
export const MODEL_OF = { openai: "gpt-4o-mini", anthropic: "claude-haiku", google: "gemini-flash" } as const;

/** An app on the multi-protocol fixture. */
export interface ProtocolTestApp {
  readonly app: FastifyInstance;
  readonly fixture: PolicyFixture;
  readonly sink: MemorySink;
  readonly ledger: BudgetLedger;
  /** Every upstream request the app sent, oldest first. */
  readonly sent: UpstreamRequest[];
  /** POSTs JSON to `url` with `headers` (a key header, or none). */
  post(url: string, headers: Record<string, string>, body: unknown): Promise<LightMyRequestResponse>;
  /** The key's secret in the header each protocol's SDK uses. */
  keyHeaders(protocol: "openai" | "anthropic" | "google", key: FixtureKeyName): Record<string, string>;
}

const price = { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n, cachedInputPerMillion: 500_000n };

/**
 * Builds the app; `mockUrl` is the mock's root URL, `azureUrl` the Azure resource endpoint, `http`
 * HTTP limits, `adjust` edits the policy.
 */
export function buildProtocolTestApp(
  mockUrl: string,
  upstream: UpstreamSend,
  azureUrl = "http://azure.invalid",
  http: Partial<HttpLimits> = {},
  adjust: (s: PolicySnapshot) => PolicySnapshot = (s) => s,
): ProtocolTestApp {
  const base = buildPolicyFixture(`${mockUrl}/v1`);
  const accounts: ProviderAccountPolicy[] = [
    ...base.snapshot.providerAccounts.map((a) => (a.provider === "ANTHROPIC" ? { ...a, baseUrl: mockUrl } : a)),
    { id: "pa_3", organizationId: "org_1", name: "google-main", provider: "GOOGLE", baseUrl: mockUrl, apiKey: PROVIDER_API_KEY },
    { id: "pa_4", organizationId: "org_1", name: "azure-main", provider: "AZURE_OPENAI", baseUrl: azureUrl, apiKey: PROVIDER_API_KEY },
  ];
  const models: ModelPolicy[] = [
    ...base.snapshot.models.map((m) => (m.id === "mdl_claude" ? { ...m, price } : m)),
    { id: "mdl_gemini", organizationId: "org_1", providerAccountId: "pa_3", name: "gemini-flash", upstreamModel: "gemini-2.0-flash", price, maxOutputTokens: 4096 },
    { id: "mdl_gemb", organizationId: "org_1", providerAccountId: "pa_3", name: "gemini-embed", upstreamModel: "text-embedding-004", price, maxOutputTokens: 0 },
    { id: "mdl_azure", organizationId: "org_1", providerAccountId: "pa_4", name: "azure-4o", upstreamModel: "my-4o-deployment", price, maxOutputTokens: 4096 },
  ];
  const fixture: PolicyFixture = { ...base, snapshot: adjust({ ...base.snapshot, providerAccounts: accounts, models }) };
  const store = new PolicyStore();
  store.applyUpdate(toFullUpdate(fixture.snapshot));
  const ledger = new BudgetLedger();
  const sink = createMemorySink();
  const sent: UpstreamRequest[] = [];
  const recording: UpstreamSend = (req) => {
    sent.push(req);
    return upstream(req);
  };
  const app = buildApp({
    nodeId: "node-t",
    bootId: "boot-t",
    store,
    ledger,
    limiter: new RateLimiter(),
    grants: createFixtureGrantSource(ledger, store, Date.now),
    usage: sink,
    upstream: recording,
    logger: silentLogger,
    http: { bodyLimitBytes: 64 * 1024, ...http },
  });
  const post = (url: string, headers: Record<string, string>, body: unknown) =>
    app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload: typeof body === "string" ? body : JSON.stringify(body) });
  const keyHeaders = (protocol: "openai" | "anthropic" | "google", key: FixtureKeyName): Record<string, string> => {
    const secret = fixture.secrets[key];
    if (protocol === "openai") return { authorization: `Bearer ${secret}` };
    return protocol === "anthropic" ? { "x-api-key": secret } : { "x-goog-api-key": secret };
  };
  return { app, fixture, sink, ledger, sent, post, keyHeaders };
}

/** A chat request body in `protocol`'s shape, with the prompt `text`; `stream` for OpenAI/Anthropic bodies. */
export function chatBody(protocol: "openai" | "anthropic" | "google", model: string, text: string, stream = false): Record<string, unknown> {
  switch (protocol) {
    case "openai":
      return { model, messages: [{ role: "user", content: text }], ...(stream ? { stream: true } : {}) };
    case "anthropic":
      return { model, max_tokens: 100, messages: [{ role: "user", content: text }], ...(stream ? { stream: true } : {}) };
    case "google":
      return { contents: [{ role: "user", parts: [{ text }] }] };
  }
}

/** The URL of a chat request in `protocol` for `model`. */
export function chatUrl(protocol: "openai" | "anthropic" | "google", model: string, stream = false): string {
  switch (protocol) {
    case "openai":
      return "/v1/chat/completions";
    case "anthropic":
      return "/v1/messages";
    case "google":
      return `/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
  }
}

/** The generated text of a JSON answer in `protocol`'s shape. */
export function textOfAnswer(protocol: "openai" | "anthropic" | "google", json: Record<string, unknown>): string {
  const j = json as {
    choices?: { message?: { content?: string } }[];
    content?: { text?: string }[];
    candidates?: { content?: { parts?: { text?: string }[] } }[];
  };
  switch (protocol) {
    case "openai":
      return j.choices?.[0]?.message?.content ?? "";
    case "anthropic":
      return (j.content ?? []).map((b) => b.text ?? "").join("");
    case "google":
      return (j.candidates?.[0]?.content?.parts ?? []).map((p) => p.text ?? "").join("");
  }
}

/** The generated text of an SSE body in `protocol`'s stream shape. */
export function textOfStream(protocol: "openai" | "anthropic" | "google", sse: string): string {
  let text = "";
  for (const line of sse.split(/\r?\n/)) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const d = JSON.parse(line.slice(6)) as Record<string, unknown>;
    if (protocol === "openai") text += (d as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "";
    else if (protocol === "anthropic") text += (d as { delta?: { type?: string; text?: string } }).delta?.type === "text_delta" ? ((d as { delta: { text?: string } }).delta.text ?? "") : "";
    else text += textOfAnswer("google", d);
  }
  return text;
}
