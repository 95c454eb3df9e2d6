/**
 * Issue 9, item 11: the import rules of ARCHITECTURE.md §2 are kept by a tool, not by memory.
 * Runs the repository's own dependency-cruiser configuration (a real `depcruise` process) over a
 * miniature repository in a temporary directory: the same seven packages, linked by name through
 * node_modules as npm workspaces are. A tree that keeps the rules passes; each planted violation
 * (planes importing each other, a library importing an app, policy importing another package or a
 * Node built-in, a relative path into another package, a deep import by name, a cycle, a path that
 * resolves to nothing) fails with the rule that names it, and nothing else fails.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/processes.js";

const PACKAGES = ["policy", "proto", "providers", "mock-provider", "control-plane", "data-plane", "cli"] as const;

/** One violation as dependency-cruiser reports it in JSON. */
interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
}

/** Files every tree has: what the house allows (apps import libraries by name, policy tests use Node). */
const ALLOWED: Readonly<Record<string, string>> = {
  "packages/policy/src/index.ts": `export { price } from "./pricing.js";\n`,
  "packages/policy/src/pricing.ts": `export const price = 1n;\n`,
  "packages/policy/src/pricing.test.ts": `import { readFileSync } from "node:fs";\nimport { price } from "./pricing.js";\nexport const t = [readFileSync, price];\n`,
  "packages/proto/src/index.ts": `import { price } from "@tollgate/policy";\nexport const wire = price;\n`,
  "packages/providers/src/index.ts": `import { price } from "@tollgate/policy";\nexport const adapter = price;\n`,
  "packages/mock-provider/src/index.ts": `import { adapter } from "@tollgate/providers";\nexport const mock = adapter;\n`,
  "packages/control-plane/src/index.ts": `import { readFileSync } from "node:fs";\nimport { wire } from "@tollgate/proto";\nexport const cp = [wire, readFileSync];\n`,
  "packages/data-plane/src/index.ts": `import type { price } from "@tollgate/policy";\nimport { wire } from "@tollgate/proto";\nexport const dp: [typeof price, bigint] = [1n, wire];\n`,
  "packages/cli/src/index.ts": `import { cp } from "@tollgate/control-plane";\nimport { dp } from "@tollgate/data-plane";\nexport const cli = [cp, dp];\n`,
  "test/e2e.test.ts": `import { cli } from "@tollgate/cli";\nimport { mock } from "@tollgate/mock-provider";\nexport const e2e = [cli, mock];\n`,
};

/** Planted violations: file -> content, and the [rule, from, to] each must produce. */
const PLANTED: Readonly<Record<string, string>> = {
  "packages/control-plane/src/reach.ts": `import { dp } from "@tollgate/data-plane";\nexport const r = dp;\n`,
  "packages/data-plane/src/reach.ts": `import type { cp } from "../../control-plane/src/index.js";\nexport type R = typeof cp;\n`,
  "packages/providers/src/reach.ts": `import { cp } from "@tollgate/control-plane";\nexport const r = cp;\n`,
  "packages/mock-provider/src/reach.ts": `import { cli } from "@tollgate/cli";\nexport const r = cli;\n`,
  "packages/policy/src/reach.ts": `import { wire } from "@tollgate/proto";\nimport { createHash } from "node:crypto";\nimport { readFile } from "fs";\nexport const r = [wire, createHash, readFile];\n`,
  "packages/proto/src/reach.ts": `import { price } from "../../policy/src/pricing.js";\nexport const r = price;\n`,
  "packages/cli/src/cycle-a.ts": `import { b } from "./cycle-b.js";\nexport const a = () => b;\n`,
  "packages/cli/src/cycle-b.ts": `import type { a } from "./cycle-a.js";\nexport const b: typeof a | null = null;\n`,
  "packages/cli/src/typo.ts": `import { nothing } from "./no-such-file.js";\nexport const t = nothing;\n`,
  "test/reach.test.ts": `import { price } from "../packages/policy/src/index.js";\nexport const r = price;\n`,
};

const EXPECTED: readonly (readonly [string, string, string])[] = [
  ["planes-meet-only-through-proto", "packages/control-plane/src/reach.ts", "packages/data-plane/src/index.ts"],
  ["planes-meet-only-through-proto-reverse", "packages/data-plane/src/reach.ts", "packages/control-plane/src/index.ts"],
  ["libraries-never-import-apps", "packages/providers/src/reach.ts", "packages/control-plane/src/index.ts"],
  ["libraries-never-import-apps", "packages/mock-provider/src/reach.ts", "packages/cli/src/index.ts"],
  ["only-the-cli-is-the-cli", "packages/mock-provider/src/reach.ts", "packages/cli/src/index.ts"],
  ["policy-imports-nothing-internal", "packages/policy/src/reach.ts", "packages/proto/src/index.ts"],
  ["policy-imports-no-node-builtin", "packages/policy/src/reach.ts", "crypto"],
  ["policy-imports-no-node-builtin", "packages/policy/src/reach.ts", "fs"],
  ["import-packages-by-name", "packages/data-plane/src/reach.ts", "packages/control-plane/src/index.ts"],
  ["import-packages-by-name", "packages/proto/src/reach.ts", "packages/policy/src/pricing.ts"],
  ["import-only-a-package-index", "packages/proto/src/reach.ts", "packages/policy/src/pricing.ts"],
  ["import-packages-by-name", "test/reach.test.ts", "packages/policy/src/index.ts"],
  // A cycle is reported once, from either of its modules: compared as an unordered pair.
  ["no-cycles", "packages/cli/src/cycle-a.ts", "packages/cli/src/cycle-b.ts"],
  ["no-unresolvable-imports", "packages/cli/src/typo.ts", "./no-such-file.js"],
];

/** Writes a miniature repository: the packages, their manifests and the node_modules links. */
function writeTree(root: string, files: Readonly<Record<string, string>>): void {
  for (const name of PACKAGES) {
    mkdirSync(path.join(root, "packages", name, "src"), { recursive: true });
    const manifest = { name: `@tollgate/${name}`, version: "0.1.0", private: true, type: "module", exports: { ".": "./src/index.ts" } };
    writeFileSync(path.join(root, "packages", name, "package.json"), JSON.stringify(manifest));
    mkdirSync(path.join(root, "node_modules", "@tollgate"), { recursive: true });
    symlinkSync(path.join(root, "packages", name), path.join(root, "node_modules", "@tollgate", name), "dir");
  }
  mkdirSync(path.join(root, "test"), { recursive: true });
  const workspaces = PACKAGES.map((name) => `packages/${name}`);
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "mini", private: true, type: "module", workspaces }));
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(root, file), text);
}

/** Runs the repository's depcruise with the repository's rules over `root`, as `npm run lint:imports` does. */
function cruise(root: string, outputType: "err" | "json"): { status: number | null; stdout: string } {
  const bin = path.join(repoRoot, "node_modules", ".bin", "depcruise");
  const args = ["--config", path.join(repoRoot, ".dependency-cruiser.cjs"), "--output-type", outputType, "packages", "test"];
  const run = spawnSync(bin, args, { cwd: root, encoding: "utf8", timeout: 60_000 });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, stdout: run.stdout };
}

/** The violations of `root`, from dependency-cruiser's JSON report. */
function violationsOf(root: string): Violation[] {
  return (JSON.parse(cruise(root, "json").stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe("import rules (dependency-cruiser, the repository's configuration)", () => {
  let base = "";
  beforeAll(() => {
    base = mkdtempSync(path.join(tmpdir(), "tollgate-import-rules-"));
  });
  afterAll(() => {
    if (base !== "") rmSync(base, { recursive: true, force: true });
  });

  it("passes a tree that keeps the rules", () => {
    const root = path.join(base, "clean");
    writeTree(root, ALLOWED);
    expect(violationsOf(root)).toEqual([]);
    const run = cruise(root, "err");
    expect(run.stdout).toContain("no dependency violations found");
    expect(run.status).toBe(0);
  });

  it("fails every planted violation with the rule that names it, and nothing else", () => {
    const root = path.join(base, "planted");
    writeTree(root, { ...ALLOWED, ...PLANTED });
    const key = (rule: string, from: string, to: string): string => (rule === "no-cycles" ? `${rule}: ${[from, to].sort().join(" <-> ")}` : `${rule}: ${from} -> ${to}`);
    const found = violationsOf(root).map((v) => key(v.rule.name, v.from, v.to));
    expect(found.sort()).toEqual(EXPECTED.map(([rule, from, to]) => key(rule, from, to)).sort());
    // The gate: the exit status `npm run check` stops on.
    const run = cruise(root, "err");
    expect(run.stdout).toContain(`${EXPECTED.length} dependency violations`);
    expect(run.status).not.toBe(0);
  });
});
