/**
 * Issue 8, row 4: an upstream that echoes the credential it was sent must never hand the provider
 * key to a client. Real processes (control plane, one node, the mock provider); every inbound
 * protocol (OpenAI chat, Responses, embeddings, Anthropic messages and count_tokens, Gemini
 * generateContent, streamGenerateContent and embedContent) x every upstream protocol it can reach
 * (OPENAI, AZURE_OPENAI, ANTHROPIC, GOOGLE) x stream and not, with the mock answering 400, 401,
 * 403, 404, 422, 429 and 500 bodies that repeat the key in the message (raw, as a header,
 * URL-encoded, base64 of "user:key", masked) and in other fields — and, on streams, a mid-stream
 * error event doing the same. The client's bytes (status line, headers, body) never hold the key
 * or any 8-character piece of it; the upstream's reason is still there; nor do the node's logs.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyApplied } from "../support/admin.js";
import { startStack, type Stack } from "../support/stack.js";
import { createKey, type TestKey } from "../support/tenant.js";

type Upstream = "OPENAI" | "AZURE_OPENAI" | "ANTHROPIC" | "GOOGLE";
type Inbound = "openai-chat" | "responses" | "anthropic" | "gemini" | "embeddings" | "gemini-embed" | "anthropic-count";

const UPSTREAMS: readonly Upstream[] = ["OPENAI", "AZURE_OPENAI", "ANTHROPIC", "GOOGLE"];
const STATUSES = [400, 401, 403, 404, 422, 429, 500] as const;
/** The reason every echoing error of the mock starts with. */
const REASON = "Incorrect API key provided";

/** A provider key per account, long and random like a real one. */
const KEYS: Readonly<Record<Upstream, string>> = {
  OPENAI: `sk-proj-${randomBytes(24).toString("base64url")}`,
  AZURE_OPENAI: randomBytes(16).toString("hex"),
  ANTHROPIC: `sk-ant-api03-${randomBytes(24).toString("base64url")}`,
  GOOGLE: `AIza${randomBytes(18).toString("base64url")}`,
};

/** Which upstreams each inbound route reaches (embeddings: accounts that offer them; count_tokens: its own protocol upstream). */
const REACH: Readonly<Record<Inbound, readonly Upstream[]>> = {
  "openai-chat": UPSTREAMS,
  responses: UPSTREAMS,
  anthropic: UPSTREAMS,
  gemini: UPSTREAMS,
  embeddings: ["OPENAI", "AZURE_OPENAI", "GOOGLE"],
  "gemini-embed": ["OPENAI", "AZURE_OPENAI", "GOOGLE"],
  "anthropic-count": ["ANTHROPIC"],
};
const STREAMS: ReadonlySet<Inbound> = new Set(["openai-chat", "responses", "anthropic", "gemini"]);

let stack: Stack;
let key: TestKey;
const node = (): string => stack.nodeUrls[0] ?? "";
const chatModel = (u: Upstream): string => `chat-${u.toLowerCase()}`;
const embedModel = (u: Upstream): string => `embed-${u.toLowerCase()}`;

/** The HTTP request of one case. */
function requestOf(inbound: Inbound, upstream: Upstream, stream: boolean, prompt: string): { path: string; headers: Record<string, string>; body: unknown } {
  const bearer = { authorization: `Bearer ${key.secret}` };
  const model = inbound === "embeddings" || inbound === "gemini-embed" ? embedModel(upstream) : chatModel(upstream);
  switch (inbound) {
    case "openai-chat":
      return { path: "/v1/chat/completions", headers: bearer, body: { model, stream, max_tokens: 8, messages: [{ role: "user", content: prompt }] } };
    case "responses":
      return { path: "/v1/responses", headers: bearer, body: { model, stream, max_output_tokens: 16, input: prompt } };
    case "anthropic":
      return { path: "/v1/messages", headers: { "x-api-key": key.secret }, body: { model, stream, max_tokens: 8, messages: [{ role: "user", content: prompt }] } };
    case "anthropic-count":
      return { path: "/v1/messages/count_tokens", headers: { "x-api-key": key.secret }, body: { model, messages: [{ role: "user", content: prompt }] } };
    case "gemini":
      return {
        path: `/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
        headers: { "x-goog-api-key": key.secret },
        body: { contents: [{ role: "user", parts: [{ text: prompt }] }], generationConfig: { maxOutputTokens: 8 } },
      };
    case "gemini-embed":
      return { path: `/v1beta/models/${model}:embedContent`, headers: { "x-goog-api-key": key.secret }, body: { content: { parts: [{ text: prompt }] } } };
    case "embeddings":
      return { path: "/v1/embeddings", headers: bearer, body: { model, input: prompt } };
    default: {
      const never: never = inbound;
      throw new Error(`unknown inbound ${String(never)}`);
    }
  }
}

/** Every piece of `secret` a leak could show: the whole, each 8-character run, base64 cores of "user:" + it. */
function leakMarkers(secret: string): string[] {
  const pieces = [secret];
  for (let i = 0; i + 8 <= secret.length; i++) pieces.push(secret.slice(i, i + 8));
  pieces.push(Buffer.from(`user:${secret}`).toString("base64").slice(8, -4));
  return pieces;
}

/** The first marker of any account's key found in `text`, or null. */
function findLeak(text: string): string | null {
  for (const secret of Object.values(KEYS)) for (const m of leakMarkers(secret)) if (text.includes(m)) return m;
  return null;
}

interface Answer {
  readonly status: number;
  /** Status line, headers and body as one text. */
  readonly bytes: string;
  readonly body: string;
}

async function send(inbound: Inbound, upstream: Upstream, stream: boolean, directive: string): Promise<Answer> {
  const req = requestOf(inbound, upstream, stream, `tell me a story ${directive}`);
  const res = await fetch(`${node()}${req.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...req.headers },
    body: JSON.stringify(req.body),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.text();
  const headers = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
  return { status: res.status, bytes: `${res.status} ${res.statusText}\n${headers}\n\n${body}`, body };
}

async function gql<T>(mutation: string, type: string, input: Record<string, unknown>, fields: string): Promise<T> {
  const d = await stack.gql<Record<string, T>>(`mutation($input: ${type}!) { ${mutation}(input: $input) { ${fields} } }`, { input });
  return d[mutation] as T;
}

beforeAll(async () => {
  stack = await startStack(1);
  const org = await gql<{ organization: { id: string } }>("createOrganization", "CreateOrganizationInput", { name: "Echo", slug: "echo" }, "organization { id }");
  const orgId = org.organization.id;
  for (const upstream of UPSTREAMS) {
    const baseUrl = upstream === "OPENAI" ? `${stack.mockUrl}/v1` : stack.mockUrl;
    const { providerAccount } = await gql<{ providerAccount: { id: string } }>(
      "createProviderAccount",
      "CreateProviderAccountInput",
      { organizationId: orgId, name: `acct-${upstream.toLowerCase()}`, provider: upstream, baseUrl, apiKey: KEYS[upstream] },
      "providerAccount { id }",
    );
    const models = [chatModel(upstream), ...(upstream === "ANTHROPIC" ? [] : [embedModel(upstream)])];
    for (const name of models) {
      await gql(
        "createModel",
        "CreateModelInput",
        { providerAccountId: providerAccount.id, name, upstreamModel: `${name}-up`, inputPricePerMillion: "1.00", outputPricePerMillion: "2.00", maxOutputTokens: 1000 },
        "model { id }",
      );
    }
  }
  key = await createKey(stack.gql, orgId, "echo-client");
  await policyApplied(stack.gql, 1);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const errorCases = (Object.keys(REACH) as Inbound[]).flatMap((inbound) =>
  (REACH[inbound] ?? []).flatMap((upstream) => (STREAMS.has(inbound) ? [false, true] : [false]).map((stream) => [inbound, upstream, stream] as const)),
);

describe("an upstream echoing its credential in an error body", () => {
  it.each(errorCases)("%s client, %s upstream, stream %s: 400/401/403/404/422/429/500 relay the reason without the key", async (inbound, upstream, stream) => {
    for (const status of STATUSES) {
      const answer = await send(inbound, upstream, stream, `[[mock:echo_key=${status}]]`);
      const where = `${inbound} via ${upstream}${stream ? " (stream)" : ""}, upstream ${status}: ${answer.bytes.slice(0, 600)}`;
      expect(answer.status, where).toBeGreaterThanOrEqual(400);
      expect(findLeak(answer.bytes), where).toBeNull();
      expect(answer.body, where).toContain(REASON);
      expect(answer.body, where).toContain("[redacted]");
    }
  });
});

describe("an upstream echoing its credential in a mid-stream error event", () => {
  const streamCases = errorCases.filter(([, , stream]) => stream);
  it.each(streamCases)("%s client, %s upstream: the stream's error event carries the reason without the key", async (inbound, upstream) => {
    const answer = await send(inbound, upstream, true, "[[mock:echo_key=200]]");
    const where = `${inbound} via ${upstream}: ${answer.bytes.slice(0, 800)}`;
    expect(answer.status, where).toBe(200);
    expect(findLeak(answer.bytes), where).toBeNull();
    expect(answer.body, where).toContain(REASON);
  });
});

describe("what the gateway itself writes", () => {
  it("the node's and the control plane's logs never carry a provider key", () => {
    const logs = `${stack.nodes[0]?.output() ?? ""}\n${stack.controlPlane.output()}`;
    expect(logs.length).toBeGreaterThan(0);
    expect(findLeak(logs)).toBeNull();
  });
});
