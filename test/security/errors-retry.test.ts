/**
 * Issue 8, row 7: a refusal that retrying cannot fix soon reaches an app at once. Real processes
 * (control plane, one node, the mock provider), driven by the official `openai`,
 * `@anthropic-ai/sdk` and `@google/genai` clients with their DEFAULT retry settings: a spent hard
 * monthly budget answers `x-should-retry: false`, no `Retry-After`, the reset instant in the
 * message, in every inbound protocol; each SDK surfaces it in well under 5 s after one attempt.
 * A rate limit with a 2-second window says `Retry-After`, and the SDKs wait it out and succeed.
 */
import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyApplied } from "../support/admin.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, createKey, setupTenant, type Tenant, type TestKey } from "../support/tenant.js";

let stack: Stack;
let tenant: Tenant;
let spent: TestKey;
const node = (): string => stack.nodeUrls[0] ?? "";

/** A fetch that counts the attempts an SDK makes (its retry logic stays the default). */
function countingFetch(): { fetch: typeof fetch; attempts: () => number } {
  let n = 0;
  return {
    fetch: (input, init) => {
      n += 1;
      return fetch(input, init);
    },
    attempts: () => n,
  };
}

/** Resolves `call`'s rejection and how long it took; throws when it succeeds. */
async function timedFailure(call: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = performance.now();
  const err = await call().then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - started };
}

/** The first instant of next month (UTC), as the message states it. */
function nextMonthIso(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
}

/** Waits until the next epoch-aligned `windowMs` window is 100 ms old, so the calls that follow land in one fresh window. */
async function startOfWindow(windowMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 100));
}

beforeAll(async () => {
  stack = await startStack(1);
  tenant = await setupTenant(stack.gql, stack.mockUrl, "retry");
  // $0.00001 a month cannot pay a single prompt: spent from the first request on.
  spent = await createKey(stack.gql, tenant.orgId, "spent", { budgets: [{ unit: "USD", window: "MONTH", limit: "0.00001", mode: "HARD" }] });
  await policyApplied(stack.gql, 1);
  await acceptedEverywhere(stack.nodeUrls, spent.secret);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a spent hard monthly budget", () => {
  it.each([
    ["OpenAI chat", "/v1/chat/completions", { model: "gpt-4o-mini", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }],
    ["Responses", "/v1/responses", { model: "gpt-4o-mini", max_output_tokens: 16, input: "hi" }],
    ["embeddings", "/v1/embeddings", { model: "gpt-4o-mini", input: "hi ".repeat(500) }],
    ["Anthropic messages", "/v1/messages", { model: "gpt-4o-mini", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }],
    ["Gemini generateContent", "/v1beta/models/gpt-4o-mini:generateContent", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }],
    ["Gemini streamGenerateContent", "/v1beta/models/gpt-4o-mini:streamGenerateContent?alt=sse", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }],
  ])("%s: 429 with x-should-retry false, no Retry-After, the reset instant in the message", async (_name, path, body) => {
    const res = await fetch(`${node()}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${spent.secret}`, "x-goog-api-key": spent.secret },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, text).toBe(429);
    expect(res.headers.get("x-should-retry"), text).toBe("false");
    expect(res.headers.get("retry-after"), text).toBeNull();
    expect(text).toContain(`resets at ${nextMonthIso()}`);
  });

  it("the openai SDK with default retries gets RateLimitError after one attempt, in under 5 s", async () => {
    const counter = countingFetch();
    const client = new OpenAI({ baseURL: `${node()}/v1`, apiKey: spent.secret, fetch: counter.fetch });
    const { err, ms } = await timedFailure(() => client.chat.completions.create({ model: tenant.model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.code).toBe("budget_exceeded");
    expect(String((e.error as { message?: unknown }).message)).toBe(`monthly USD budget of virtual key "spent" is exhausted; resets at ${nextMonthIso()}`);
    expect(counter.attempts()).toBe(1);
    expect(ms).toBeLessThan(5_000);
  });

  it("the @anthropic-ai/sdk with default retries gets RateLimitError after one attempt, in under 5 s", async () => {
    const counter = countingFetch();
    const client = new Anthropic({ baseURL: node(), apiKey: spent.secret, fetch: counter.fetch });
    const { err, ms } = await timedFailure(() => client.messages.create({ model: tenant.model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(counter.attempts()).toBe(1);
    expect(ms).toBeLessThan(5_000);
  });

  it("the @google/genai SDK with its defaults gets the 429 in under 5 s", async () => {
    const ai = new GoogleGenAI({ apiKey: spent.secret, httpOptions: { baseUrl: node() } });
    const { err, ms } = await timedFailure(() => ai.models.generateContent({ model: tenant.model, contents: "hi" }));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(429);
    expect(ms).toBeLessThan(5_000);
  });
});

describe("a rate limit with a 2-second window", () => {
  const WINDOW_MS = 2_000;

  it.each(["openai", "anthropic"] as const)("the %s SDK with default retries waits out Retry-After and succeeds", async (sdk) => {
    const key = await createKey(stack.gql, tenant.orgId, `short-window-${sdk}`, { rateLimits: [{ unit: "REQUESTS", limit: 1, windowSeconds: WINDOW_MS / 1000 }] });
    await policyApplied(stack.gql, 1);
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    const counter = countingFetch();
    const call =
      sdk === "openai"
        ? () =>
            new OpenAI({ baseURL: `${node()}/v1`, apiKey: key.secret, fetch: counter.fetch }).chat.completions.create({
              model: tenant.model,
              max_tokens: 5,
              messages: [{ role: "user", content: "hi" }],
            })
        : () => new Anthropic({ baseURL: node(), apiKey: key.secret, fetch: counter.fetch }).messages.create({ model: tenant.model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    await startOfWindow(WINDOW_MS);
    await call();
    expect(counter.attempts()).toBe(1);
    // The window's one request is used: this one is refused with Retry-After, then served after the reset.
    const limited = await fetch(`${node()}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ model: tenant.model, max_tokens: 5, messages: [{ role: "user", content: "probe" }] }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("x-should-retry")).toBe("true");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(await limited.text()).toMatch(/; resets at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"/);
    await startOfWindow(WINDOW_MS);
    await call();
    const started = performance.now();
    await call();
    const ms = performance.now() - started;
    expect(counter.attempts()).toBe(4);
    expect(ms).toBeGreaterThan(1_000);
    expect(ms).toBeLessThan(WINDOW_MS + 2_000);
  });
});
