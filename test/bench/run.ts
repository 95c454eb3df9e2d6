/**
 * `npm run bench`: one data-plane node (a real key with a budget and an allow-list in force, logging
 * as shipped) in front of the mock provider, against a bare Node proxy (node:http + undici) in front
 * of the same mock, measured in one run. Both proxies run built JavaScript with plain node
 * (`npm run build`). For each: closed-loop latency at concurrency 1 and 50, CPU µs per request of
 * the proxy process (JSON and stream at c=50, JSON at a constant rate), requests/s, open-loop
 * (constant-rate) latency, idle and peak RSS; then every figure beside the bare proxy's, the ratio
 * and the goal (formatReport).
 *
 * Pinned (the default on 2+ CPUs): the measured proxy runs alone on CPU 0; the load generator, the
 * mock and the control plane share CPU 1, so the proxy is not charged for its neighbours' work.
 * Env: BENCH_SECONDS (8 per cell), BENCH_RATE (open-loop requests/s, 1000), BENCH_PIN (1/0),
 * BENCH_LOG_LEVEL (the node's LOG_LEVEL, default info as shipped), BENCH_NODE_OPTIONS (NODE_OPTIONS
 * of the node, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
 */
import { execFileSync, spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { findFreePort, repoRoot, waitForHttpOk, type RunningProcess } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { runLoad, runOpenLoop, type LoadRequest } from "./load.js";
import { formatReport, type Figures } from "./report.js";

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? "8") * 1000;
const RATE = Number(process.env.BENCH_RATE ?? "1000");
const PIN = (process.env.BENCH_PIN ?? (cpus().length >= 2 ? "1" : "0")) === "1";
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? "info";
const BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from the benchmark" }], max_tokens: 20 });
const STREAM_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from the benchmark" }], max_tokens: 20, stream: true });
const CLK_TCK = 100;
const PROXY_CPU = 0;
const OTHERS_CPU = 1;

function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1_000_000) / CLK_TCK;
}

function rssMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Moves every thread of `pid` (and the threads it starts later) to one CPU. */
function pin(pid: number, cpu: number): void {
  if (PIN) execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}

/** Measures one target; `pid` is its serving process (null for the direct mock: no CPU or RSS). */
async function measure(url: string, authorization: string, pid: number | null): Promise<Figures> {
  const json: LoadRequest = { headers: { "content-type": "application/json", authorization }, body: BODY };
  const stream: LoadRequest = { headers: json.headers, body: STREAM_BODY };
  const idleRssMb = pid === null ? NaN : rssMb(pid, "VmRSS");
  await runLoad(url, { ...json, connections: 10, durationMs: 2_000 }); // warm-up (JIT, pools, grants)
  await runLoad(url, { ...stream, connections: 10, durationMs: 1_000 });
  const cpu = async <T extends { requests: number }>(run: () => Promise<T>): Promise<[T, number]> => {
    const before = pid === null ? 0 : cpuMicros(pid);
    const result = await run();
    return [result, pid === null ? NaN : (cpuMicros(pid) - before) / result.requests];
  };
  const c1 = await runLoad(url, { ...json, connections: 1, durationMs: DURATION_MS });
  const [c50, cpuC50] = await cpu(() => runLoad(url, { ...json, connections: 50, durationMs: DURATION_MS }));
  const [streamed, cpuStream] = await cpu(() => runLoad(url, { ...stream, connections: 50, durationMs: DURATION_MS }));
  const [open, cpuOpen] = await cpu(() => runOpenLoop(url, { ...json, ratePerSecond: RATE, durationMs: DURATION_MS, maxConnections: 256 }));
  for (const r of [c1, c50, streamed, open]) {
    if (r.errors > 0) throw new Error(`${url}: ${r.errors} failed requests`);
  }
  return { c1, c50, stream: streamed, open, cpuC50, cpuStream, cpuOpen, idleRssMb, peakRssMb: pid === null ? NaN : rssMb(pid, "VmHWM") };
}

/** Starts the built bare proxy (`dist/run/bare-proxy.js`) with plain node. */
function startBareProxy(port: number, upstream: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [`${repoRoot}/dist/run/bare-proxy.js`], {
    env: { PATH: process.env.PATH ?? "", BARE_PROXY_PORT: String(port), BARE_PROXY_UPSTREAM: upstream, BARE_PROXY_UPSTREAM_KEY: "sk-bench" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () =>
      resolve({
        pid: child.pid ?? -1,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      }),
    );
    child.once("exit", (code) => reject(new Error(`bare proxy exited with ${code}`)));
  });
}

function pidOf(p: RunningProcess): number {
  if (p.child.pid === undefined) throw new Error(`${p.name} has no pid`);
  return p.child.pid;
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${cpus().length} CPUs, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

async function main(): Promise<void> {
  let stack: Stack | null = null;
  let bare: { pid: number; stop(): Promise<void> } | null = null;
  try {
    const nodeOptions = process.env.BENCH_NODE_OPTIONS;
    stack = await startStack(1, { nodeEnv: () => ({ LOG_LEVEL, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) }) });
    const { gql } = stack;
    const org = await gql<{ createOrganization: { organization: { id: string } } }>(`mutation { createOrganization(input: { name: "Bench", slug: "bench" }) { organization { id } } }`);
    const orgId = org.createOrganization.organization.id;
    const acct = await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
      `mutation($i: CreateProviderAccountInput!) { createProviderAccount(input: $i) { providerAccount { id } } }`,
      { i: { organizationId: orgId, name: "mock", provider: "OPENAI_COMPATIBLE", baseUrl: `${stack.mockUrl}/v1`, apiKey: "sk-bench" } },
    );
    await gql(`mutation($i: CreateModelInput!) { createModel(input: $i) { model { id } } }`, {
      i: { providerAccountId: acct.createProviderAccount.providerAccount.id, name: "gpt-4o-mini", upstreamModel: "gpt-4o-mini", inputPricePerMillion: "0.15", outputPricePerMillion: "0.60" },
    });
    const key = await gql<{ createVirtualKey: { secret: string } }>(`mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { secret } }`, {
      i: { organizationId: orgId, name: "bench", kind: "SERVICE", allowedModels: ["gpt-4o-mini"], budgets: [{ unit: "USD", window: "MONTH", limit: "100000", mode: "HARD" }] },
    });
    const secret = key.createVirtualKey.secret;
    const nodeUrl = stack.nodeUrls[0] ?? "";
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${nodeUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      if (res.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const barePort = await findFreePort();
    bare = await startBareProxy(barePort, stack.mockUrl);
    await waitForHttpOk(`http://127.0.0.1:${barePort}/v1/models`);

    const path = "/v1/chat/completions";
    const node = stack.nodes[0];
    if (!node) throw new Error("no data-plane node");
    pin(process.pid, OTHERS_CPU);
    pin(pidOf(stack.controlPlane), OTHERS_CPU);
    for (const p of stack.nodes) pin(pidOf(p), PROXY_CPU);
    pin(bare.pid, PROXY_CPU);
    pin(pidOf(stack.mock), OTHERS_CPU);
    const before = machine();
    process.stdout.write(
      `measuring ${DURATION_MS / 1000} s per cell (c=1, c=50 JSON, c=50 stream, open loop ${RATE}/s) each: direct mock, bare proxy, tollgate; ` +
        `${PIN ? `pinned: proxy alone on CPU ${PROXY_CPU}, load generator + mock + control plane on CPU ${OTHERS_CPU}` : "not pinned"}; node LOG_LEVEL=${LOG_LEVEL}\n`,
    );
    const direct = await measure(`${stack.mockUrl}${path}`, "Bearer sk-bench", null);
    const bareFig = await measure(`http://127.0.0.1:${barePort}${path}`, "Bearer anything", bare.pid);
    const tollFig = await measure(`${nodeUrl}${path}`, `Bearer ${secret}`, pidOf(node));
    process.stdout.write(`\n${formatReport(bareFig, tollFig, direct, RATE)}\n\nmachine before: ${before}\nmachine after:  ${machine()}\n`);
  } finally {
    await bare?.stop();
    await stack?.stop();
  }
}

await main();
