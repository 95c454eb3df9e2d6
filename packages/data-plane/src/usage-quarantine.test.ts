/**
 * A spool segment that can never be fully delivered does not stall the reporter: undecodable and
 * oversized frames are quarantined at once, a record the control plane refuses as such is isolated
 * and quarantined after `MAX_REFUSALS` tries, the good records around them are delivered, the
 * segment is deleted, and the reporter goes idle instead of looping. An unreachable control plane
 * still quarantines nothing.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Outcome, UsageAckSchema, UsageRecordSchema, usageServiceDefinition, type UsageBatch, type UsageRecord, type UsageServiceHandlers } from "@tollgate/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneLink } from "./control-plane-link.js";
import { silentLogger, startLoopbackServer, waitFor } from "./grpc.fixture.js";
import { createDataPlaneMetrics } from "./metrics.js";
import { MAX_REFUSALS, UsageReporter } from "./usage-reporter.client.js";
import { MAX_RECORD_BYTES, openUsageSpool, splitSegment, type UsageSpool } from "./usage-spool.js";

const record = (id: string): UsageRecord => create(UsageRecordSchema, { requestId: id, nodeId: "n1", bootId: "b1", organizationId: "org_1", outcome: Outcome.SUCCESS });
const frame = (body: Uint8Array): Buffer => {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
};
/** Field 1 with wire type 7: no protobuf decoder accepts it. */
const UNDECODABLE = Buffer.from([0x0f, 0x01, 0x02]);
/** `model` (field 12) holding bytes that are not UTF-8: refused by the decoder too. */
const NOT_UTF8 = Buffer.from([0x62, 0x02, 0xff, 0xfe]);

/** A usage service that refuses (with `code`) every batch holding a request id of `poisoned`, and answers UNAVAILABLE while `down`. */
function refusingService(poisoned: ReadonlySet<string>, code: grpc.status) {
  const state = { calls: 0, down: false, stored: [] as string[], batches: [] as UsageBatch[] };
  const handlers: UsageServiceHandlers = {
    reportUsage: (call, callback) => {
      state.calls++;
      if (state.down) return callback({ code: grpc.status.UNAVAILABLE, details: "down" } as grpc.ServiceError, null);
      const ids = call.request.records.map((r) => r.requestId);
      if (ids.some((id) => poisoned.has(id))) return callback({ code, details: "refused for the test" } as grpc.ServiceError, null);
      state.batches.push(call.request);
      state.stored.push(...ids);
      callback(null, create(UsageAckSchema, { accepted: ids.length }));
    },
  };
  return { state, handlers };
}

describe("usage reporter with an undeliverable spool", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(segment: Buffer, poisoned: ReadonlySet<string>, code = grpc.status.INVALID_ARGUMENT) {
    const dir = await mkdtemp(join(tmpdir(), "tg-quarantine-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "seg-000000000001.log"), segment);
    const service = refusingService(poisoned, code);
    const server = await startLoopbackServer((s) => s.addService(usageServiceDefinition, service.handlers));
    cleanups.push(() => server.close());
    const link = createControlPlaneLink([server.address], "tok");
    cleanups.push(async () => link.close());
    // A leftover segment with undecodable frames must not keep the node from starting.
    const spool: UsageSpool = await openUsageSpool({ dir, maxBytes: 10_000_000, now: Date.now });
    const reporter = new UsageReporter({ spool, link, nodeId: "n1", bootId: "b2", logger: silentLogger, random: () => 0, idleMs: 20 });
    cleanups.push(async () => {
      await reporter.stop();
      await spool.close();
    });
    return { dir, spool, reporter, service: service.state };
  }

  it("quarantines undecodable and oversized frames, delivers the rest, deletes the segment and goes idle", async () => {
    const oversized = Buffer.alloc(MAX_RECORD_BYTES + 1, 0x41);
    const segment = Buffer.concat([frame(toBinary(UsageRecordSchema, record("req_1"))), frame(UNDECODABLE), frame(oversized), frame(NOT_UTF8), frame(toBinary(UsageRecordSchema, record("req_2")))]);
    const { dir, spool, reporter, service } = await setUp(segment, new Set());
    expect(spool.recordCount).toBe(5);
    reporter.start();
    await waitFor(() => spool.recordCount === 0);
    expect(service.stored).toEqual(["req_1", "req_2"]);
    expect(spool.quarantinedRecords).toBe(3);
    const kept = splitSegment(await readFile(join(dir, "quarantine", "seg-000000000001.bad")));
    expect(kept.map((f) => f.length).sort((a, b) => a - b)).toEqual([UNDECODABLE.length, NOT_UTF8.length, oversized.length]);
    expect((await readdir(dir)).filter((f) => f.endsWith(".log"))).toEqual([]);
    const calls = service.calls;
    await new Promise((r) => setTimeout(r, 300));
    expect(service.calls).toBe(calls);

    const metrics = createDataPlaneMetrics({ policyVersion: () => 0n, spoolRecords: () => spool.recordCount, spoolQuarantined: () => spool.quarantinedRecords, controlPlaneConnected: () => true });
    expect(await metrics.registry.metrics()).toContain("tollgate_usage_quarantined_records_total 3");
  });

  it("isolates a record the control plane refuses, quarantines it after bounded tries and delivers the others exactly once", async () => {
    const ids = ["req_a", "req_b", "req_poison", "req_c", "req_d"];
    const segment = Buffer.concat(ids.map((id) => frame(toBinary(UsageRecordSchema, record(id)))));
    const { dir, spool, reporter, service } = await setUp(segment, new Set(["req_poison"]));
    reporter.start();
    await waitFor(() => spool.recordCount === 0, 15_000);
    expect([...service.stored].sort()).toEqual(["req_a", "req_b", "req_c", "req_d"]);
    expect(spool.quarantinedRecords).toBe(1);
    // One refused batch, then one call per record, the poisoned one MAX_REFUSALS times.
    expect(service.calls).toBe(1 + 4 + MAX_REFUSALS);
    const [kept] = splitSegment(await readFile(join(dir, "quarantine", "seg-000000000001.bad")));
    expect(kept && Buffer.from(kept).equals(Buffer.from(toBinary(UsageRecordSchema, record("req_poison"))))).toBe(true);
    const calls = service.calls;
    await new Promise((r) => setTimeout(r, 300));
    expect(service.calls).toBe(calls);
  });

  it("quarantines nothing while the control plane is unreachable", async () => {
    const segment = Buffer.concat(["req_1", "req_2"].map((id) => frame(toBinary(UsageRecordSchema, record(id)))));
    const { spool, reporter, service } = await setUp(segment, new Set());
    service.down = true;
    reporter.start();
    await waitFor(() => service.calls >= MAX_REFUSALS + 2, 15_000);
    expect(spool.quarantinedRecords).toBe(0);
    expect(spool.recordCount).toBe(2);
    service.down = false;
    await waitFor(() => spool.recordCount === 0, 15_000);
    expect(service.stored).toEqual(["req_1", "req_2"]);
  });
});
