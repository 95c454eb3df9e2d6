/**
 * The database seam: one small interface implemented by a pg Pool (PostgreSQL) and by PGlite
 * (embedded). int8/numeric values come back as strings on both; repositories convert to bigint.
 */

/** Something that runs parameterized SQL and returns rows. */
export interface Queryable {
  /** Runs one statement with `$1..$n` parameters and returns its rows. */
  query<T extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A connection to the control plane's database. */
export interface Database extends Queryable {
  /** "postgres" (pg Pool) or "pglite" (embedded). */
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. Use only `tx` inside. */
  transaction<R>(fn: (tx: Queryable) => Promise<R>): Promise<R>;
  /** Subscribes to a NOTIFY channel; resolves to an unsubscribe function. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /** Sends a NOTIFY on a channel (call after commit). */
  notify(channel: string, payload: string): Promise<void>;
  /** Closes every connection; listeners stop. */
  close(): Promise<void>;
}

/** True when `e` is a unique-constraint violation (SQLSTATE 23505) from pg or PGlite. */
export function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

/** Converts an int8/numeric column value (string on both drivers) to bigint; null stays null. */
export function toBigIntOrNull(v: unknown): bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v;
  if (typeof v === "number" || typeof v === "string") return BigInt(v);
  throw new TypeError(`not an integer column value: ${typeof v}`);
}

/** Converts an int8/numeric column value to bigint (null/undefined -> 0n). */
export function toBigInt(v: unknown): bigint {
  return toBigIntOrNull(v) ?? 0n;
}

/** Converts a timestamptz column value (Date on both drivers) to epoch ms; null stays null. */
export function toMsOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "string" || typeof v === "number") return new Date(v).getTime();
  throw new TypeError("not a timestamp column value");
}

/** Epoch ms as the ISO string passed to timestamptz parameters. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}
