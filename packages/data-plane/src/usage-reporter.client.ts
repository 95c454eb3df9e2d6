/**
 * Sends spooled usage records to the control plane (`UsageService.ReportUsage`) in batches of at
 * most 500, oldest segment first, and deletes a segment only when every record in it was
 * acknowledged. Delivery is at-least-once (the control plane dedupes by request id); while the
 * control plane is unreachable it backs off (200 ms .. 5 s, jittered) and keeps the spool.
 */
import { create } from "@bufbuild/protobuf";
import { UsageBatchSchema, type UsageRecord } from "@tollgate/proto";
import type { Logger } from "pino";
import { computeBackoffMs, sleep } from "./backoff.js";
import type { ControlPlaneLink } from "./control-plane-link.js";
import { decodeSpoolFrame, type UsageSpool } from "./usage-spool.js";

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

/** Decodes encoded records, yielding to the event loop every `DECODE_SLICE` records. */
async function decodeYielding(encoded: readonly Buffer[]): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (i > 0 && i % DECODE_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    out.push(decodeSpoolFrame(encoded[i] as Buffer));
  }
  return out;
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
      const allSent = await this.exclusive(() => this.sendReady());
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
    let records: Buffer[];
    try {
      records = await spool.readSegmentEncoded(id);
    } catch (err) {
      logger.error({ err, segment: id }, "cannot read usage spool segment");
      return false;
    }
    let done = this.progress.get(id) ?? 0;
    while (done < records.length) {
      const batch = await decodeYielding(records.slice(done, done + this.batchSize));
      try {
        await link.current().reportUsage(create(UsageBatchSchema, { nodeId, bootId, records: batch }), this.options.callTimeoutMs ?? 10_000);
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message }, segment: id }, "usage report failed; will retry");
        return false;
      }
      done += batch.length;
      this.acknowledged += batch.length;
      this.progress.set(id, done);
    }
    await spool.deleteSegment(id);
    this.progress.delete(id);
    return true;
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
