import { picosOfMicros, type ModelPolicy, type PolicySnapshot } from "@tollgate/policy";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome } from "@tollgate/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MODEL_OF, buildProtocolTestApp, chatUrl, type ProtocolTestApp } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

type Protocol = "openai" | "anthropic" | "google";

/** A chat body of `protocol` whose user turn holds a question and `part`, plus top-level `extra`. */
function bodyWith(protocol: Protocol, part: Record<string, unknown> | null, extra: Record<string, unknown> = {}, stream = false): Record<string, unknown> {
  const model = MODEL_OF[protocol];
  switch (protocol) {
    case "openai":
      return { model, max_tokens: 20, messages: [{ role: "user", content: [{ type: "text", text: "summarise" }, ...(part ? [part] : [])] }], ...(stream ? { stream: true } : {}), ...extra };
    case "anthropic":
      return { model, max_tokens: 20, messages: [{ role: "user", content: [{ type: "text", text: "summarise" }, ...(part ? [part] : [])] }], ...(stream ? { stream: true } : {}), ...extra };
    case "google":
      return { contents: [{ role: "user", parts: [{ text: "summarise" }, ...(part ? [part] : [])] }], generationConfig: { maxOutputTokens: 20 }, ...extra };
  }
}

/** One unsizable part per protocol, with the path the refusal names. */
const UNSIZED: [Protocol, string, Record<string, unknown> | null, Record<string, unknown>, string][] = [
  ["openai", "a file by id", { type: "file", file: { file_id: "file-abc123" } }, {}, "messages[0].content[1]"],
  ["openai", "inline audio", { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }, {}, "messages[0].content[1]"],
  ["anthropic", "a PDF by URL", { type: "document", source: { type: "url", url: "https://example.test/annual-report.pdf" } }, {}, "messages[0].content[1]"],
  ["anthropic", "a web search tool", null, { tools: [{ type: "web_search_20250305", name: "web_search" }] }, "tools[0]"],
  ["google", "a file by URI", { fileData: { mimeType: "video/mp4", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc" } }, {}, "contents[0].parts[1]"],
  ["google", "cached content", null, { cachedContent: "cachedContents/abc123" }, "cachedContent"],
];

const MODEL_ID: Record<Protocol, string> = { openai: "mdl_mini", anthropic: "mdl_claude", google: "mdl_gemini" };

/**
 * The policy with the usdBudget key's hard daily budget at `limitMicros` and `patch` on the model
 * each protocol's request uses (priced for audio, so inline audio meets the bound, not the audio price rule).
 */
const withPolicy =
  (limitMicros: bigint, patch: Partial<ModelPolicy> = {}) =>
  (s: PolicySnapshot): PolicySnapshot => ({
    ...s,
    budgets: s.budgets.map((b) => (b.id === "bgt_usd" ? { ...b, limit: picosOfMicros(limitMicros) } : b)),
    models: s.models.map((m) =>
      Object.values(MODEL_ID).includes(m.id)
        ? { ...m, ...patch, price: m.price === null ? null : { ...m.price, audioInputPerMillion: m.price.inputPerMillion, audioOutputPerMillion: m.price.outputPerMillion } }
        : m,
    ),
  });

describe("input bounds on the data plane (buildProtocolTestApp + inject, real mock provider)", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;
  let t: ProtocolTestApp | null = null;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 5 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 10_000 });
  });
  afterEach(async () => {
    await t?.app.close();
    t = null;
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });

  const build = (adjust: (s: PolicySnapshot) => PolicySnapshot): ProtocolTestApp => {
    t = buildProtocolTestApp(mock.url, upstream.send, undefined, {}, adjust);
    return t;
  };

  describe.each(UNSIZED)("%s inbound with %s", (protocol, _what, part, extra, path) => {
    it("is refused with a 400 naming the part and the setting under a hard USD budget, before anything goes upstream", async () => {
      const app = build(withPolicy(1_000_000n));
      for (const stream of protocol === "google" ? [false] : [false, true]) {
        const res = await app.post(chatUrl(protocol, MODEL_OF[protocol]), app.keyHeaders(protocol, "usdBudget"), bodyWith(protocol, part, extra, stream));
        expect(res.statusCode).toBe(400);
        expect(res.headers["x-should-retry"]).toBe("false");
        expect(res.body).toContain(`${path} is `);
        expect(res.body).toContain("maxInputTokensPerAttachment");
        expect(res.body).toContain(`model \\"${MODEL_OF[protocol]}\\"`);
      }
      expect(app.sent).toHaveLength(0);
      expect(app.sink.records.map((r) => r.outcome)).toEqual(protocol === "google" ? [Outcome.REFUSED] : [Outcome.REFUSED, Outcome.REFUSED]);
    });

    it("passes for a key without hard spend limits (nothing reserved for the part)", async () => {
      const app = build(withPolicy(1_000_000n));
      const res = await app.post(chatUrl(protocol, MODEL_OF[protocol]), app.keyHeaders(protocol, "active"), bodyWith(protocol, part, extra));
      expect(res.statusCode).toBe(200);
      expect(app.sent).toHaveLength(1);
    });

    it("is admitted under the hard budget once the admin sets a per-part bound, which the reservation counts", async () => {
      // 50,000 tokens per part at $1 per million: the part alone holds $0.05.
      const admitted = build(withPolicy(1_000_000n, { maxInputTokensPerAttachment: 50_000 }));
      const ok = await admitted.post(chatUrl(protocol, MODEL_OF[protocol]), admitted.keyHeaders(protocol, "usdBudget"), bodyWith(protocol, part, extra));
      expect(ok.statusCode).toBe(200);
      expect(admitted.sent).toHaveLength(1);
      await admitted.app.close();
      // A $0.04 budget cannot hold the admin's bound for the part: refused as over budget, not sent.
      const short = build(withPolicy(40_000n, { maxInputTokensPerAttachment: 50_000 }));
      const refused = await short.post(chatUrl(protocol, MODEL_OF[protocol]), short.keyHeaders(protocol, "usdBudget"), bodyWith(protocol, part, extra));
      expect(refused.statusCode).toBe(429);
      expect(refused.body).toContain("budget");
      expect(short.sent).toHaveLength(0);
    });
  });

  describe.each<[Protocol, Record<string, unknown>]>([
    ["openai", { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }],
    ["anthropic", { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }],
    ["google", { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }],
  ])("%s inbound with an image", (protocol, image) => {
    it("reserves the model's imageInputTokens (default: the provider's constant)", async () => {
      // $0.02 holds the default image bound (1,500 or 1,600 tokens) but not 30,000 tokens per image.
      const byDefault = build(withPolicy(20_000n));
      const ok = await byDefault.post(chatUrl(protocol, MODEL_OF[protocol]), byDefault.keyHeaders(protocol, "usdBudget"), bodyWith(protocol, image));
      expect(ok.statusCode).toBe(200);
      await byDefault.app.close();
      const large = build(withPolicy(20_000n, { imageInputTokens: 30_000 }));
      const refused = await large.post(chatUrl(protocol, MODEL_OF[protocol]), large.keyHeaders(protocol, "usdBudget"), bodyWith(protocol, image));
      expect(refused.statusCode).toBe(429);
      expect(large.sent).toHaveLength(0);
    });
  });
});
