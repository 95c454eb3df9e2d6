/**
 * A small closed-loop load generator for the benchmark: `connections` loops each send the same
 * request back to back for `durationMs`, timing every request with hrtime (µs precision).
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
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Runs `connections` request loops against `url` for `durationMs`. */
export async function runLoad(url: string, opts: { connections: number; durationMs: number; headers: Record<string, string>; body: string }): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(opts.durationMs) * 1_000_000n;
  const loop = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await pool.request({ path: target.pathname, method: "POST", headers: opts.headers, body: opts.body });
        await res.body.dump();
        if (res.statusCode !== 200) errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return { requests: latencies.length, errors, requestsPerSecond: latencies.length / elapsedS, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}
