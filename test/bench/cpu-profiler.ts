/**
 * A CPU profiler to preload into a process under benchmark, since `--cpu-prof` is not allowed in
 * NODE_OPTIONS: `BENCH_NODE_OPTIONS="--import /abs/dist/run/cpu-profiler.js"` with `CPU_PROF_DIR`
 * (default /tmp). Profiling starts at load and stops when the process exits; the profile is
 * written as `<dir>/tollgate-<pid>.cpuprofile` (open it in Chrome DevTools, or summarize it with
 * `npx tsx test/bench/profile-summary.ts FILE`). Built by `npm run build` (dist/run/cpu-profiler.js).
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.CPU_PROF_DIR ?? "/tmp";
const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 100 });
session.post("Profiler.start");

process.on("exit", () => {
  // An in-process inspector session answers synchronously, so the profile is written before exit.
  session.post("Profiler.stop", (err, result) => {
    if (err === null) writeFileSync(path.join(dir, `tollgate-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
