import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PROVIDER_API_KEY, buildPolicyFixture, toFullUpdate } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import { SnapshotCache } from "./snapshot-cache.js";

describe("SnapshotCache", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it("round-trips the held policy, encrypted: no credential or pepper in the file bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-snap-"));
    dirs.push(dir);
    const fixture = buildPolicyFixture("http://127.0.0.1:1/v1", 7n);
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(fixture.snapshot));
    const path = join(dir, "node-a", "snapshot.bin");
    const cache = new SnapshotCache(path, "node-token-1");
    await cache.save(store.toFullUpdate());

    const bytes = await readFile(path);
    expect(bytes.includes(Buffer.from(PROVIDER_API_KEY))).toBe(false);
    expect(bytes.includes(Buffer.from(fixture.snapshot.hmacPepper))).toBe(false);
    expect(bytes.includes(Buffer.from("gpt-4o-mini"))).toBe(false);

    const restored = new PolicyStore();
    const loaded = await new SnapshotCache(path, "node-token-1").load();
    expect(loaded).not.toBeNull();
    restored.applyUpdate(loaded!);
    expect(restored.heldVersion()).toBe(7n);
    expect(restored.current()?.snapshot.providerAccounts[0]?.apiKey).toBe(PROVIDER_API_KEY);
    expect(restored.current()?.snapshot.hmacPepper).toBe(fixture.snapshot.hmacPepper);
    expect(restored.heldResources()).toEqual(store.heldResources());
  });

  it("returns null without a file and refuses a file sealed under another token or tampered with", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-snap-"));
    dirs.push(dir);
    const path = join(dir, "snapshot.bin");
    expect(await new SnapshotCache(path, "a").load()).toBeNull();
    const store = new PolicyStore();
    store.applyUpdate(toFullUpdate(buildPolicyFixture("http://127.0.0.1:1/v1").snapshot));
    await new SnapshotCache(path, "a").save(store.toFullUpdate());
    await expect(new SnapshotCache(path, "b").load()).rejects.toThrow();
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    await expect(new SnapshotCache(path, "a").load()).rejects.toThrow();
  });
});
