import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, DataDirLockedError } from "./data-dir-lock.js";

describe("acquireDataDirLock", () => {
  const dir = mkdtempSync(join(tmpdir(), "tg-lock-"));
  const path = join(dir, "pgdata.lock");
  afterEach(() => rmSync(path, { force: true }));

  it("holds the lock until released", () => {
    const release = acquireDataDirLock(path);
    expect(readFileSync(path, "utf8")).toBe(String(process.pid));
    expect(() => acquireDataDirLock(path)).toThrow(DataDirLockedError);
    release();
    expect(existsSync(path)).toBe(false);
    acquireDataDirLock(path)();
  });

  it("refuses a lock held by another live process and takes over a dead one's", () => {
    writeFileSync(path, String(process.ppid));
    expect(() => acquireDataDirLock(path)).toThrow(/in use by process/);
    writeFileSync(path, "999999999");
    const release = acquireDataDirLock(path);
    expect(readFileSync(path, "utf8")).toBe(String(process.pid));
    release();
  });

  it("takes over a lock whose process is a zombie (dead, not yet reaped)", async () => {
    // `sleep 0` exits at once; its parent execs `sleep 5`, which never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
    const zombie = await new Promise<number>((resolve) => parent.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim()))));
    try {
      for (let i = 0; i < 250 && !readFileSync(`/proc/${zombie}/stat`, "utf8").includes(") Z "); i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`/proc/${zombie}/stat`, "utf8")).toContain(") Z ");
      writeFileSync(path, String(zombie));
      const release = acquireDataDirLock(path);
      expect(readFileSync(path, "utf8")).toBe(String(process.pid));
      release();
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
