import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { BudgetSchema, PolicyUpdateSchema, ResourceSchema, type PolicyUpdate, VirtualKeySchema, type SubscribeRequest } from "@tollgate/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneLink } from "./control-plane-link.js";
import { addPolicyService, silentLogger, startLoopbackServer, waitFor } from "./grpc.fixture.js";
import { buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { PolicySubscriber } from "./policy-subscriber.client.js";

type Stream = grpc.ServerDuplexStream<SubscribeRequest, PolicyUpdate>;

describe("PolicySubscriber against a loopback PolicyService", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("applies a full snapshot, NACKs a bad resource while applying the rest, ignores older versions, and says Hello again on reconnect", async () => {
    const fixture = buildPolicyFixture("http://127.0.0.1:9/v1", 5n);
    const received: SubscribeRequest[] = [];
    const streams: Stream[] = [];
    const server = await startLoopbackServer((s) =>
      addPolicyService(s, (call) => {
        streams.push(call);
        call.on("data", (m: SubscribeRequest) => received.push(m));
        call.on("error", () => undefined);
      }),
    );
    cleanups.push(() => server.close());
    const link = createControlPlaneLink(["127.0.0.1:1", server.address], "tok");
    cleanups.push(async () => link.close());
    const store = new PolicyStore();
    const subscriber = new PolicySubscriber({ store, link, nodeId: "node-a", bootId: "boot-1", logger: silentLogger, random: () => 0 });
    subscriber.start();
    cleanups.push(() => subscriber.stop());

    // The first address refuses connections: the subscriber rotates to the second.
    await waitFor(() => streams.length === 1, 10_000);
    await waitFor(() => received.length === 1);
    const hello = received[0]?.msg;
    expect(hello?.case).toBe("hello");
    if (hello?.case !== "hello") throw new Error("no hello");
    expect(hello.value.nodeId).toBe("node-a");
    expect(hello.value.heldVersion).toBe(0n);

    const full = toFullUpdate(fixture.snapshot, "nonce-1");
    const bad = create(ResourceSchema, {
      key: "budget/bgt_bad",
      hash: "h",
      body: { case: "budget", value: create(BudgetSchema, { id: "bgt_bad", organizationId: "org_1", scopeId: "vk_active", limit: 5n }) },
    });
    full.upserts.push(bad);
    streams[0]?.write(full);
    await waitFor(() => received.length === 2);
    const ack = received[1]?.msg;
    if (ack?.case !== "ack") throw new Error("no ack");
    expect(ack.value.version).toBe(5n);
    expect(ack.value.nonce).toBe("nonce-1");
    expect(ack.value.nacks.map((n) => n.key)).toEqual(["budget/bgt_bad"]);
    expect(ack.value.nacks[0]?.reason).toMatch(/enum|scope/);
    expect(store.connected()).toBe(true);
    expect(store.current()?.index.virtualKey("vk_active")).not.toBeNull();
    expect(store.current()?.index.budget("bgt_bad")).toBeNull();
    expect(store.current()?.snapshot.budgets).toHaveLength(fixture.snapshot.budgets.length);

    // A delta: the bad budget arrives fixed, a key is removed.
    streams[0]?.write(
      create(PolicyUpdateSchema, {
        version: 6n,
        nonce: "nonce-2",
        upserts: [
          create(ResourceSchema, {
            key: "budget/bgt_bad",
            hash: "h2",
            body: { case: "budget", value: create(BudgetSchema, { id: "bgt_bad", organizationId: "org_1", scope: 4, scopeId: "vk_active", unit: 3, window: 1, limit: 5n, mode: 1, enforcement: 1 }) },
          }),
        ],
        removals: ["virtualKey/vk_paused"],
      }),
    );
    streams[0]?.write(
      create(PolicyUpdateSchema, {
        version: 6n,
        nonce: "nonce-2b",
        // A broken new version of a held key: NACKed, its last good version kept.
        upserts: [create(ResourceSchema, { key: "virtualKey/vk_active", hash: "broken", body: { case: "virtualKey", value: create(VirtualKeySchema, { id: "", organizationId: "org_1" }) } })],
      }),
    );
    await waitFor(() => received.length === 4);
    const partial = received[3]?.msg;
    if (partial?.case !== "ack") throw new Error("no ack");
    expect(partial.value.nacks.map((n) => n.key)).toEqual(["virtualKey/vk_active"]);
    expect(store.current()?.index.virtualKey("vk_active")?.name).toBe("active");
    expect(store.heldResources().find((r) => r.key === "virtualKey/vk_active")?.hash).not.toBe("broken");
    expect(store.heldVersion()).toBe(6n);
    expect(store.current()?.index.budget("bgt_bad")?.limit).toBe(5n);
    expect(store.current()?.index.virtualKey("vk_paused")).toBeNull();

    // An older update is ignored (and acknowledged at the version held).
    streams[0]?.write(create(PolicyUpdateSchema, { version: 4n, nonce: "nonce-old", removals: ["virtualKey/vk_active"] }));
    await waitFor(() => received.length === 5);
    const oldAck = received[4]?.msg;
    if (oldAck?.case !== "ack") throw new Error("no ack");
    expect(oldAck.value.version).toBe(6n);
    expect(store.current()?.index.virtualKey("vk_active")).not.toBeNull();

    // The stream breaks: the node reconnects and says what it holds.
    streams[0]?.end();
    await waitFor(() => streams.length === 2, 10_000);
    await waitFor(() => received.length === 6);
    const again = received[5]?.msg;
    if (again?.case !== "hello") throw new Error("no hello");
    expect(again.value.heldVersion).toBe(6n);
    expect(again.value.held.map((h) => h.key)).toContain("budget/bgt_bad");
    expect(again.value.held.map((h) => h.key)).not.toContain("virtualKey/vk_paused");
    expect(store.current()).not.toBeNull();
  });
});
