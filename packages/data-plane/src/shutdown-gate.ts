/**
 * A node's graceful shutdown as the request path sees it: once draining, the node reports itself
 * not ready and refuses new requests; streams still open at the grace deadline are ended by their
 * relay (with the protocol's error event, then settled); every usage record being spooled is
 * tracked, so the node flushes its spool only after the last one was written.
 */

/** Pause between checks while waiting for settlements to finish (a cut request needs a few ticks to reach its settlement). */
const SETTLE_POLL_MS = 50;

/** The shutdown state shared by the HTTP app, the stream relay and the node's `close()`. */
export class ShutdownGate {
  private notReady = false;
  private drainingSince: number | null = null;
  private readonly streams = new Set<() => void>();
  private readonly pending = new Set<Promise<unknown>>();

  /** True once `beginDrain` was called: new requests are refused. */
  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** True once `announce` or `beginDrain` was called: `/readyz` answers 503. */
  get stopping(): boolean {
    return this.notReady;
  }

  /** Turns readiness false while requests are still served (so load balancers stop sending first). */
  announce(): void {
    this.notReady = true;
  }

  /** Streams currently open. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Starts draining: readiness turns false and new requests are refused (idempotent). */
  beginDrain(now = Date.now()): void {
    this.notReady = true;
    this.drainingSince ??= now;
  }

  /** Registers an open stream; `end` is called at the grace deadline. Returns the function to call once the stream ended and settled. */
  openStream(end: () => void): () => void {
    this.streams.add(end);
    return () => {
      this.streams.delete(end);
    };
  }

  /** The grace deadline: asks every open stream to end; returns how many were asked. */
  endStreams(): number {
    const ends = [...this.streams];
    for (const end of ends) end();
    return ends.length;
  }

  /** Tracks a usage record being spooled, so `settled` waits for it. */
  track(work: Promise<unknown>): void {
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
  }

  /** Resolves true once no stream is open and no record is being spooled, or false after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      if (this.streams.size === 0 && this.pending.size === 0) return true;
      if (Date.now() >= deadline) return false;
      if (this.pending.size > 0) await Promise.race([Promise.all(this.pending), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    }
  }
}
