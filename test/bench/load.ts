/**
 * The benchmark's load generators, timing every request with hrtime (µs precision):
 * - closed loop (`runLoad`): `connections` loops each send the same request back to back; the
 *   rate adapts to the server, so a stall delays the next requests instead of timing them
 *   (coordinated omission: p99 looks better than what clients see);
 * - open loop (`runOpenLoop`): requests start on a fixed schedule at `ratePerSecond` whatever the
 *   server does, and each latency is measured from its scheduled start, so a stall counts against
 *   every request it delayed.
 */
import { Pool } from "undici";

/** What one load run measured. */
export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

/** The request every load run sends. */
export interface LoadRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function summarize(latencies: readonly number[], errors: number, elapsedS: number): LoadResult {
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors,
    requestsPerSecond: latencies.length / elapsedS,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
  };
}

/** Sends one request on `pool`; resolves to true when it answered 200 (body read to the end). */
async function send(pool: Pool, pathname: string, req: LoadRequest): Promise<boolean> {
  try {
    const res = await pool.request({ path: pathname, method: "POST", headers: req.headers, body: req.body });
    await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** Closed loop: `connections` request loops against `url` for `durationMs`. */
export async function runLoad(url: string, opts: LoadRequest & { connections: number; durationMs: number }): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(opts.durationMs) * 1_000_000n;
  const loop = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      const t0 = process.hrtime.bigint();
      if (!(await send(pool, target.pathname, opts))) errors += 1;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return summarize(latencies, errors, elapsedS);
}

/**
 * Open loop: request `i` is due at start + i / ratePerSecond; a 1 ms ticker starts every request
 * that is due. Latency runs from the due time to the end of the response, so queueing in the
 * client, the network or the server all count. `maxConnections` bounds the sockets (requests beyond
 * it wait in the pool's queue, and that wait counts too).
 */
export async function runOpenLoop(url: string, opts: LoadRequest & { ratePerSecond: number; durationMs: number; maxConnections: number }): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: opts.maxConnections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.floor((opts.ratePerSecond * opts.durationMs) / 1000);
  const intervalNs = 1e9 / opts.ratePerSecond;
  const started = process.hrtime.bigint();
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsedNs = Number(process.hrtime.bigint() - started);
      while (next < total && next * intervalNs <= elapsedNs) {
        const dueNs = next * intervalNs;
        next += 1;
        const p = send(pool, target.pathname, opts).then((ok) => {
          if (!ok) errors += 1;
          latencies.push((Number(process.hrtime.bigint() - started) - dueNs) / 1e6);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return summarize(latencies, errors, elapsedS);
}
