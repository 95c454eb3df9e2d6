/** SQL of the `settings` key/value table and the `policy_revision` row. */
import { isoOf, toBigInt, type Queryable } from "../db/database.js";

/** Reads one setting; null when absent. */
export async function getSetting(q: Queryable, key: string): Promise<string | null> {
  const rows = await q.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key]);
  return rows[0]?.value ?? null;
}

/** Inserts a setting unless present; resolves to the stored value (first writer wins). */
export async function insertSettingIfAbsent(q: Queryable, key: string, value: string, nowMs: number): Promise<string> {
  await q.query("INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING", [key, value, isoOf(nowMs)]);
  const stored = await getSetting(q, key);
  if (stored === null) throw new Error(`setting ${key} vanished`);
  return stored;
}

/** Writes a setting (insert or replace). */
export async function putSetting(q: Queryable, key: string, value: string, nowMs: number): Promise<void> {
  await q.query("INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at", [
    key,
    value,
    isoOf(nowMs),
  ]);
}

/** The current policy revision. */
export async function getPolicyRevision(q: Queryable): Promise<bigint> {
  const rows = await q.query<{ revision: string }>("SELECT revision FROM policy_revision");
  return toBigInt(rows[0]?.revision);
}

/** Bumps the policy revision (row-locked until commit) and resolves to the new value. */
export async function bumpPolicyRevision(q: Queryable): Promise<bigint> {
  const rows = await q.query<{ revision: string }>("UPDATE policy_revision SET revision = revision + 1 RETURNING revision");
  return toBigInt(rows[0]?.revision);
}
