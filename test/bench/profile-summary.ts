/**
 * Summarizes a `.cpuprofile` (from test/bench/cpu-profiler.ts): the top self-time functions and
 * self time by origin (Tollgate's bundle, each npm package, node internals, GC, idle).
 * Usage: `npx tsx test/bench/profile-summary.ts FILE [TOP=15]`.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a function comes from: `tollgate`, an npm package name, `node`, or a V8 pseudo-frame. */
function originOf(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  if (url.startsWith("node:")) return "node";
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg?.[1]) return pkg[1];
  if (url.includes("/dist/run/")) return "tollgate";
  return url;
}

const file = process.argv[2];
if (!file) throw new Error("usage: profile-summary.ts FILE [TOP]");
const top = Number(process.argv[3] ?? "15");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const byFunction = new Map<string, number>();
const byOrigin = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id)?.callFrame;
  if (!frame) continue;
  const origin = originOf(frame.url, frame.functionName);
  if (origin === "(idle)") {
    idle += us;
    continue;
  }
  total += us;
  const where = frame.url === "" ? "" : ` ${frame.url.replace(/^.*\/(node_modules|dist\/run)\//, "")}:${frame.lineNumber + 1}`;
  const key = `${frame.functionName || "(anonymous)"}${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + us);
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
process.stdout.write(`busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms\n\nself time by origin:\n`);
for (const [origin, us] of [...byOrigin].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${origin}\n`);
process.stdout.write(`\ntop ${top} functions by self time:\n`);
for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${fn}\n`);
