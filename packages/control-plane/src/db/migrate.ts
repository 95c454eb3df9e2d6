/**
 * Migration runner: plain `migrations/NNN_name.sql` files applied in order, each in its own
 * transaction under a transaction-scoped advisory lock, recorded in `schema_migrations`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Database, Queryable } from "./database.js";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));
const LOCK_KEY = 7_461_203_001;

/** One migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Lists the migration files of `dir` (default: the package's `migrations/`), ordered by version. */
export function listMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number.parseInt(f.slice(0, 3), 10), name: f.replace(/\.sql$/, ""), sql: readFileSync(`${dir}/${f}`, "utf8") }));
}

async function ensureTable(q: Queryable): Promise<void> {
  await q.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
}

/** Applies every pending migration; resolves to the names applied now. Safe to run concurrently. */
export async function migrate(db: Database, migrations: readonly Migration[] = listMigrations()): Promise<string[]> {
  const applied: string[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      await ensureTable(tx);
      const rows = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (rows.length > 0) return false;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.name);
  }
  return applied;
}

/** True when every known migration is recorded as applied. */
export async function isMigrated(db: Queryable, migrations: readonly Migration[] = listMigrations()): Promise<boolean> {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists[0]?.t) return false;
  const rows = await db.query<{ version: number }>("SELECT version FROM schema_migrations");
  const have = new Set(rows.map((r) => Number(r.version)));
  return migrations.every((m) => have.has(m.version));
}

/**
 * Splits a migration file into statements at semicolons outside `$$ ... $$` bodies (function
 * bodies may hold semicolons; our files put none inside strings).
 */
export function splitStatements(sql: string): string[] {
  const text = sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n");
  const statements: string[] = [];
  let current = "";
  let inBody = false;
  for (const part of text.split(/(\$\$|;)/)) {
    if (part === ";" && !inBody) {
      statements.push(current);
      current = "";
      continue;
    }
    if (part === "$$") inBody = !inBody;
    current += part;
  }
  statements.push(current);
  return statements.map((s) => s.trim()).filter((s) => s.length > 0);
}
