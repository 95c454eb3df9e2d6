/**
 * `npm run bench`: the data plane (a real key with a budget and an allow-list in force) in front
 * of the mock provider, against a bare Node proxy (node:http + undici) in front of the same mock,
 * measured in one run. Prints requests/s, CPU µs per request of the proxy process, added p50/p99
 * latency over the direct mock at concurrency 1 and 50, peak RSS, and the ratios.
 * Every process is separate, so CPU and memory figures are the proxy's own.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { findFreePort, repoRoot, waitForHttpOk, type RunningProcess } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { runLoad } from "./load.js";


const DURATION_S = Number(process.env.BENCH_SECONDS ?? "8");
const BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from the benchmark" }], max_tokens: 20 });
const CLK_TCK = 100;

function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1_000_000) / CLK_TCK;
}

function peakRssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Figures {
  rps: number;
  cpuUsPerReq: number;
  p50c1: number;
  p99c1: number;
  p50c50: number;
  p99c50: number;
  peakRssMb: number;
}

async function measure(url: string, headers: Record<string, string>, pid: number | null): Promise<Figures> {
  const base = { headers: { "content-type": "application/json", ...headers }, body: BODY };
  await runLoad(url, { ...base, connections: 10, durationMs: 2_000 }); // warm-up (JIT, pools, grants)
  const c1 = await runLoad(url, { ...base, connections: 1, durationMs: DURATION_S * 1000 });
  const cpuBefore = pid === null ? 0 : cpuMicros(pid);
  const c50 = await runLoad(url, { ...base, connections: 50, durationMs: DURATION_S * 1000 });
  const cpuAfter = pid === null ? 0 : cpuMicros(pid);
  for (const r of [c1, c50]) {
    if (r.errors > 0) throw new Error(`${url}: ${r.errors} failed requests`);
  }
  return {
    rps: c50.requestsPerSecond,
    cpuUsPerReq: pid === null ? NaN : (cpuAfter - cpuBefore) / c50.requests,
    p50c1: c1.p50,
    p99c1: c1.p99,
    p50c50: c50.p50,
    p99c50: c50.p99,
    peakRssMb: pid === null ? NaN : peakRssMb(pid),
  };
}

function startBareProxy(port: number, upstream: string): Promise<RunningProcess & { pid: number }> {
  const child = spawn(path.join(repoRoot, "node_modules/.bin/tsx"), ["--tsconfig", path.join(repoRoot, "tsconfig.run.json"), path.join(repoRoot, "test/bench/bare-proxy.ts")], {
    env: { PATH: process.env.PATH ?? "", BARE_PROXY_PORT: String(port), BARE_PROXY_UPSTREAM: upstream, BARE_PROXY_UPSTREAM_KEY: "sk-bench" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () =>
      resolve({
        name: "bare-proxy",
        child,
        pid: child.pid ?? -1,
        output: () => "",
        waitForOutput: () => Promise.reject(new Error("unused")),
        stop: async () => {
          child.kill("SIGTERM");
          await new Promise((r) => child.once("exit", r));
          return child.exitCode;
        },
      }),
    );
    child.once("exit", (code) => reject(new Error(`bare proxy exited with ${code}`)));
  });
}

/** tsx runs a script as a child of its own node process: find the process that actually serves. */
function servingPid(p: RunningProcess): number {
  const parent = p.child.pid ?? -1;
  try {
    const children = readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return children.length > 0 ? Number(children[children.length - 1]) : parent;
  } catch {
    return parent;
  }
}

function row(name: string, f: Figures, direct: Figures): string {
  const fmt = (n: number, d = 3): string => (Number.isFinite(n) ? n.toFixed(d) : "-");
  return [
    name.padEnd(12),
    fmt(f.rps, 0).padStart(8),
    fmt(f.cpuUsPerReq, 1).padStart(10),
    fmt(f.p50c1 - direct.p50c1).padStart(9),
    fmt(f.p99c1 - direct.p99c1).padStart(9),
    fmt(f.p50c50 - direct.p50c50).padStart(10),
    fmt(f.p99c50 - direct.p99c50).padStart(10),
    fmt(f.peakRssMb, 1).padStart(9),
  ].join(" ");
}

async function main(): Promise<void> {
  let stack: Stack | null = null;
  let bare: (RunningProcess & { pid: number }) | null = null;
  try {
    // BENCH_NODE_OPTIONS: extra node options of the data-plane node (e.g. `--import` of a profiler).
    const nodeOptions = process.env.BENCH_NODE_OPTIONS;
    stack = await startStack(1, nodeOptions ? { nodeEnv: () => ({ NODE_OPTIONS: nodeOptions, CPU_PROF_DIR: process.env.CPU_PROF_DIR ?? "/tmp" }) } : {});
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
    const key = await gql<{ createVirtualKey: { secret: string } }>(
      `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { secret } }`,
      { i: { organizationId: orgId, name: "bench", kind: "SERVICE", allowedModels: ["gpt-4o-mini"], budgets: [{ unit: "USD", window: "MONTH", limit: "100000", mode: "HARD" }] } },
    );
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
    const nodes = stack.nodes[0];
    if (!nodes) throw new Error("no data-plane node");
    process.stdout.write(`measuring ${DURATION_S} s at concurrency 1 and 50 each: direct mock, bare proxy, tollgate ...\n`);
    const direct = await measure(`${stack.mockUrl}${path}`, { authorization: "Bearer sk-bench" }, null);
    const bareFig = await measure(`http://127.0.0.1:${barePort}${path}`, { authorization: "Bearer anything" }, servingPid(bare));
    const tollFig = await measure(`${nodeUrl}${path}`, { authorization: `Bearer ${secret}` }, servingPid(nodes));

    const header = ["target".padEnd(12), "req/s".padStart(8), "cpu µs/req".padStart(10), "+p50 c1".padStart(9), "+p99 c1".padStart(9), "+p50 c50".padStart(10), "+p99 c50".padStart(10), "peak RSS".padStart(9)].join(" ");
    process.stdout.write(`\nlatencies in ms added over the direct mock (direct: p50 c1 ${direct.p50c1.toFixed(3)} ms, p99 c1 ${direct.p99c1.toFixed(3)} ms, ${direct.rps.toFixed(0)} req/s at c50); RSS in MB\n${header}\n`);
    process.stdout.write(`${row("bare proxy", bareFig, direct)}\n${row("tollgate", tollFig, direct)}\n`);
    const ratio = (a: number, b: number): string => (a / b).toFixed(2);
    process.stdout.write(`absolute: bare ${bareFig.cpuUsPerReq.toFixed(1)} µs/req, tollgate ${tollFig.cpuUsPerReq.toFixed(1)} µs/req of CPU\n`);
    process.stdout.write(
      `\nratios tollgate/bare: cpu per request ${ratio(tollFig.cpuUsPerReq, bareFig.cpuUsPerReq)}x (goal <= 1.25x), ` +
        `req/s ${ratio(tollFig.rps, bareFig.rps)}x, added p99 at c1 ${(tollFig.p99c1 - direct.p99c1).toFixed(2)} ms (goal < 2 ms), ` +
        `peak RSS ${tollFig.peakRssMb.toFixed(1)} MB (goal < 150 MB)\n`,
    );
  } finally {
    await bare?.stop();
    await stack?.stop();
  }
}

await main();
