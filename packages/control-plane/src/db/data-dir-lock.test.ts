import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
});
