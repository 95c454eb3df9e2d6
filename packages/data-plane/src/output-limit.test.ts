/**
 * The upstream can never write more than was reserved: a request without an output limit, under a
 * hard budget that pays the model's maximum output but not the upstream's own (16,000 tokens, as
 * real models write), on every inbound protocol, to every upstream protocol, stream and not.
 */
import type { BudgetPolicy, ModelPolicy } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProtocolTestApp, chatBody, chatUrl, MODEL_OF } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

/** 10,000 micro-dollars: pays 4,096 output tokens at $2 per million (8,192), not 16,000 (32,000). */
const LIMIT_PICOS = 10_000_000_000n; // $0.01
const budget: BudgetPolicy = {
  id: "bgt_hard",
  organizationId: "org_1",
  scope: "VIRTUAL_KEY",
  scopeId: "vk_usdBudget",
  unit: "USD",
  window: "TOTAL",
  limit: LIMIT_PICOS,
  mode: "HARD",
  enforcement: "CAP_OUTPUT",
  scopeLabel: 'virtual key "usdBudget"',
};
const o3: ModelPolicy = {
  id: "mdl_o3",
  organizationId: "org_1",
  providerAccountId: "pa_1",
  name: "o3-mini",
  upstreamModel: "o3-mini",
  price: { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n, cachedInputPerMillion: null },
  maxOutputTokens: 4096,
};

type Inbound = "openai" | "anthropic" | "google" | "responses";
const LIMIT_FIELD: Record<string, string> = { "/v1/chat/completions": "max_tokens", "/v1/messages": "max_tokens" };

/** The output limit the upstream was sent, from its URL and body. */
function sentLimit(url: string, body: Record<string, unknown>): unknown {
  if (url.includes(":generateContent") || url.includes(":streamGenerateContent")) return (body["generationConfig"] as Record<string, unknown> | undefined)?.["maxOutputTokens"];
  return body["max_completion_tokens"] ?? body["max_tokens"] ?? body[LIMIT_FIELD[new URL(url).pathname] ?? "max_tokens"];
}

describe("the admitted output limit always reaches the upstream", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 16_000 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 20_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });

  const cases: [Inbound, keyof typeof MODEL_OF, boolean][] = [];
  for (const inbound of ["openai", "google", "responses"] as const) {
    for (const target of ["openai", "anthropic", "google"] as const) for (const stream of [false, true]) cases.push([inbound, target, stream]);
  }

  it.each(cases)("%s inbound -> %s upstream, stream %s: a limit is sent and the hard budget holds", async (inbound, target, stream) => {
    const t = buildProtocolTestApp(mock.url, upstream.send, undefined, {}, (s) => ({ ...s, budgets: [...s.budgets.filter((b) => b.id !== "bgt_usd"), budget] }));
    try {
      const model = MODEL_OF[target];
      const protocol = inbound === "responses" ? "openai" : inbound;
      const url = inbound === "responses" ? "/v1/responses" : chatUrl(inbound, model, stream);
      const body = inbound === "responses" ? { model, input: "write a long story", ...(stream ? { stream: true } : {}) } : chatBody(inbound, model, "write a long story", stream);
      if (inbound === "google") delete (body as Record<string, unknown>)["generationConfig"];
      const res = await t.post(url, t.keyHeaders(protocol, "usdBudget"), body);
      expect(res.statusCode, res.body).toBe(200);
      expect(t.sent).toHaveLength(1);
      const sent = t.sent[0]!;
      const limit = sentLimit(sent.url, JSON.parse(sent.body) as Record<string, unknown>);
      expect(typeof limit).toBe("number");
      expect(limit as number).toBeLessThanOrEqual(4096);
      const record = t.sink.records.at(-1)!;
      expect(record.outputTokens).toBeLessThanOrEqual(4096);
      expect(record.costPicos).toBeLessThanOrEqual(LIMIT_PICOS);
    } finally {
      await t.app.close();
    }
  });

  it("a reasoning model gets max_completion_tokens (o-series models refuse max_tokens)", async () => {
    const t = buildProtocolTestApp(mock.url, upstream.send, undefined, {}, (s) => ({ ...s, models: [...s.models, o3] }));
    try {
      for (const body of [
        { model: "o3-mini", messages: [{ role: "user", content: "hi" }] },
        { model: "o3-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 9000 },
      ]) {
        const res = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), body);
        expect(res.statusCode, res.body).toBe(200);
        const sent = JSON.parse(t.sent.at(-1)!.body) as Record<string, unknown>;
        expect(sent["max_completion_tokens"]).toBe(4096);
        expect(sent["max_tokens"]).toBeUndefined();
      }
    } finally {
      await t.app.close();
    }
  });
});
