#!/usr/bin/env node
/**
 * Builds what `npm start`, `npm run control-plane`, `npm run data-plane` and `npm run mock-provider`
 * run: the CLI bundled with esbuild into plain JavaScript in `dist/run/` (git-ignored), so the
 * servers start as one `node` process with no TypeScript loader. Plain JavaScript on purpose: it
 * runs before anything is built. The benchmark's bare proxy and CPU profiler are built beside it
 * (`bare-proxy.js`, `cpu-profiler.js`), so that the baseline runs as plain node too.
 *
 * - The workspace packages (`@tollgate/*`) are bundled; every other package stays an import that
 *   node resolves from node_modules, as it does for the sources.
 * - Each plane is its own chunk (code splitting): a data-plane node never loads the control plane.
 * - `import.meta.url` in a bundled module keeps its source file's URL, so paths relative to the
 *   source (the SQL migrations, js-tiktoken's rank file) resolve exactly as under the sources.
 * - No `keepNames`: it wraps every function created at run time in a naming helper (1% of a node's
 *   CPU under load, measured). Bundling renames a class whose name collides with another's in the
 *   same scope (`Foo` -> `Foo2`); error classes set `name` explicitly, and type-graphql names types
 *   after classes, so test/security/performance.test.ts checks that the built control plane serves
 *   exactly graphql/schema.graphql.
 * - type-graphql gets no decorator metadata (esbuild emits none, like tsx): every decorator in the
 *   control plane names its type explicitly.
 * - Files are written atomically (temporary file, then rename) and chunks of older builds removed,
 *   so processes started at the same time from one checkout (docker-compose) never read a partial
 *   file. The output is deterministic: concurrent builds write identical bytes.
 *
 * Usage: `node scripts/build.mjs` (about a second). Exported as `build()` for the test setup.
 */
import { readdirSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Where the build goes (git-ignored through `dist/`). */
export const outDir = path.join(repoRoot, "dist/run");

/** The built CLI entry: `node dist/run/tollgate.js <command>`. */
export const cliBundle = path.join(outDir, "tollgate.js");

/** The built bare proxy of the benchmark (the baseline must run as plain node too). */
export const bareProxyBundle = path.join(outDir, "bare-proxy.js");

const WORKSPACE_PREFIX = "@tollgate/";

/** Keeps every package import external except the workspace's own packages. */
const externalPackages = {
  name: "external-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith(WORKSPACE_PREFIX) || args.path.startsWith("node:")) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** Replaces `import.meta.url` in bundled sources with the source file's own URL. */
const sourceImportMetaUrl = {
  name: "source-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      return { contents: text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
    });
  },
};

/** Builds `dist/run/`; resolves to the written files' paths. Throws on a build error. */
export async function build() {
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: { tollgate: "packages/cli/src/main.ts", "bare-proxy": "test/bench/bare-proxy.ts", "cpu-profiler": "test/bench/cpu-profiler.ts" },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    tsconfig: "tsconfig.run.json",
    sourcemap: "linked",
    chunkNames: "chunks/[name]-[hash]",
    write: false,
    logLevel: "warning",
    plugins: [externalPackages, sourceImportMetaUrl],
  });
  const written = new Set();
  for (const file of result.outputFiles) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    written.add(file.path);
  }
  removeStale(outDir, written);
  return [...written];
}

/** Deletes files of older builds (chunks whose hash changed); leaves other builds' temporary files. */
function removeStale(dir, keep) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) removeStale(full, keep);
    else if (!keep.has(full) && !entry.name.endsWith(".tmp")) rmSync(full, { force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await build();
  } catch (err) {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
