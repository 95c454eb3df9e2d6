/**
 * Two control-plane replicas on one PostgreSQL database: a change made through either reaches
 * every node (LISTEN/NOTIFY between the processes), a node whose control plane dies reconnects
 * to the other one (CONTROL_PLANE_URL=a,b), and leases survive because they live in the database.
 * PGlite is single-process, so this needs DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/processes.js";
import { startStack, type ControlPlaneReplica, type Stack } from "../support/stack.js";
import { acceptedEverywhere, chat, createKey, keyBudget, keyUsage, modelsStatus, setupTenant, toMicros, type CallResult, type Tenant } from "../support/tenant.js";

const hasPostgres = Boolean(process.env.DATABASE_URL);

describe.skipIf(!hasPostgres)("control-plane replicas on one PostgreSQL database (skipped without DATABASE_URL: PGlite is single-process)", () => {
  let stack: Stack;
  let replica: ControlPlaneReplica;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await startStack(0);
    replica = await stack.startReplica();
    const a = stack.grpcAddress;
    const b = replica.grpcAddress;
    await stack.addNode({ CONTROL_PLANE_URL: `${a},${b}` });
    await stack.addNode({ CONTROL_PLANE_URL: `${b},${a}` });
    await stack.addNode({ CONTROL_PLANE_URL: `${a},${b}` });
    tenant = await setupTenant(replica.gql, stack.mockUrl);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const nodesView = async () =>
    (
      await replica.gql<{ dataPlaneNodes: { id: string; connectionState: string; controlPlaneReplica: string; streamOpenedAt: string | null }[] }>(
        `{ dataPlaneNodes { id connectionState controlPlaneReplica streamOpenedAt } }`,
      )
    ).dataPlaneNodes;

  it("a change made through either replica reaches every node", async () => {
    const replicas = new Set((await nodesView()).map((n) => n.controlPlaneReplica));
    expect(replicas.size).toBe(2);
    const started = Date.now();
    const key = await createKey(replica.gql, tenant.orgId, "via-b");
    await acceptedEverywhere(stack.nodeUrls, key.secret, 5_000);
    const createdMs = Date.now() - started;
    const revokeStarted = Date.now();
    await stack.gql(`mutation($input: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $input) { virtualKey { status } } }`, { input: { id: key.id } });
    await Promise.all(stack.nodeUrls.map((u) => eventually(async () => ((await modelsStatus(u, key.secret)) === 401 ? true : undefined), 5_000, "revoked")));
    const revokedMs = Date.now() - revokeStarted;
    console.log(`[replicas] key created through replica B accepted by all 3 nodes in ${createdMs} ms; revoked through replica A refused by all 3 in ${revokedMs} ms`);
    expect(revokedMs).toBeLessThan(1_000);
  }, 60_000);

  it("nodes of a killed replica move to the other one; grants survive; nothing is lost", async () => {
    const key = await createKey(replica.gql, tenant.orgId, "failover", { budgets: [{ unit: "USD", window: "DAY", limit: "10", mode: "HARD" }] });
    await acceptedEverywhere(stack.nodeUrls, key.secret);
    let running = true;
    const results: CallResult[] = [];
    const loops = stack.nodeUrls.map(async (u) => {
      while (running) {
        results.push(await chat(u, key.secret, "failover", 5));
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    await new Promise((r) => setTimeout(r, 3_000));
    const killedAt = Date.now();
    await stack.killControlPlane("SIGKILL");
    const movedAt = await eventually(
      async () => {
        const nodes = await nodesView();
        const moved = nodes.filter((n) => n.connectionState === "CONNECTED" && n.streamOpenedAt !== null && Date.parse(n.streamOpenedAt) >= killedAt);
        const onOne = new Set(nodes.map((n) => n.controlPlaneReplica)).size === 1;
        return onOne && nodes.every((n) => n.connectionState === "CONNECTED") && moved.length >= 2 ? Date.now() : undefined;
      },
      20_000,
      "nodes moved to replica B",
    );
    // Grants keep flowing from replica B (the leases are rows in the shared database).
    await new Promise((r) => setTimeout(r, 3_000));
    running = false;
    await Promise.all(loops);
    const ok = results.filter((r) => r.status === 200);
    const failed = results.filter((r) => r.status !== 200);
    const cost = ok.reduce((s, r) => s + r.costMicros, 0);
    await eventually(
      async () => {
        const [u, b] = await Promise.all([keyUsage(replica.gql, tenant.orgId, key.id), keyBudget(replica.gql, key.id)]);
        return u.requests === ok.length && toMicros(b.used) === cost ? true : undefined;
      },
      20_000,
      "usage recorded exactly through replica B",
    );
    const revokeStarted = Date.now();
    await replica.gql(`mutation($input: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $input) { virtualKey { status } } }`, { input: { id: key.id } });
    await Promise.all(stack.nodeUrls.map((u) => eventually(async () => ((await modelsStatus(u, key.secret)) === 401 ? true : undefined), 5_000, "revoked")));
    console.log(
      `[replicas] replica A SIGKILLed under load: all nodes on replica B within ${movedAt - killedAt} ms; ${ok.length} requests ok, ${failed.length} failed; ` +
        `usage exact through B; a revocation through B refused on all nodes in ${Date.now() - revokeStarted} ms`,
    );
    expect(failed).toEqual([]);
  }, 90_000);
});
