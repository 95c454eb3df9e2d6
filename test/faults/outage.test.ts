/**
 * The control plane may fail: killed (SIGKILL) for ~5 s under steady load, a node restarted
 * during the outage, a crash between the usage commit and its ACK, and a spool replayed twice.
 * Nothing that would have succeeded fails, and the ledger ends exact (no record lost or doubled).
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, waitForHttpOk } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, chat, createKey, formatMicros, keyBudget, keyUsage, setupTenant, toMicros, type CallResult, type Tenant, type TestKey } from "../support/tenant.js";

let stack: Stack;
let tenant: Tenant;
let budgeted: TestKey;
let open: TestKey;
/** Client-side truth: successful calls and their cost per key, refusals per key. */
const truth = new Map<string, { ok: number; cost: number; refused: number }>();

function count(key: TestKey, r: CallResult): void {
  const t = truth.get(key.id) ?? { ok: 0, cost: 0, refused: 0 };
  if (r.status === 200) truth.set(key.id, { ...t, ok: t.ok + 1, cost: t.cost + r.costMicros });
  else truth.set(key.id, { ...t, refused: t.refused + 1 });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once the usage query and the budget agree exactly with what the clients saw. */
async function ledgerExact(what: string): Promise<{ requests: number; blocked: number }> {
  return eventually(
    async () => {
      const [b, o, budget] = await Promise.all([keyUsage(stack.gql, tenant.orgId, budgeted.id), keyUsage(stack.gql, tenant.orgId, open.id), keyBudget(stack.gql, budgeted.id)]);
      const tb = truth.get(budgeted.id) ?? { ok: 0, cost: 0, refused: 0 };
      const to = truth.get(open.id) ?? { ok: 0, cost: 0, refused: 0 };
      const exact = b.requests === tb.ok && o.requests === to.ok && b.blocked === tb.refused && o.blocked === to.refused && toMicros(budget.used) === tb.cost;
      return exact ? { requests: b.requests + o.requests, blocked: b.blocked + o.blocked } : undefined;
    },
    20_000,
    what,
  );
}

/** Resolves (to the latest stream opening) once every node's policy stream reopened since `since`. */
async function allReconnectedSince(since: number): Promise<number> {
  return eventually(
    async () => {
      const d = await stack.gql<{ dataPlaneNodes: { id: string; connectionState: string; streamOpenedAt: string | null }[] }>(`{ dataPlaneNodes { id connectionState streamOpenedAt } }`);
      const fresh = d.dataPlaneNodes.filter((n) => n.connectionState === "CONNECTED" && n.streamOpenedAt !== null && Date.parse(n.streamOpenedAt) >= since);
      return fresh.length === 3 ? Math.max(...fresh.map((n) => Date.parse(n.streamOpenedAt as string))) : undefined;
    },
    20_000,
    "all nodes reconnected",
  );
}

async function duplicatesSeen(): Promise<number> {
  const res = await fetch(stack.graphqlUrl.replace("/graphql", "/metrics"));
  const m = /tollgate_usage_records_total\{result="duplicate"\} (\d+)/.exec(await res.text());
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  stack = await startStack(3);
  tenant = await setupTenant(stack.gql, stack.mockUrl);
  budgeted = await createKey(stack.gql, tenant.orgId, "budgeted", { budgets: [{ unit: "USD", window: "DAY", limit: "100", mode: "HARD" }] });
  open = await createKey(stack.gql, tenant.orgId, "open");
  await acceptedEverywhere(stack.nodeUrls, budgeted.secret);
  await acceptedEverywhere(stack.nodeUrls, open.secret);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the control plane killed under steady load", () => {
  it("fails nothing that would have succeeded, restarts a node from its cache, and loses or doubles no record", async () => {
    // ~20 requests per second on nodes 1 and 2, both keys; node 3 is restarted during the outage.
    let running = true;
    const failures: CallResult[] = [];
    const loops = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; running; i++) {
        const key = w % 2 === 0 ? budgeted : open;
        const r = await chat(stack.nodeUrls[(w + i) % 2] as string, key.secret, "steady load", 10);
        count(key, r);
        if (r.status !== 200) failures.push(r);
        await sleep(150);
      }
    });
    await sleep(10_000); // the grants grow to ~2x the recent demand
    const killedAt = Date.now();
    await stack.killControlPlane("SIGKILL");

    // (c) restart node 3 while the control plane is down: ready from its cached snapshot.
    const restartStarted = Date.now();
    await stack.restartNode(2, "SIGKILL"); // a crash: it comes back with its disk (snapshot cache, spool)
    await waitForHttpOk(`${stack.nodeUrls[2]}/readyz`, 30_000);
    const readyMs = Date.now() - restartStarted;
    const served = await chat(stack.nodeUrls[2] as string, open.secret, "after restart", 10);
    count(open, served);
    const hardBudget = await chat(stack.nodeUrls[2] as string, budgeted.secret, "after restart", 10);
    count(budgeted, hardBudget);
    expect(served.status).toBe(200);
    // A fresh boot holds no grant: a hard budget fails closed while the control plane is away.
    expect([hardBudget.status, hardBudget.code]).toEqual([503, "budget_unverifiable"]);

    const outageLeft = 5_000 - (Date.now() - killedAt);
    if (outageLeft > 0) await sleep(outageLeft);
    const relaunchedAt = Date.now();
    await stack.restartControlPlane();
    const restartedAt = Date.now();
    const reconnected = await allReconnectedSince(killedAt);
    await sleep(2_000);
    running = false;
    await Promise.all(loops);
    const outageMs = restartedAt - killedAt;
    const sent = [...truth.values()].reduce((s, t) => s + t.ok + t.refused, 0);
    const ledger = await ledgerExact("usage after the outage");
    console.log(
      `[fault b] control plane SIGKILLed under ~20 req/s, relaunched after ${relaunchedAt - killedAt} ms, serving again after ${outageMs} ms: ${failures.length} of the load's requests failed; ` +
        `nodes reconnected ${Math.max(0, reconnected - restartedAt)} ms after the control plane was ready again; ` +
        `usage: ${sent} records sent, ${ledger.requests + ledger.blocked} recorded (0 lost, 0 doubled); budget used ${formatMicros(truth.get(budgeted.id)?.cost ?? 0)} = sum of client-side costs`,
    );
    console.log(`[fault c] node killed and restarted during the outage: ready from its cached snapshot in ${readyMs} ms, served a valid key (200); a hard-budget key answered 503 budget_unverifiable`);
    expect(failures).toEqual([]);
  }, 120_000);
});

describe("crash between the usage commit and its ACK, and spool replays", () => {
  it("keeps the ledger exact when a committed batch is sent again", async () => {
    const restartedAt = Date.now();
    await stack.restartControlPlane({ TOLLGATE_FAULT_INJECTION: "crash-after-usage-commit" });
    await allReconnectedSince(restartedAt);
    // Nodes hold grants from before: these succeed at once; their records go out in the next batch.
    for (const u of stack.nodeUrls) {
      const r = await chat(u, budgeted.secret, "before the crash", 5);
      count(budgeted, r);
      expect(r.status).toBe(200);
    }
    await eventually(async () => (stack.controlPlane.child.exitCode !== null || stack.controlPlane.child.signalCode !== null ? true : undefined), 15_000, "the fault to fire");
    expect(stack.controlPlane.output()).toContain("fault injection");
    await stack.restartControlPlane();
    // The node never got the ACK: it sends the committed batch again; the control plane ignores its records.
    const duplicates = await eventually(
      async () => {
        const d = await duplicatesSeen();
        return d > 0 ? d : undefined;
      },
      20_000,
      "the committed batch sent again",
    );
    const ledger = await ledgerExact("ledger after the crash between commit and ACK");
    console.log(
      `[fault e] control plane killed after committing a usage batch, before the ACK: the node sent it again, ${duplicates} duplicate records ignored, ledger exact (${ledger.requests} requests, ${ledger.blocked} refusals)`,
    );
    expect(duplicates).toBeGreaterThan(0);
  }, 90_000);

  it("replays a node's spool twice without counting anything twice", async () => {
    // Make records while the control plane is down, keep a copy of the spool, deliver, then replay the copy twice.
    await stack.killControlPlane("SIGKILL");
    for (let i = 0; i < 10; i++) count(open, await chat(stack.nodeUrls[0] as string, open.secret, `spooled ${i}`, 5));
    await sleep(1_500); // the active segment rolls after 1 s
    const spoolDir = path.join(stack.nodeEnv(0).TOLLGATE_DATA_DIR as string, "node-node-1", "spool");
    const saved = mkdtempSync(path.join(tmpdir(), "tollgate-spool-"));
    const segments = readdirSync(spoolDir).filter((f) => f.endsWith(".log"));
    for (const f of segments) copyFileSync(path.join(spoolDir, f), path.join(saved, f));
    expect(segments.length).toBeGreaterThan(0);
    await stack.restartControlPlane();
    await ledgerExact("spooled records delivered");
    const dupBefore = await duplicatesSeen();
    for (let replay = 1; replay <= 2; replay++) {
      await stack.stopNode(0, "SIGTERM");
      for (const f of readdirSync(saved)) copyFileSync(path.join(saved, f), path.join(spoolDir, f));
      await stack.restartNode(0, "SIGTERM");
      await waitForHttpOk(`${stack.nodeUrls[0]}/readyz`, 30_000);
      await eventually(async () => (readdirSync(spoolDir).filter((f) => f.endsWith(".log")).length === 0 ? true : undefined), 20_000, `replay ${replay} delivered`);
    }
    const ledger = await ledgerExact("ledger after two replays");
    const duplicates = (await duplicatesSeen()) - dupBefore;
    rmSync(saved, { recursive: true, force: true });
    console.log(`[fault e] a spool of ${segments.length} segment(s) replayed twice: ${duplicates} duplicate records ignored, ledger exact (${ledger.requests} requests, ${ledger.blocked} refusals)`);
    expect(duplicates).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
