/**
 * The on-disk usage spool: append-only segment files of length-prefixed `UsageRecord`s
 * (`u32be length | toBinary(UsageRecordSchema, r)`), under `<dir>/seg-<n>.log`.
 * The active segment rolls at `segmentMaxBytes` or `segmentMaxAgeMs`; closed segments are read by
 * the reporter and deleted once every record in them was acknowledged. Leftover segments from an
 * earlier run are closed at open and replayed. Past `maxBytes` the spool is full.
 *
 * A write that fails (disk error, directory gone) loses nothing: its records stay in memory, in
 * order, and are written again every WRITE_RETRY_MS until a write succeeds. While any record is
 * unwritten the spool says it is unavailable (`isFull`), so the request path refuses billable
 * requests before they go upstream (503 `usage_unavailable`) instead of spending budget it could
 * not report: spend whose record is unwritten is never forgotten, and the node's ledger keeps it.
 * Records still unwritten at `close` (the disk never came back) are counted in `lostRecords`.
 */
import { appendFile, mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { createMessageEncoder, UsageRecordSchema, type UsageRecord } from "@tollgate/proto";

/** Thrown by `append` when the spool cannot take a record (full or closed, or a disk error). */
export class SpoolUnavailableError extends Error {
  override readonly name = "SpoolUnavailableError";
}

/** Spool limits. */
export interface UsageSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentMaxBytes?: number;
  readonly segmentMaxAgeMs?: number;
  /** Epoch-ms clock (for segment age). */
  readonly now: () => number;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  bytes: number;
  records: number;
}

interface Active extends Segment {
  readonly handle: FileHandle;
  readonly openedAt: number;
}

interface PendingWrite {
  readonly bytes: Buffer;
  readonly done: (err: Error | null) => void;
}

/** Bytes the quarantine directory may hold; past that, quarantined records are dropped (and logged by the caller). */
export const QUARANTINE_MAX_BYTES = 16 * 1024 * 1024;
/** Largest frame a node sends (its own records are a few KiB: every string is bounded); larger ones are quarantined. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** After a failed write, the records are kept in memory and written again after this long (and again, until it succeeds). */
export const WRITE_RETRY_MS = 1_000;
const SEGMENT_RE = /^seg-(\d{12})\.log$/;
const segmentName = (id: number): string => `seg-${String(id).padStart(12, "0")}.log`;

/** Decodes a segment's bytes; a truncated tail (a crash mid-write) is ignored. */
export function decodeSegment(bytes: Buffer): UsageRecord[] {
  return splitSegment(bytes).map(decodeSpoolFrame);
}

/** The encoded records of a segment's bytes, undecoded (views into `bytes`); a truncated tail is ignored. */
export function splitSegment(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const len = bytes.readUInt32BE(at);
    if (at + 4 + len > bytes.length) break;
    out.push(bytes.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/** Decodes one encoded record of `splitSegment`. */
export function decodeSpoolFrame(encoded: Uint8Array): UsageRecord {
  return fromBinary(UsageRecordSchema, encoded);
}

/** The record encoder compiled from the schema (stateless; the same bytes as `toBinary`). */
const encodeUsageRecord = createMessageEncoder(UsageRecordSchema);

/** Encodes one record as a length-prefixed frame. */
export function encodeSpoolFrame(record: UsageRecord): Buffer {
  return frameOf(encodeUsageRecord(record));
}

/** `u32be length | body`. */
function frameOf(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, 4);
  return frame;
}

/** An append-only, size-capped usage spool. Create with `openUsageSpool`. */
export class UsageSpool {
  private readonly closedSegments = new Map<number, Segment>();
  private active: Active | null = null;
  private nextId: number;
  private queue: PendingWrite[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  private readonly segmentMaxBytes: number;
  private readonly segmentMaxAgeMs: number;
  private readonly rollTimer: NodeJS.Timeout;
  private heldBytes = 0;
  private heldRecords = 0;
  /** Records whose write failed, waiting for the retry (in order, ahead of newer ones). */
  private unwritten = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private quarantineBytes: number | null = null;
  /** Records moved to quarantine since start (kept on disk or dropped past the cap). */
  quarantinedRecords = 0;
  /** Records that could not be written before `close` (the disk never recovered): lost with the process. */
  lostRecords = 0;

  /** Use `openUsageSpool`. */
  constructor(
    private readonly options: UsageSpoolOptions,
    leftovers: readonly Segment[],
  ) {
    for (const s of leftovers) {
      this.closedSegments.set(s.id, s);
      this.heldBytes += s.bytes;
      this.heldRecords += s.records;
    }
    this.nextId = leftovers.reduce((m, s) => Math.max(m, s.id), 0) + 1;
    this.segmentMaxBytes = options.segmentMaxBytes ?? 1024 * 1024;
    this.segmentMaxAgeMs = options.segmentMaxAgeMs ?? 1000;
    this.rollTimer = setInterval(() => void this.rollIfOld(), Math.max(50, Math.floor(this.segmentMaxAgeMs / 2)));
    this.rollTimer.unref();
  }

  /** Bytes held (on disk or being written), not yet deleted. */
  get totalBytes(): number {
    return this.heldBytes;
  }

  /** Records held (on disk or being written), not yet deleted (not yet acknowledged). */
  get recordCount(): number {
    return this.heldRecords;
  }

  /**
   * True when the spool is (nearly) at its cap, closed, or holds records whose write failed and
   * is not yet retried successfully: billable requests are refused up front.
   */
  isFull(): boolean {
    // Keep headroom so requests admitted now can still spool their records when they finish.
    const headroom = Math.min(64 * 1024, Math.floor(this.options.maxBytes / 8));
    return this.closed || this.heldBytes >= this.options.maxBytes - headroom || this.unwritten > 0;
  }

  /** Records held in memory after a failed write, until a retry writes them. */
  get unwrittenRecords(): number {
    return this.unwritten;
  }

  /**
   * Appends a record to the active segment. Resolves once it is written, or kept in memory after
   * a failed write (the spool retries it and is unavailable meanwhile); rejects with
   * `SpoolUnavailableError` only when the spool is closed or full (the record was not taken).
   */
  append(record: UsageRecord): Promise<void> {
    const bytes = encodeSpoolFrame(record);
    if (this.closed) return Promise.reject(new SpoolUnavailableError("usage spool is closed"));
    if (this.totalBytes + bytes.length > this.options.maxBytes) {
      return Promise.reject(new SpoolUnavailableError("usage spool is full"));
    }
    this.heldBytes += bytes.length;
    this.heldRecords += 1;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.flushing) this.flushing = this.drain();
    });
  }

  /** Ids of closed segments ready to report, oldest first. */
  readySegments(): number[] {
    return [...this.closedSegments.keys()].sort((a, b) => a - b);
  }

  /** Reads a closed segment's records. */
  async readSegment(id: number): Promise<UsageRecord[]> {
    return (await this.readSegmentEncoded(id)).map(decodeSpoolFrame);
  }

  /** Reads a closed segment's records still encoded (decode them with `decodeSpoolFrame`, a batch at a time). */
  async readSegmentEncoded(id: number): Promise<Buffer[]> {
    const s = this.closedSegments.get(id);
    if (!s) return [];
    return splitSegment(await readFile(s.path));
  }

  /** Deletes a closed segment once all its records were acknowledged. */
  async deleteSegment(id: number): Promise<void> {
    const s = this.closedSegments.get(id);
    if (!s) return;
    this.closedSegments.delete(id);
    this.heldBytes -= s.bytes;
    this.heldRecords -= s.records;
    await unlink(s.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  /**
   * Moves undeliverable records of segment `id` aside: appended (framed like a segment) to
   * `quarantine/seg-<id>.bad`, unless the quarantine holds `QUARANTINE_MAX_BYTES` already.
   * Resolves to true when kept on disk, false when dropped. Counts them either way.
   */
  async quarantine(id: number, frames: readonly Uint8Array[]): Promise<boolean> {
    this.quarantinedRecords += frames.length;
    const dir = join(this.options.dir, "quarantine");
    await mkdir(dir, { recursive: true });
    if (this.quarantineBytes === null) {
      let total = 0;
      for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
      this.quarantineBytes = total;
    }
    const bytes = Buffer.concat(frames.map(frameOf));
    if (this.quarantineBytes + bytes.length > QUARANTINE_MAX_BYTES) return false;
    await appendFile(join(dir, `${segmentName(id).replace(/\.log$/, "")}.bad`), bytes, { mode: 0o600 });
    this.quarantineBytes += bytes.length;
    return true;
  }

  /** Closes the active segment now (after pending appends) so its records become reportable. */
  async roll(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.closeActive();
  }

  /** Writes the records kept after a failed write now (the next retry, without waiting for it); resolves when that attempt ends. */
  async retryUnwritten(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length > 0) {
      this.flushing = this.drain();
      await this.flushing;
    }
  }

  private async closeActive(): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = null;
    await a.handle.close();
    if (a.records > 0) this.closedSegments.set(a.id, { id: a.id, path: a.path, bytes: a.bytes, records: a.records });
    else await unlink(a.path).catch(() => undefined);
  }

  /** Stops taking records, writes what is pending and closes the active segment. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.rollTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.retryUnwritten();
    this.lostRecords += this.queue.length;
    this.queue = [];
    await this.roll();
  }

  private async rollIfOld(): Promise<void> {
    const a = this.active;
    if (a && a.records > 0 && this.options.now() - a.openedAt >= this.segmentMaxAgeMs) {
      await this.roll().catch(() => undefined);
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const a = await this.ensureActive();
          const bytes = Buffer.concat(batch.map((w) => w.bytes));
          await a.handle.write(bytes);
          a.bytes += bytes.length;
          a.records += batch.length;
          this.unwritten = 0;
          for (const w of batch) w.done(null);
          if (a.bytes >= this.segmentMaxBytes) await this.closeActive();
        } catch {
          // Nothing is dropped: the batch goes back ahead of newer records, the spool is
          // unavailable until a retry writes it, and the appenders learn their record is kept.
          await this.closeActive().catch(() => undefined);
          this.queue = batch.concat(this.queue);
          this.unwritten = this.queue.length;
          for (const w of batch) w.done(null);
          this.scheduleRetry();
          return;
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** Writes the kept records again after WRITE_RETRY_MS (once at a time). */
  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.flushing && this.queue.length > 0) this.flushing = this.drain();
    }, WRITE_RETRY_MS);
    this.retryTimer.unref();
  }

  private async ensureActive(): Promise<Active> {
    if (this.active) return this.active;
    const id = this.nextId++;
    const path = join(this.options.dir, segmentName(id));
    const handle = await open(path, "a", 0o600);
    this.active = { id, path, bytes: 0, records: 0, handle, openedAt: this.options.now() };
    return this.active;
  }
}

/** Opens (creating) the spool directory; segments left by an earlier run are closed and replayable. */
export async function openUsageSpool(options: UsageSpoolOptions): Promise<UsageSpool> {
  await mkdir(options.dir, { recursive: true });
  const leftovers: Segment[] = [];
  for (const name of await readdir(options.dir)) {
    const m = SEGMENT_RE.exec(name);
    if (!m?.[1]) continue;
    const path = join(options.dir, name);
    const bytes = (await stat(path)).size;
    // Counted, not decoded: a frame that does not decode is the reporter's to quarantine, never a reason not to start.
    const records = bytes === 0 ? 0 : splitSegment(await readFile(path)).length;
    if (records === 0) {
      await unlink(path);
      continue;
    }
    leftovers.push({ id: Number(m[1]), path, bytes, records });
  }
  return new UsageSpool(options, leftovers);
}
