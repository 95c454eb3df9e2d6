/**
 * Test support: the databases every DB test runs on — PGlite always, and PostgreSQL when
 * DATABASE_URL is set (a fresh `tollgate_test_<random>` database per call, dropped on dispose).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import type { Database } from "../db/database.js";
import { openPgDatabase } from "../db/pg-database.js";
import { openMemoryPgliteDatabase } from "../db/pglite-database.js";

/** A database opened for one test file. */
export interface TestDatabase {
  readonly db: Database;
  dispose(): Promise<void>;
}

/** A database kind a test file runs against. */
export interface TestDatabaseTarget {
  readonly name: string;
  open(): Promise<TestDatabase>;
}

async function openFreshPostgres(baseUrl: string): Promise<TestDatabase> {
  const name = `tollgate_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const db = await openPgDatabase(url.toString(), pino({ level: "silent" }));
  return {
    db,
    async dispose() {
      await db.close();
      const drop = new pg.Client({ connectionString: baseUrl });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    },
  };
}

/** PGlite, plus PostgreSQL when `databaseUrl` (normally process.env.DATABASE_URL) is set. */
export function testDatabaseTargets(databaseUrl: string | undefined): TestDatabaseTarget[] {
  const targets: TestDatabaseTarget[] = [
    {
      name: "pglite",
      open: async () => {
        const db = await openMemoryPgliteDatabase();
        return { db, dispose: () => db.close() };
      },
    },
  ];
  if (databaseUrl) targets.push({ name: "postgres", open: () => openFreshPostgres(databaseUrl) });
  return targets;
}
