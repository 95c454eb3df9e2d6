/**
 * A stream cut before the provider's usage is billed the output its admission held, so settling it
 * never needs the tokenizer: its tables (~150 MB) and first load (a second of blocked event loop)
 * are not paid for a cut stream. Its own file: the tokenizer is loaded once per process.
 */
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, UsageSource } from "@tollgate/proto";
import { isTokenizerLoaded } from "@tollgate/providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProtocolTestApp, MODEL_OF } from "./protocols.fixture.js";
import { createUpstreamClient, type UpstreamClient } from "./upstream.client.js";

describe("settling a cut stream", () => {
  let mock: MockProvider;
  let upstream: UpstreamClient;

  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 20 });
    upstream = createUpstreamClient({ connectMs: 1_000, firstByteMs: 3_000, idleMs: 3_000, totalMs: 10_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await mock.close();
  });

  it("bills the held output without loading the tokenizer", async () => {
    const t = buildProtocolTestApp(mock.url, upstream.send);
    try {
      const body = { model: MODEL_OF.openai, stream: true, max_tokens: 30, messages: [{ role: "user", content: "cut [[mock:reset_after=2]]" }] };
      const res = await t.post("/v1/chat/completions", t.keyHeaders("openai", "active"), body);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('"code":"upstream_error"');
      expect(t.sink.records.at(-1)).toMatchObject({ outcome: Outcome.UPSTREAM_ERROR, usageSource: UsageSource.COUNTED, outputTokens: 30 });
      expect(isTokenizerLoaded()).toBe(false);
    } finally {
      await t.app.close();
    }
  });
});
