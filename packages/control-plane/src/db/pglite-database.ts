/**
 * `Database` over PGlite (embedded PostgreSQL, one backend: every query is serialized).
 * int8 and numeric are parsed as strings, like pg, so repositories see the same values.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { Database, Queryable } from "./database.js";
import { acquireDataDirLock } from "./data-dir-lock.js";

const parsers = { 20: (v: string): string => v, 1700: (v: string): string => v };

function wrap(db: PGlite, release: () => void): Database {
  return {
    kind: "pglite",
    async query<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]> {
      const res = await db.query<T>(sql, params as unknown[] | undefined);
      return res.rows;
    },
    transaction<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
      return db.transaction(async (tx) =>
        fn({
          async query<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]> {
            const res = await tx.query<T>(sql, params as unknown[] | undefined);
            return res.rows;
          },
        }),
      );
    },
    async listen(channel, handler) {
      const unlisten = await db.listen(channel, handler);
      return async () => unlisten();
    },
    async notify(channel, payload) {
      await db.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
}

/** Opens (creating if needed) the embedded database in `${dataDir}/pgdata`, guarded by a lock file. */
export async function openPgliteDatabase(dataDir: string): Promise<Database> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const release = acquireDataDirLock(join(dataDir, "pgdata.lock"));
  try {
    const db = await PGlite.create(join(dataDir, "pgdata"), { parsers });
    return wrap(db, release);
  } catch (e) {
    release();
    throw e;
  }
}

/** Opens an in-memory PGlite database (tests). */
export async function openMemoryPgliteDatabase(): Promise<Database> {
  const db = await PGlite.create({ parsers });
  return wrap(db, () => undefined);
}
