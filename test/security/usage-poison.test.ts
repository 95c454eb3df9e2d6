/**
 * Issue 8, row 1: nothing a caller sends can stop usage recording. Real processes (control plane,
 * nodes, mock provider). (a) Requests naming the model "gpt-4o-mini\u0000x" and a 20,000-character
 * model, on a paused key and on a valid key, then normal traffic of another tenant: every request's
 * usage is recorded, the bad ones stored sanitized by the node (NUL -> U+FFFD, cut to 256 bytes),
 * nothing dead-lettered. (b) A hand-made poisoned spool segment placed in a new node's spool dir
 * before it starts: its good records are recorded, the unstorable ones dead-lettered by the control
 * plane (visible to the platform admin, counted in /metrics), an undecodable frame quarantined on
 * the node, and the node does not loop on the segment (deleted; nothing sent again after a restart).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Outcome, UsageRecordSchema, UsageSource, type UsageRecord } from "@tollgate/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, waitForHttpOk } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, chat, createKey, keyUsage, setupTenant, type Tenant, type TestKey } from "../support/tenant.js";

let stack: Stack;
let acme: Tenant;
let beta: Tenant;
let paused: TestKey;
let valid: TestKey;
let betaKey: TestKey;
const spoolRoot = mkdtempSync(path.join(tmpdir(), "tollgate-poison-"));

const NUL_MODEL = "gpt-4o-mini\u0000x";
const LONG_MODEL = "m".repeat(20_000);

const DEAD_LETTERS = `query($after: String) { usageDeadLetters(first: 100, after: $after) {
  edges { node { id reason detail nodeId requestId organizationId recordBytes recordBase64 record } } pageInfo { hasNextPage endCursor } } }`;
interface DeadLetterNode {
  reason: string;
  detail: string;
  nodeId: string;
  requestId: string;
  organizationId: string;
  recordBytes: number;
  recordBase64: string;
  record: Record<string, unknown> | null;
}

async function deadLetters(): Promise<DeadLetterNode[]> {
  const d = await stack.gql<{ usageDeadLetters: { edges: { node: DeadLetterNode }[] } }>(DEAD_LETTERS, {});
  return d.usageDeadLetters.edges.map((e) => e.node);
}

async function metric(url: string, line: RegExp): Promise<number> {
  const text = await (await fetch(url)).text();
  const m = text.split("\n").find((l) => line.test(l));
  return m === undefined ? Number.NaN : Number(m.slice(m.lastIndexOf(" ") + 1));
}
const cpMetrics = (): string => stack.graphqlUrl.replace(/\/graphql$/, "/metrics");

/** A raw chat request with any model name (JSON.stringify writes the NUL as \u0000). */
async function chatWithModel(secret: string, model: string): Promise<{ status: number; code: string }> {
  const res = await fetch(`${stack.nodeUrls[0]}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 }),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code ?? "" };
}

/** Usage of a tenant grouped by model: model -> {requests, blocked}. */
async function usageByModel(orgId: string): Promise<Map<string, { requests: number; blocked: number }>> {
  const d = await stack.gql<{ usage: { group: { model: string }; requests: number; blocked: number }[] }>(
    `query($org: ID!) { usage(organizationId: $org, groupBy: [MODEL]) { group { model } requests blocked } }`,
    { org: orgId },
  );
  return new Map(d.usage.map((r) => [r.group.model, { requests: r.requests, blocked: r.blocked }]));
}

beforeAll(async () => {
  stack = await startStack(1);
  acme = await setupTenant(stack.gql, stack.mockUrl, "acme");
  beta = await setupTenant(stack.gql, stack.mockUrl, "beta");
  paused = await createKey(stack.gql, acme.orgId, "paused");
  valid = await createKey(stack.gql, acme.orgId, "valid");
  betaKey = await createKey(stack.gql, beta.orgId, "beta-app");
  await stack.gql(`mutation($input: PauseVirtualKeyInput!) { pauseVirtualKey(input: $input) { virtualKey { status } } }`, { input: { id: paused.id } });
  await acceptedEverywhere(stack.nodeUrls, valid.secret);
  await acceptedEverywhere(stack.nodeUrls, betaKey.secret);
  let probes = 0;
  await eventually(
    async () => {
      probes++;
      return (await chatWithModel(paused.secret, "gpt-4o-mini")).code === "key_paused" ? true : undefined;
    },
    10_000,
    "the pause applied",
  );
  // Every probe is a usage record of the paused key: wait until they are all counted.
  await eventually(
    async () => {
      const u = await keyUsage(stack.gql, acme.orgId, paused.id);
      return u.blocked + u.requests === probes ? true : undefined;
    },
    20_000,
    "the probes recorded",
  );
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(spoolRoot, { recursive: true, force: true });
});

describe("usage recording survives hostile model names (issue 8, row 1)", () => {
  it("(a) records every tenant's usage after NUL and 20,000-character model names on a paused and a valid key; the bad ones stored sanitized", async () => {
    // Earlier probes of the pause were recorded too: count from here.
    const [pausedBefore, validBefore] = [await keyUsage(stack.gql, acme.orgId, paused.id), await keyUsage(stack.gql, acme.orgId, valid.id)];
    // The paused key's refusal before the fix poisoned the node's whole usage stream.
    expect(await chatWithModel(paused.secret, NUL_MODEL)).toEqual({ status: 403, code: "key_paused" });
    expect(await chatWithModel(paused.secret, LONG_MODEL)).toEqual({ status: 403, code: "key_paused" });
    expect(await chatWithModel(valid.secret, NUL_MODEL)).toEqual({ status: 404, code: "model_not_found" });
    expect(await chatWithModel(valid.secret, LONG_MODEL)).toEqual({ status: 404, code: "model_not_found" });
    for (let i = 0; i < 5; i++) expect((await chat(stack.nodeUrls[0] ?? "", betaKey.secret, `hello ${i}`)).status).toBe(200);
    expect((await chat(stack.nodeUrls[0] ?? "", valid.secret, "hello")).status).toBe(200);

    const beta5 = await eventually(
      async () => {
        const u = await keyUsage(stack.gql, beta.orgId, betaKey.id);
        return u.requests === 5 ? u : undefined;
      },
      20_000,
      "the other tenant's usage recorded",
    );
    expect(beta5.blocked).toBe(0);
    expect(Number(beta5.cost)).toBeGreaterThan(0);
    await eventually(
      async () => {
        const [p, v] = [await keyUsage(stack.gql, acme.orgId, paused.id), await keyUsage(stack.gql, acme.orgId, valid.id)];
        return p.blocked === pausedBefore.blocked + 2 && v.blocked === validBefore.blocked + 2 && v.requests === validBefore.requests + 1 ? true : undefined;
      },
      20_000,
      "the refusals and the valid key's request recorded",
    );

    // Stored sanitized by the node: NUL became U+FFFD, the long name was cut to 256 bytes.
    const byModel = await usageByModel(acme.orgId);
    expect(byModel.get("gpt-4o-mini\uFFFDx")).toEqual({ requests: 0, blocked: 2 });
    expect(byModel.get("m".repeat(256))).toEqual({ requests: 0, blocked: 2 });
    expect([...byModel.keys()].every((m) => m.length <= 256 && !m.includes("\u0000"))).toBe(true);
    expect(await deadLetters()).toEqual([]);
    expect(await metric(`${stack.nodeUrls[0]}/metrics`, /^tollgate_usage_spool_records /)).toBe(0);
  });

  it("(b) stores a poisoned spool's good records, dead-letters its bad ones, quarantines what does not decode, and does not loop", async () => {
    const now = BigInt(Date.now());
    const record = (requestId: string, over: Partial<UsageRecord> = {}): UsageRecord => ({
      ...create(UsageRecordSchema, {
        requestId,
        nodeId: "node-poison",
        bootId: "boot_old",
        sequence: 1n,
        startedAtMs: now,
        durationMs: 10,
        organizationId: beta.orgId,
        virtualKeyId: betaKey.id,
        model: "gpt-4o-mini",
        route: "/v1/chat/completions",
        inputTokens: 10,
        outputTokens: 10,
        usageSource: UsageSource.PROVIDER,
        costMicros: 30n,
        outcome: Outcome.SUCCESS,
        status: 200,
        attempts: 1,
      }),
      ...over,
    });
    const frames: Uint8Array[] = [
      toBinary(UsageRecordSchema, record("req_poison_good_1")),
      toBinary(UsageRecordSchema, record("req_poison_nul", { model: NUL_MODEL })),
      toBinary(UsageRecordSchema, record("req_poison_long", { model: LONG_MODEL })),
      toBinary(UsageRecordSchema, record("", { model: "no-request-id" })),
      toBinary(UsageRecordSchema, record("req_poison_negative", { costMicros: -1_000_000n })),
      Uint8Array.from([0x0f, 0x01, 0x02]),
      toBinary(UsageRecordSchema, record("req_poison_good_2")),
    ];
    const spoolDir = path.join(spoolRoot, "node-node-poison", "spool");
    mkdirSync(spoolDir, { recursive: true });
    writeFileSync(
      path.join(spoolDir, "seg-000000000001.log"),
      Buffer.concat(
        frames.map((f) => {
          const b = Buffer.alloc(4 + f.length);
          b.writeUInt32BE(f.length, 0);
          b.set(f, 4);
          return b;
        }),
      ),
    );
    const before = await keyUsage(stack.gql, beta.orgId, betaKey.id);

    const i = await stack.addNode({ NODE_ID: "node-poison", TOLLGATE_DATA_DIR: spoolRoot });
    const nodeUrl = stack.nodeUrls[i] ?? "";
    const after = await eventually(
      async () => {
        const u = await keyUsage(stack.gql, beta.orgId, betaKey.id);
        return u.requests === before.requests + 2 ? u : undefined;
      },
      20_000,
      "the good records of the poisoned segment recorded",
    );
    expect(Math.round((Number(after.cost) - Number(before.cost)) * 1e6)).toBe(60);

    const letters = await eventually(
      async () => {
        const l = await deadLetters();
        return l.length === 4 ? l : undefined;
      },
      20_000,
      "four dead letters",
    );
    expect(letters.map((l) => l.reason).sort()).toEqual(["invalid_text", "missing_field", "out_of_range", "too_long"]);
    expect(letters.every((l) => l.nodeId === "node-poison")).toBe(true);
    const nul = letters.find((l) => l.reason === "invalid_text");
    expect(nul).toMatchObject({ requestId: "req_poison_nul", organizationId: beta.orgId, detail: "model contains NUL" });
    expect(nul?.record?.model).toBe(NUL_MODEL);
    const long = letters.find((l) => l.reason === "too_long");
    expect(long?.recordBytes).toBeGreaterThan(20_000);
    expect(Buffer.from(long?.recordBase64 ?? "", "base64").equals(Buffer.from(frames[2] as Uint8Array))).toBe(true);

    // Counted by reason on the control plane; the undecodable frame quarantined on the node.
    expect(await metric(cpMetrics(), /^tollgate_usage_dead_letters_total\{reason="invalid_text"\}/)).toBe(1);
    expect(await metric(cpMetrics(), /^tollgate_usage_dead_letters_total\{reason="too_long"\}/)).toBe(1);
    expect(await metric(cpMetrics(), /^tollgate_usage_dead_letters_total\{reason="missing_field"\}/)).toBe(1);
    expect(await metric(cpMetrics(), /^tollgate_usage_dead_letters_total\{reason="out_of_range"\}/)).toBe(1);
    await eventually(async () => ((await metric(`${nodeUrl}/metrics`, /^tollgate_usage_spool_records /)) === 0 ? true : undefined), 10_000, "spool empty");
    expect(await metric(`${nodeUrl}/metrics`, /^tollgate_usage_quarantined_records_total /)).toBe(1);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith(".log"))).toEqual([]);
    expect(readdirSync(path.join(spoolDir, "quarantine"))).toEqual(["seg-000000000001.bad"]);
    expect(stack.nodes[i]?.output()).toMatch(/usage records quarantined/);

    // It does not loop: nothing more is sent, and a restart sends nothing again.
    const accepted = await metric(cpMetrics(), /^tollgate_usage_records_total\{result="accepted"\}/);
    await new Promise((r) => setTimeout(r, 1_500));
    await stack.restartNode(i, "SIGTERM");
    await waitForHttpOk(`${nodeUrl}/readyz`);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await metric(cpMetrics(), /^tollgate_usage_records_total\{result="accepted"\}/)).toBe(accepted);
    expect(await deadLetters()).toHaveLength(4);
    expect((await keyUsage(stack.gql, beta.orgId, betaKey.id)).requests).toBe(before.requests + 2);
  });
});
