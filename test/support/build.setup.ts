/**
 * Global setup of the system tests: builds the CLI (`node scripts/build.mjs`, about a second) so
 * that every real process of the run starts from JavaScript built from the current sources.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./processes.js";

/** Builds `dist/run/` once before the system tests; throws (failing the run) when the build fails. */
export function setup(): void {
  execFileSync(process.execPath, [path.join(repoRoot, "scripts/build.mjs")], { cwd: repoRoot, stdio: "inherit" });
}
