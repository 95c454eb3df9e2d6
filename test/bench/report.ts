/**
 * The benchmark's figures and their printed table: every figure of Tollgate beside the bare
 * proxy's from the same run, the ratio, the difference and the goal.
 */
import type { LoadResult } from "./load.js";

/** Everything measured of one target (the direct mock, the bare proxy or a Tollgate node). */
export interface Figures {
  readonly c1: LoadResult;
  readonly c50: LoadResult;
  readonly stream: LoadResult;
  readonly open: LoadResult;
  /** CPU µs of the serving process per request, per cell (NaN for the direct mock). */
  readonly cpuC50: number;
  readonly cpuStream: number;
  readonly cpuOpen: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
}

/** One printed row: a figure of bare and Tollgate, and how they compare. */
interface Row {
  readonly label: string;
  readonly bare: number;
  readonly tollgate: number;
  readonly digits: number;
  readonly goal: string;
}

const fmt = (n: number, d: number): string => (Number.isFinite(n) ? n.toFixed(d) : "-");

function rows(bare: Figures, toll: Figures, direct: Figures, rate: number): Row[] {
  const added = (label: string, pick: (f: Figures) => number, goal: string): Row => ({ label, bare: pick(bare) - pick(direct), tollgate: pick(toll) - pick(direct), digits: 3, goal });
  return [
    { label: "CPU µs/request, JSON, c=50", bare: bare.cpuC50, tollgate: toll.cpuC50, digits: 1, goal: "ratio <= 1.25" },
    { label: "CPU µs/request, stream, c=50", bare: bare.cpuStream, tollgate: toll.cpuStream, digits: 1, goal: "ratio <= 1.3" },
    { label: `CPU µs/request, JSON, ${rate}/s`, bare: bare.cpuOpen, tollgate: toll.cpuOpen, digits: 1, goal: "" },
    { label: "requests/s, JSON, c=50", bare: bare.c50.requestsPerSecond, tollgate: toll.c50.requestsPerSecond, digits: 0, goal: "" },
    { label: "requests/s, stream, c=50", bare: bare.stream.requestsPerSecond, tollgate: toll.stream.requestsPerSecond, digits: 0, goal: "" },
    added("added p50 ms, c=1", (f) => f.c1.p50, "diff <= 0.1 (<= 0.4 abs)"),
    added("added p99 ms, c=1", (f) => f.c1.p99, "diff <= 1 (<= 2 abs)"),
    added("added p50 ms, c=50", (f) => f.c50.p50, ""),
    added("added p99 ms, c=50", (f) => f.c50.p99, ""),
    added(`added p50 ms, open ${rate}/s`, (f) => f.open.p50, ""),
    added(`added p99 ms, open ${rate}/s`, (f) => f.open.p99, ""),
    added(`added p99.9 ms, open ${rate}/s`, (f) => f.open.p999, ""),
    { label: "RSS MB, idle (after start)", bare: bare.idleRssMb, tollgate: toll.idleRssMb, digits: 1, goal: "" },
    { label: "RSS MB, peak", bare: bare.peakRssMb, tollgate: toll.peakRssMb, digits: 1, goal: "tollgate <= 150" },
  ];
}

/** The table of figures, as printed by `npm run bench`. */
export function formatReport(bare: Figures, toll: Figures, direct: Figures, rate: number): string {
  const head = ["figure".padEnd(32), "bare".padStart(9), "tollgate".padStart(9), "ratio".padStart(7), "diff".padStart(8), "  goal"].join(" ");
  const lines = rows(bare, toll, direct, rate).map((r) =>
    [
      r.label.padEnd(32),
      fmt(r.bare, r.digits).padStart(9),
      fmt(r.tollgate, r.digits).padStart(9),
      (r.bare > 0 ? `${fmt(r.tollgate / r.bare, 2)}x` : "-").padStart(7),
      fmt(r.tollgate - r.bare, r.digits).padStart(8),
      `  ${r.goal}`,
    ]
      .join(" ")
      .trimEnd(),
  );
  const directLine =
    `direct mock (subtracted from every latency): p50/p99 c=1 ${fmt(direct.c1.p50, 3)}/${fmt(direct.c1.p99, 3)} ms, ` +
    `p50/p99 c=50 ${fmt(direct.c50.p50, 3)}/${fmt(direct.c50.p99, 3)} ms, p50/p99/p99.9 open ${fmt(direct.open.p50, 3)}/${fmt(direct.open.p99, 3)}/${fmt(direct.open.p999, 3)} ms, ` +
    `${fmt(direct.c50.requestsPerSecond, 0)} req/s c=50`;
  return [head, ...lines, "", directLine].join("\n");
}
