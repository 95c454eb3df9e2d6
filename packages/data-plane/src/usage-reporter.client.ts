/**
 * Sends spooled usage records to the control plane (`UsageService.ReportUsage`) in batches of at
 * most 500, oldest segment first, and deletes a segment only when every record in it was
 * acknowledged. Delivery is at-least-once (the control plane dedupes by request id); while the
 * control plane is unreachable it backs off (200 ms .. 5 s, jittered) and keeps the spool.
 * A batch also stays under `MAX_BATCH_BYTES`. Nothing in a segment can stall it: a frame that does
 * not decode or is larger than `MAX_RECORD_BYTES` is quarantined at once; a batch the control
 * plane refuses as such (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, OUT_OF_RANGE: retrying the same bytes
 * cannot help) is sent again one record at a time, and a record refused `MAX_REFUSALS` times in a
 * row is quarantined. Each quarantine is logged and counted (`spool.quarantinedRecords`).
 */
import { create } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { UsageBatchSchema, type UsageRecord } from "@tollgate/proto";
import type { Logger } from "pino";
import { computeBackoffMs, sleep } from "./backoff.js";
import type { ControlPlaneLink } from "./control-plane-link.js";
import { decodeSpoolFrame, MAX_RECORD_BYTES, type UsageSpool } from "./usage-spool.js";

/** What the reporter needs. */
export interface UsageReporterOptions {
  readonly spool: UsageSpool;
  readonly link: ControlPlaneLink;
  readonly nodeId: string;
  readonly bootId: string;
  readonly logger: Logger;
  readonly random: () => number;
  /** At most 500. */
  readonly batchSize?: number;
  readonly callTimeoutMs?: number;
  /** Pause between polls of an empty spool. */
  readonly idleMs?: number;
}

/** Records decoded per turn of the event loop: a batch never blocks requests for more than a fraction of a millisecond. */
const DECODE_SLICE = 50;
/** Encoded bytes of one batch at most (well under the control plane's 4 MiB message limit). */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** Refusals of one record, sent alone, before it is quarantined. */
export const MAX_REFUSALS = 3;
/** gRPC statuses by which the control plane refuses a batch's content (the same bytes will be refused again). */
const CONTENT_REFUSALS: ReadonlySet<number> = new Set([GrpcStatus.INVALID_ARGUMENT, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.OUT_OF_RANGE]);

/** The next batch of a segment: decoded records with their frames, and frames that can never be sent. */
interface NextBatch {
  readonly records: UsageRecord[];
  readonly frames: Buffer[];
  readonly undeliverable: Array<{ frame: Buffer; reason: "undecodable" | "oversized" }>;
  /** Frames of the segment this batch covers (sendable or not). */
  readonly covered: number;
}

/** Decodes up to `max` frames from `from` (at most `MAX_BATCH_BYTES`), yielding to the event loop every `DECODE_SLICE` frames. */
async function nextBatch(encoded: readonly Buffer[], from: number, max: number): Promise<NextBatch> {
  const records: UsageRecord[] = [];
  const frames: Buffer[] = [];
  const undeliverable: NextBatch["undeliverable"] = [];
  let bytes = 0;
  let at = from;
  while (at < encoded.length && records.length < max) {
    const frame = encoded[at] as Buffer;
    if (records.length > 0 && bytes + frame.length > MAX_BATCH_BYTES) break;
    if ((at - from) % DECODE_SLICE === DECODE_SLICE - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    at++;
    if (frame.length > MAX_RECORD_BYTES) {
      undeliverable.push({ frame, reason: "oversized" });
      continue;
    }
    try {
      records.push(decodeSpoolFrame(frame));
    } catch {
      undeliverable.push({ frame, reason: "undecodable" });
      continue;
    }
    frames.push(frame);
    bytes += frame.length;
  }
  return { records, frames, undeliverable, covered: at - from };
}

function grpcCodeOf(err: unknown): number | null {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : null;
}

/** The background sender of the usage spool. */
export class UsageReporter {
  private readonly batchSize: number;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  /** Per segment: how many leading records were acknowledged (so a retry resumes there). */
  private readonly progress = new Map<number, number>();
  private sending: Promise<void> = Promise.resolve();
  private failures = 0;
  /** Segments sent one record at a time since the control plane refused one of their batches. */
  private readonly isolating = new Set<number>();
  /** Consecutive refusals of the record sent alone at (segment, index). */
  private refused = { segment: -1, index: -1, count: 0 };
  /** Records acknowledged since start. */
  acknowledged = 0;

  /** See `UsageReporterOptions`. */
  constructor(private readonly options: UsageReporterOptions) {
    this.batchSize = Math.min(500, Math.max(1, options.batchSize ?? 500));
  }

  /** Starts the background loop (replaying whatever an earlier run left on disk first). */
  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  /** Rolls the active segment and tries once to send everything spooled; true when all was acknowledged. */
  async flushOnce(): Promise<boolean> {
    await this.options.spool.roll();
    return this.exclusive(() => this.sendReady());
  }

  /** Stops the loop (an in-flight batch completes or fails). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const allSent = await this.exclusive(() => this.sendReady()).catch((err: unknown) => {
        this.options.logger.error({ err: { message: err instanceof Error ? err.message : String(err) } }, "usage reporter failed; will retry");
        return false;
      });
      if (allSent) {
        this.failures = 0;
        await sleep(this.options.idleMs ?? 250, signal);
      } else {
        await sleep(computeBackoffMs(this.failures++, this.options.random), signal);
      }
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.sending.then(fn);
    this.sending = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Sends every closed segment; false at the first failure. */
  private async sendReady(): Promise<boolean> {
    for (const id of this.options.spool.readySegments()) {
      if (!(await this.sendSegment(id))) return false;
    }
    return true;
  }

  private async sendSegment(id: number): Promise<boolean> {
    const { spool, link, nodeId, bootId, logger } = this.options;
    // Records are decoded a batch at a time: a whole segment of decoded records would stay alive
    // (and be promoted to the old generation) for the length of every batch's round trip.
    let encoded: Buffer[];
    try {
      encoded = await spool.readSegmentEncoded(id);
    } catch (err) {
      logger.error({ err, segment: id }, "cannot read usage spool segment");
      return false;
    }
    let done = this.progress.get(id) ?? 0;
    while (done < encoded.length) {
      const batch = await nextBatch(encoded, done, this.isolating.has(id) ? 1 : this.batchSize);
      if (batch.records.length > 0) {
        try {
          await link.current().reportUsage(create(UsageBatchSchema, { nodeId, bootId, records: batch.records }), this.options.callTimeoutMs ?? 10_000);
          this.acknowledged += batch.records.length;
        } catch (err) {
          const code = grpcCodeOf(err);
          if (code === null || !CONTENT_REFUSALS.has(code)) {
            logger.warn({ err: { message: (err as Error).message }, segment: id }, "usage report failed; will retry");
            return false;
          }
          const next = this.onRefused(id, done, batch, (err as Error).message);
          if (next === "back off") return false;
          if (next === "isolate") continue;
          await this.quarantine(id, batch.frames, "refused");
        }
      }
      // Frames that can never be sent are set aside once the batch around them is settled.
      for (const reason of ["undecodable", "oversized"] as const) {
        const frames = batch.undeliverable.filter((u) => u.reason === reason).map((u) => u.frame);
        if (frames.length > 0) await this.quarantine(id, frames, reason);
      }
      done += batch.covered;
      this.progress.set(id, done);
    }
    await spool.deleteSegment(id);
    this.progress.delete(id);
    this.isolating.delete(id);
    return true;
  }

  /**
   * The control plane refused a batch's content: from here the segment goes one record at a time
   * ("isolate"); a record refused alone is tried again after a back-off, and quarantined
   * ("quarantine") at its `MAX_REFUSALS`th refusal in a row.
   */
  private onRefused(id: number, done: number, batch: NextBatch, message: string): "isolate" | "back off" | "quarantine" {
    if (batch.records.length > 1 || !this.isolating.has(id)) {
      this.isolating.add(id);
      this.options.logger.warn({ segment: id, records: batch.records.length, err: { message } }, "usage batch refused; sending its records one at a time");
      return "isolate";
    }
    const same = this.refused.segment === id && this.refused.index === done;
    this.refused = { segment: id, index: done, count: same ? this.refused.count + 1 : 1 };
    return this.refused.count < MAX_REFUSALS ? "back off" : "quarantine";
  }

  private async quarantine(id: number, frames: readonly Buffer[], reason: "undecodable" | "oversized" | "refused"): Promise<void> {
    const kept = await this.options.spool.quarantine(id, frames).catch(() => false);
    this.options.logger.error({ segment: id, records: frames.length, reason, keptOnDisk: kept }, "usage records quarantined: they can never be delivered");
  }

  /**
   * Shutdown: sends everything spooled, retrying (200 ms apart) until all is acknowledged or
   * `timeoutMs` has passed; true when all was. Call after `stop()`. What is not acknowledged stays
   * in the spool for the next start.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), left);
      });
      const outcome = await Promise.race([this.flushOnce().catch(() => false), expired]);
      clearTimeout(timer);
      if (outcome === true) return true;
      if (outcome === "expired") return false;
      await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
    }
  }
}
