/**
 * `Database` over a pg Pool. LISTEN needs a dedicated connection: one client is held for all
 * channels and re-established after an error (callers keep a poll as a safety net).
 */
import pg from "pg";
import type { Logger } from "pino";
import type { Database, Queryable } from "./database.js";

type Handler = (payload: string) => void;

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid channel name ${name}`);
  return `"${name}"`;
}

/** Opens a pg Pool on `connectionString` (int8 and numeric stay strings, pg's default). */
export async function openPgDatabase(connectionString: string, logger: Logger): Promise<Database> {
  const pool = new pg.Pool({ connectionString, max: 10 });
  pool.on("error", (e) => logger.warn({ err: e.message }, "idle postgres client error"));
  await pool.query("SELECT 1");

  const handlers = new Map<string, Set<Handler>>();
  let listenClient: pg.PoolClient | null = null;
  /** Releases the LISTEN client once: its error event may fire after close() released it. */
  let releaseListener: (() => void) | null = null;
  let connecting: Promise<pg.PoolClient> | null = null;
  let closed = false;

  const connectListener = async (): Promise<pg.PoolClient> => {
    const client = await pool.connect();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      client.release(true);
    };
    releaseListener = release;
    client.on("notification", (msg) => {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload ?? "");
    });
    client.on("error", (e) => {
      release();
      if (listenClient === client) listenClient = null;
      if (closed) return;
      logger.warn({ err: e.message }, "postgres LISTEN connection lost; reconnecting");
      setTimeout(() => void ensureListener().catch(() => undefined), 500);
    });
    for (const channel of handlers.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    return client;
  };

  const ensureListener = async (): Promise<pg.PoolClient> => {
    if (listenClient) return listenClient;
    connecting ??= connectListener().finally(() => {
      connecting = null;
    });
    listenClient = await connecting;
    return listenClient;
  };

  const query = async <T extends object>(q: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<T[]> => {
    const res = await q.query(sql, params as unknown[] | undefined);
    return res.rows as T[];
  };

  return {
    kind: "postgres",
    query: (sql, params) => query(pool, sql, params),
    async transaction<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn({ query: (sql, params) => query(client, sql, params) });
        await client.query("COMMIT");
        return result;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async listen(channel, handler) {
      let set = handlers.get(channel);
      const isNew = set === undefined;
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(handler);
      const client = await ensureListener();
      if (isNew) await client.query(`LISTEN ${quoteIdent(channel)}`);
      return async () => {
        set.delete(handler);
      };
    },
    async notify(channel, payload) {
      await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      closed = true;
      releaseListener?.();
      listenClient = null;
      await pool.end();
    },
  };
}
