import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockProvider, type MockProvider } from "@tollgate/mock-provider";
import { Outcome, hasNodeToken, type SubscribeRequest } from "@tollgate/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataPlaneConfig } from "./config.js";
import { nodeDataPaths, startDataPlane } from "./data-plane.server.js";
import { addPolicyService, addUsageService, createFakeUsageService, silentLogger, startLoopbackServer, waitFor, type LoopbackServer } from "./grpc.fixture.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";

const TOKEN = "node-token-for-tests";

describe("startDataPlane (a whole node against a loopback control plane)", () => {
  let mock: MockProvider;
  let dataDir: string;
  beforeAll(async () => {
    mock = await startMockProvider({ defaultCompletionTokens: 4, apiKey: null });
    dataDir = await mkdtemp(join(tmpdir(), "tg-node-"));
  });
  afterAll(async () => {
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves from the control plane, keeps serving from its cached snapshot while it is down, and replays the spool when it is back", async () => {
    const fixture = buildPolicyFixture(mock.baseUrl, 3n);
    const usage = createFakeUsageService();
    const hellos: SubscribeRequest[] = [];
    let authorized = true;
    const startControlPlane = (port: number): Promise<LoopbackServer> =>
      startLoopbackServer((s) => {
        addUsageService(s, usage);
        addPolicyService(s, (call) => {
          authorized &&= hasNodeToken(call.metadata, TOKEN);
          call.on("data", (m: SubscribeRequest) => {
            if (m.msg.case === "hello") {
              hellos.push(m);
              call.write(toFullUpdate(fixture.snapshot, `n${hellos.length}`));
            }
          });
          call.on("error", () => undefined);
        });
      }, port);
    let cp = await startControlPlane(0);
    const port = Number(cp.address.split(":")[1]);
    const config = loadDataPlaneConfig({ TOLLGATE_NODE_TOKEN: TOKEN, CONTROL_PLANE_URL: cp.address, PORT: "0", NODE_ID: "node-x", TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    const ask = (url: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${fixture.secrets.active}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });

    // 1. Connected: snapshot from the stream, a request, its usage reported.
    let node = await startDataPlane(config, { logger: silentLogger });
    await node.ready;
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    const first = await ask(node.url);
    expect(first.status).toBe(200);
    await waitFor(() => usage.batches.length > 0, 5_000);
    const reported = usage.batches.flatMap((b) => b.records);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ nodeId: "node-x", virtualKeyId: "vk_active", outcome: Outcome.SUCCESS, outputTokens: 4 });
    expect(authorized).toBe(true);
    await node.close();

    // 2. Control plane down: a restarted node serves from its cached snapshot and spools usage.
    await cp.close();
    node = await startDataPlane(config, { logger: silentLogger });
    await node.ready;
    const offline = await ask(node.url);
    expect(offline.status).toBe(200);
    await node.close();
    const spooled = (await readdir(nodeDataPaths(dataDir, "node-x").spool)).filter((f) => f.endsWith(".log"));
    expect(spooled.length).toBeGreaterThan(0);
    expect(usage.batches.flatMap((b) => b.records)).toHaveLength(1);

    // 3. Back up on the same address: the spool left on disk is replayed and then deleted.
    cp = await startControlPlane(port);
    node = await startDataPlane(config, { logger: silentLogger });
    await waitFor(() => usage.batches.flatMap((b) => b.records).length === 2, 10_000);
    const all = usage.batches.flatMap((b) => b.records);
    expect(new Set(all.map((r) => r.requestId)).size).toBe(2);
    await waitFor(() => hellos.length >= 2, 5_000);
    const lastHello = hellos.at(-1)?.msg;
    expect(lastHello?.case === "hello" ? lastHello.value.heldVersion : -1n).toBe(3n);
    await node.close();
    expect((await readdir(nodeDataPaths(dataDir, "node-x").spool)).filter((f) => f.endsWith(".log"))).toEqual([]);
    await cp.close();
  });
});
