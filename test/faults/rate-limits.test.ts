/**
 * Rate limits over two real data-plane nodes and a real control plane (issue 9): a limit of N per
 * window admits exactly N whether the traffic stays on one node or alternates between them, the
 * N+1st is 429 `rate_limit_exceeded` with `x-ratelimit-limit-requests: N` (the key's limit, not a
 * node's share), through plain fetch and through the official `openai` SDK with its default
 * settings; with the control plane down each node keeps its last share.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, createKey, setupTenant, type Tenant } from "../support/tenant.js";

let stack: Stack;
let tenant: Tenant;

beforeAll(async () => {
  stack = await startStack(2);
  tenant = await setupTenant(stack.gql, stack.mockUrl);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until at least `needMs` are left in the current window of `windowMs`. */
async function roomInWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 20);
}

interface Answer {
  readonly status: number;
  readonly code: string;
  readonly limit: string | null;
  readonly remaining: string | null;
  readonly retryAfter: string | null;
}

/** One chat completion with fetch (no retries): status, error code and the rate-limit headers. */
async function call(nodeUrl: string, secret: string): Promise<Answer> {
  const res = await fetch(`${nodeUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return {
    status: res.status,
    code: res.status === 200 ? "" : (body.error?.code ?? "unknown"),
    limit: res.headers.get("x-ratelimit-limit-requests"),
    remaining: res.headers.get("x-ratelimit-remaining-requests"),
    retryAfter: res.headers.get("retry-after"),
  };
}

const threePerMinute = { rateLimits: [{ unit: "REQUESTS", limit: 3, windowSeconds: 60 }] };

describe("a 3-per-60 s limit on a key over two nodes", () => {
  it("all traffic on one node: exactly 3 admitted, the 4th is 429 rate_limit_exceeded with the key's limit", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "rate-one-node", threePerMinute);
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    await roomInWindow(60_000, 15_000);
    const [a, b] = stack.nodeUrls as [string, string];
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await call(a, key.secret));
    console.log(`[rate one node] ${answers.map((x) => `${x.status}${x.code ? ` ${x.code}` : ""} (limit ${x.limit}, remaining ${x.remaining})`).join(", ")}`);
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((x) => x.limit)).toEqual(["3", "3", "3", "3"]);
    expect(answers.map((x) => x.remaining)).toEqual(["2", "1", "0", "0"]);
    const refused = answers[3] as Answer;
    expect(refused.code).toBe("rate_limit_exceeded");
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    // The other node has nothing left to give: the limit is the key's.
    expect(await call(b, key.secret)).toMatchObject({ status: 429, code: "rate_limit_exceeded", limit: "3" });
  }, 60_000);

  it("traffic alternating between the nodes: exactly 3 admitted, the 4th is 429", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "rate-alternating", threePerMinute);
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    await roomInWindow(60_000, 15_000);
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) answers.push(await call(stack.nodeUrls[i % 2] as string, key.secret));
    console.log(`[rate alternating] ${answers.map((x) => `${x.status} (limit ${x.limit}, remaining ${x.remaining})`).join(", ")}`);
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(answers.slice(3).map((x) => [x.code, x.limit])).toEqual(Array.from({ length: 3 }, () => ["rate_limit_exceeded", "3"]));
  }, 60_000);
});

describe("the official openai SDK with default settings, 3 per 2 s over two nodes", () => {
  it("3 calls admitted in a window, the 4th answered 429 (limit 3), then served by the SDK's own retry in the next window", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "rate-sdk", { rateLimits: [{ unit: "REQUESTS", limit: 3, windowSeconds: 2 }] });
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    // Every HTTP exchange the SDKs make, with when it was sent and answered.
    const seen: { sentAt: number; doneAt: number; status: number; limit: string | null; retryAfter: string | null }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const sentAt = Date.now();
      const res = await fetch(input, init);
      seen.push({ sentAt, doneAt: Date.now(), status: res.status, limit: res.headers.get("x-ratelimit-limit-requests"), retryAfter: res.headers.get("retry-after") });
      return res;
    };
    const clients = stack.nodeUrls.map((u) => new OpenAI({ baseURL: `${u}/v1`, apiKey: key.secret, fetch: recording }));
    const windowOf = (t: number) => Math.floor(t / 2_000);
    // A trial whose first four exchanges straddle a window boundary (a slow machine) proves nothing: try again.
    for (let trial = 0; trial < 4; trial++) {
      await roomInWindow(2_000, 1_500);
      await sleep(2_000 - (Date.now() % 2_000) + 30);
      seen.length = 0;
      for (let i = 0; i < 3; i++) {
        const r = await (clients[i % 2] as OpenAI).chat.completions.create({ model: tenant.model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 });
        expect(r.choices[0]?.message.content).toBeTruthy();
      }
      // The SDK retries a 429 after its Retry-After (at most 2 s here); were it told not to retry
      // (x-should-retry: false), the refusal itself reaches the caller.
      const fourth = await (clients[1] as OpenAI).chat.completions.create({ model: tenant.model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 }).catch((e: unknown) => e);
      const first4 = seen.slice(0, 4);
      const window = windowOf(first4[0]?.sentAt ?? 0);
      if (!first4.every((s) => windowOf(s.sentAt) === window && windowOf(s.doneAt) === window)) continue;
      console.log(`[rate sdk] exchanges: ${seen.map((s) => `${s.status}@+${s.sentAt - window * 2_000}ms`).join(", ")}`);
      expect(first4.map((s) => s.status)).toEqual([200, 200, 200, 429]);
      expect(first4.map((s) => s.limit)).toEqual(["3", "3", "3", "3"]);
      const retryAfter = Number(first4[3]?.retryAfter);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(2);
      if (fourth instanceof OpenAI.APIError) {
        expect(fourth).toBeInstanceOf(OpenAI.RateLimitError);
        expect(fourth.headers?.get("x-should-retry")).toBe("false");
        return;
      }
      // The SDK's retry was served, and only once the window had rolled.
      expect((fourth as OpenAI.ChatCompletion).choices[0]?.message.content).toBeTruthy();
      const served = seen.at(-1);
      expect(served?.status).toBe(200);
      expect(windowOf(served?.sentAt ?? 0)).toBeGreaterThan(window);
      for (const w of new Set(seen.map((s) => windowOf(s.doneAt)))) {
        expect(seen.filter((s) => s.status === 200 && windowOf(s.sentAt) === w && windowOf(s.doneAt) === w).length).toBeLessThanOrEqual(3);
      }
      return;
    }
    throw new Error("no trial fitted in one 2 s window");
  }, 90_000);
});

describe("the control plane down", () => {
  it("each node keeps its last share: ceil(4 / 2) = 2 per node, so at most N + nodes - 1 = 5, and no request waits on the dead control plane", async () => {
    const key = await createKey(stack.gql, tenant.orgId, "rate-outage", { rateLimits: [{ unit: "REQUESTS", limit: 4, windowSeconds: 3_600 }] });
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    await stack.killControlPlane();
    await sleep(500);
    const started = Date.now();
    const perNode: number[] = [];
    for (const url of stack.nodeUrls) {
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await call(url, key.secret));
      perNode.push(answers.filter((x) => x.status === 200).length);
      expect(answers.filter((x) => x.status !== 200).map((x) => [x.status, x.code, x.limit, x.remaining])).toEqual(
        Array.from({ length: 4 - (perNode.at(-1) ?? 0) }, () => [429, "rate_limit_exceeded", "4", "0"]),
      );
    }
    const elapsed = Date.now() - started;
    console.log(`[rate outage] control plane down: admitted ${perNode.join(" + ")} of 4 per node in ${elapsed} ms`);
    expect(perNode).toEqual([2, 2]);
    expect(elapsed).toBeLessThan(5_000);
  }, 60_000);
});
