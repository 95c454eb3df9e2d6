import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Outcome, UsageRecordSchema, type UsageRecord } from "@tollgate/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneLink } from "./control-plane-link.js";
import { addUsageService, createFakeUsageService, silentLogger, startLoopbackServer, waitFor, type LoopbackServer } from "./grpc.fixture.js";
import { UsageReporter } from "./usage-reporter.client.js";
import { SpoolUnavailableError, WRITE_RETRY_MS, openUsageSpool } from "./usage-spool.js";

const record = (i: number): UsageRecord =>
  create(UsageRecordSchema, { requestId: `req_${i}`, nodeId: "n1", bootId: "b1", sequence: BigInt(i), virtualKeyId: "vk_1", outcome: Outcome.SUCCESS, costMicros: BigInt(i * 10) });

describe("usage spool and reporter", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "tg-spool-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it("appends, rolls, and replays segments left by an earlier run", async () => {
    const dir = await tempDir();
    const spool = await openUsageSpool({ dir, maxBytes: 1_000_000, now: Date.now, segmentMaxBytes: 200 });
    for (let i = 1; i <= 10; i++) await spool.append(record(i));
    expect(spool.recordCount).toBe(10);
    await spool.close();
    expect((await readdir(dir)).length).toBeGreaterThan(1);

    const reopened = await openUsageSpool({ dir, maxBytes: 1_000_000, now: Date.now });
    const ids = reopened.readySegments();
    const replayed = (await Promise.all(ids.map((id) => reopened.readSegment(id)))).flat();
    expect(replayed.map((r) => r.requestId)).toEqual(Array.from({ length: 10 }, (_, i) => `req_${i + 1}`));
    expect(reopened.recordCount).toBe(10);
    await reopened.close();
  });

  it("refuses appends past its size cap", async () => {
    const dir = await tempDir();
    const spool = await openUsageSpool({ dir, maxBytes: 400, now: Date.now });
    await spool.append(record(1));
    await spool.append(record(2));
    let last: unknown = null;
    for (let i = 3; i < 40 && last === null; i++) await spool.append(record(i)).catch((err: unknown) => (last = err));
    expect(last).toBeInstanceOf(SpoolUnavailableError);
    expect(spool.totalBytes).toBeLessThanOrEqual(400);
    expect(spool.recordCount).toBeGreaterThanOrEqual(2);
    expect(spool.isFull()).toBe(true);
    await spool.close();
  });

  it("keeps the records of a failed write in memory, is unavailable until a retry writes them, and loses none", async () => {
    const dir = await tempDir();
    const spool = await openUsageSpool({ dir, maxBytes: 1_000_000, now: Date.now });
    // The disk goes away under the spool: the next segment cannot be opened.
    await rm(dir, { recursive: true, force: true });
    await spool.append(record(2));
    await spool.append(record(3));
    expect(spool.isFull()).toBe(true);
    expect(spool.unwrittenRecords).toBe(2);
    await mkdir(dir, { recursive: true });
    // The retry runs on its own, within WRITE_RETRY_MS.
    await waitFor(() => !spool.isFull(), WRITE_RETRY_MS * 3);
    expect(spool.unwrittenRecords).toBe(0);
    await spool.roll();
    const written = (await Promise.all(spool.readySegments().map((id) => spool.readSegment(id)))).flat();
    expect(written.map((r) => r.requestId)).toContain("req_2");
    expect(written.map((r) => r.requestId)).toContain("req_3");
    expect(spool.lostRecords).toBe(0);
    await spool.close();
  });

  it("counts the records it could never write as lost at close", async () => {
    const dir = await tempDir();
    const spool = await openUsageSpool({ dir, maxBytes: 1_000_000, now: Date.now });
    await rm(dir, { recursive: true, force: true });
    await spool.append(record(1));
    expect(spool.isFull()).toBe(true);
    await spool.close();
    expect(spool.lostRecords).toBe(1);
  });

  it("reports in batches of at most 500 and deletes a segment only after every record was ACKed", async () => {
    const dir = await tempDir();
    const fake = createFakeUsageService();
    fake.failing = true;
    const server: LoopbackServer = await startLoopbackServer((s) => addUsageService(s, fake));
    cleanups.push(() => server.close());
    const link = createControlPlaneLink([server.address], "tok");
    cleanups.push(async () => link.close());

    // An earlier run left 1200 records on disk.
    const first = await openUsageSpool({ dir, maxBytes: 10_000_000, now: Date.now });
    for (let i = 1; i <= 1200; i++) void first.append(record(i));
    await first.close();

    const spool = await openUsageSpool({ dir, maxBytes: 10_000_000, now: Date.now, segmentMaxAgeMs: 100 });
    const reporter = new UsageReporter({ spool, link, nodeId: "n1", bootId: "b2", logger: silentLogger, random: () => 0, idleMs: 20 });
    reporter.start();
    cleanups.push(async () => {
      await reporter.stop();
      await spool.close();
    });
    await new Promise((r) => setTimeout(r, 400));
    // Control plane down: nothing acknowledged, nothing deleted.
    expect(fake.batches).toHaveLength(0);
    expect((await readdir(dir)).filter((f) => f.endsWith(".log")).length).toBeGreaterThan(0);
    expect(spool.recordCount).toBe(1200);

    // Up again, but it fails after the first batch: the segment stays until all of it is ACKed.
    fake.onBatch = () => {
      if (fake.batches.length === 1) fake.failing = true;
    };
    fake.failing = false;
    await waitFor(() => fake.batches.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.batches).toHaveLength(1);
    expect(spool.recordCount).toBe(1200);
    expect((await readdir(dir)).filter((f) => f.endsWith(".log")).length).toBeGreaterThan(0);

    fake.failing = false;
    await spool.append(record(1201));
    await waitFor(() => spool.recordCount === 0, 10_000);
    const sent = fake.batches.flatMap((b) => b.records.map((r) => r.requestId));
    expect(new Set(sent).size).toBe(1201);
    expect(sent).toHaveLength(1201);
    expect(Math.max(...fake.batches.map((b) => b.records.length))).toBeLessThanOrEqual(500);
    expect(fake.batches.every((b) => b.nodeId === "n1" && b.bootId === "b2")).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith(".log"))).toEqual([]);
  });
});
