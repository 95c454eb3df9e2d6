/**
 * Issue 10 (performance), first increment, on real processes started the way production starts
 * them: each is one plain `node` process on the built JavaScript (no npm or tsx wrapper), the
 * built control plane serves exactly the committed GraphQL schema (type-graphql names types after
 * classes, and bundling renames a class whose name collides with another's), and a data-plane node
 * stays small until a request needs token counting: the tokenizer's tables (~150 MB) load on that
 * first use, not at start.
 */
import { readFileSync } from "node:fs";
import { buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, type IntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtCli, repoRoot } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { chat, createKey, setupTenant, type TestKey } from "../support/tenant.js";

/** The ceiling for a data-plane node (its goal under load with 10,000 keys). */
const NODE_RSS_LIMIT_MB = 150;

let stack: Stack;
let key: TestKey;

function rssMb(pid: number | undefined): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  if (!m) throw new Error(`no RSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** One streamed chat call; resolves when the stream ends (or is cut), whatever its status. */
async function streamChat(prompt: string): Promise<number> {
  const res = await fetch(`${stack.nodeUrls[0]}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: 50, stream: true }),
  });
  await res.text().catch(() => "");
  return res.status;
}

beforeAll(async () => {
  stack = await startStack(1);
  const tenant = await setupTenant(stack.gql, stack.mockUrl);
  key = await createKey(stack.gql, tenant.orgId, "perf");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("production processes", () => {
  it("are each one plain node process running dist/run/tollgate.js, with no wrapper and no child", () => {
    const expected: Array<[number | undefined, string]> = [
      [stack.controlPlane.child.pid, "control-plane"],
      [stack.nodes[0]?.child.pid, "data-plane"],
      [stack.mock.child.pid, "mock-provider"],
    ];
    for (const [pid, command] of expected) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .split("\0")
        .filter((a) => a !== "");
      expect(argv).toEqual([process.execPath, builtCli, command]);
      expect(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()).toBe("");
    }
  });

  it("serve the committed GraphQL schema from the built control plane", async () => {
    const introspection = await stack.gql<IntrospectionQuery>(getIntrospectionQuery({ specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
    const served = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
    const committed = printSchema(lexicographicSortSchema(buildSchema(readFileSync(`${repoRoot}/graphql/schema.graphql`, "utf8"))));
    expect(served).toBe(committed);
  });
});

describe("a data-plane node's memory", () => {
  it(`stays under ${NODE_RSS_LIMIT_MB} MB while usage is reported, and loads the tokenizer only when a request needs counting`, async () => {
    const pid = stack.nodes[0]?.child.pid;
    for (let i = 0; i < 40; i++) {
      const r = await chat(stack.nodeUrls[0] ?? "", key.secret, `hello ${i}`);
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < 10; i++) expect(await streamChat(`stream ${i}`)).toBe(200);
    const served = rssMb(pid);
    expect(served).toBeLessThan(NODE_RSS_LIMIT_MB);

    // A stream cut before its usage chunk is billed its held output: nothing is counted, the tables stay unloaded.
    expect(await streamChat("cut me [[mock:reset_after=2]]")).toBe(200);
    const cut = rssMb(pid);
    expect(cut - served).toBeLessThan(80);
    // Anthropic's count_tokens for a model on an OpenAI-style account is counted by the node: the tables load now.
    const res = await fetch(`${stack.nodeUrls[0]}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key.secret, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "count me" }] }),
    });
    expect(res.status).toBe(200);
    const counted = rssMb(pid);
    expect(counted - cut).toBeGreaterThan(80);
  }, 60_000);
});
