/**
 * A bad or missing setting stops a process at start with one line that names the variable, and
 * no stack trace.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnTollgate } from "../support/processes.js";

const dir = mkdtempSync(path.join(tmpdir(), "tollgate-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cases: { command: string; env: Record<string, string>; names: string }[] = [
  { command: "data-plane", env: { TOLLGATE_DATA_DIR: dir }, names: "TOLLGATE_NODE_TOKEN" },
  { command: "data-plane", env: { TOLLGATE_DATA_DIR: dir, TOLLGATE_NODE_TOKEN: "t".repeat(32), PORT: "eighty" }, names: "PORT" },
  { command: "control-plane", env: { TOLLGATE_DATA_DIR: dir }, names: "TOLLGATE_NODE_TOKEN" },
  { command: "control-plane", env: { TOLLGATE_DATA_DIR: dir, TOLLGATE_NODE_TOKEN: "t".repeat(32), DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" }, names: "TOLLGATE_MASTER_KEY" },
  { command: "control-plane", env: { TOLLGATE_DATA_DIR: dir, TOLLGATE_NODE_TOKEN: "t".repeat(32), TOLLGATE_MASTER_KEY: "not-base64-32-bytes" }, names: "TOLLGATE_MASTER_KEY" },
  { command: "start", env: { TOLLGATE_DATA_DIR: dir, CONTROL_PLANE_HTTP_PORT: "99999" }, names: "CONTROL_PLANE_HTTP_PORT" },
  { command: "mock-provider", env: { MOCK_PROVIDER_PORT: "-1" }, names: "MOCK_PROVIDER_PORT" },
];

describe("configuration mistakes", () => {
  it.each(cases)("$command without a valid $names exits 1 with one line naming it", async ({ command, env, names }) => {
    const proc = spawnTollgate(command, command, env);
    const code = await new Promise<number | null>((resolve) => proc.child.once("exit", (c) => resolve(c)));
    const lines = proc
      .output()
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(names);
    expect(proc.output()).not.toMatch(/\n\s+at /);
  });
});
