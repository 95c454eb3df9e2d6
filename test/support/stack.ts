/**
 * A whole Tollgate deployment as real processes for end-to-end tests: the mock provider, one
 * control plane (on a fresh PostgreSQL database when DATABASE_URL is set, else on embedded
 * PGlite in a temp dir) and N data-plane nodes. Fault tests restart or kill the control plane on
 * the same ports, start extra control-plane replicas on the same database (PostgreSQL only), and
 * restart nodes with their data directory (snapshot cache and usage spool) kept.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { findFreePort, spawnTollgate, waitForHttpOk, type RunningProcess } from "./processes.js";
import { graphqlClient } from "./graphql.js";

/** A running stack and the handles tests need. */
export interface Stack {
  readonly mockUrl: string;
  /** The mock provider's process. */
  readonly mock: RunningProcess;
  readonly graphqlUrl: string;
  readonly adminToken: string;
  readonly nodeUrls: readonly string[];
  readonly nodes: RunningProcess[];
  /** The first control plane's current process (replaced by `restartControlPlane`). */
  readonly controlPlane: RunningProcess;
  readonly gql: ReturnType<typeof graphqlClient>;
  /** Environment of node `i` (to restart it). */
  nodeEnv(i: number): Record<string, string>;
  stop(): Promise<void>;
  /** gRPC address (host:port) of the first control plane. */
  readonly grpcAddress: string;
  /** The first control plane's data directory (the PGlite database lives there without DATABASE_URL). */
  readonly controlPlaneDir: string;
  /** The first control plane's environment (ports, tokens, database). */
  controlPlaneEnv(): Record<string, string>;
  /** Stops the first control plane (SIGKILL by default: a crash) and waits for its exit. */
  killControlPlane(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the first control plane again on the same ports and database (`extraEnv` replaces settings); resolves once ready. */
  restartControlPlane(extraEnv?: Record<string, string>): Promise<RunningProcess>;
  /** Starts another control-plane process on the same PostgreSQL database (throws without DATABASE_URL). */
  startReplica(extraEnv?: Record<string, string>): Promise<ControlPlaneReplica>;
  /** Stops node `i` (SIGTERM: graceful; SIGKILL: a crash) and starts it again with the same id, data directory and `extraEnv`. */
  restartNode(i: number, signal?: NodeJS.Signals, extraEnv?: Record<string, string>): Promise<RunningProcess>;
  /** Stops node `i` and waits for its exit (it stays down). */
  stopNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts one more node (id `node-<n>`) with `extraEnv`; resolves to its index once it is ready. */
  addNode(extraEnv?: Record<string, string>): Promise<number>;
}

/** An extra control-plane replica started by `Stack.startReplica`. */
export interface ControlPlaneReplica {
  readonly process: RunningProcess;
  readonly graphqlUrl: string;
  readonly grpcAddress: string;
  readonly gql: ReturnType<typeof graphqlClient>;
}

/** Options of `startStack`. */
export interface StackOptions {
  /** Extra environment of the control plane (e.g. TOLLGATE_GRANT_TTL_MS). */
  readonly controlPlaneEnv?: Record<string, string>;
  /** Extra environment of node `i` (e.g. a CONTROL_PLANE_URL list). */
  readonly nodeEnv?: (i: number) => Record<string, string>;
}

async function createDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tollgate_e2e_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Starts the mock provider, a control plane and `nodeCount` data-plane nodes. */
export async function startStack(nodeCount: number, options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), "tollgate-e2e-"));
  const processes: RunningProcess[] = [];
  const database = process.env.DATABASE_URL ? await createDatabase(process.env.DATABASE_URL) : null;
  const adminToken = randomBytes(24).toString("hex");
  const nodeToken = randomBytes(32).toString("hex");
  const [mockPort, httpPort, grpcPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  try {
    const mock = spawnTollgate("mock", "mock-provider", { MOCK_PROVIDER_PORT: String(mockPort) });
    processes.push(mock);
    const cpEnv: Record<string, string> = {
      ...(database ? { DATABASE_URL: database.url } : {}),
      TOLLGATE_DATA_DIR: path.join(dir, "control-plane"),
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_NODE_TOKEN: nodeToken,
      TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64"),
      CONTROL_PLANE_HTTP_PORT: String(httpPort),
      CONTROL_PLANE_GRPC_PORT: String(grpcPort),
      ...options.controlPlaneEnv,
    };
    let controlPlane = spawnTollgate("control-plane", "control-plane", cpEnv);
    processes.push(controlPlane);
    const nodeEnvs: Record<string, string>[] = [];
    const nodeUrls: string[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const port = await findFreePort();
      nodeEnvs.push({
        PORT: String(port),
        NODE_ID: `node-${i + 1}`,
        CONTROL_PLANE_URL: `127.0.0.1:${grpcPort}`,
        TOLLGATE_NODE_TOKEN: nodeToken,
        TOLLGATE_DATA_DIR: path.join(dir, `node-${i + 1}`),
        ...options.nodeEnv?.(i),
      });
      nodeUrls.push(`http://127.0.0.1:${port}`);
    }
    await waitForHttpOk(`http://127.0.0.1:${mockPort}/v1/models`);
    await waitForHttpOk(`http://127.0.0.1:${httpPort}/readyz`);
    const nodes = nodeEnvs.map((env, i) => spawnTollgate(`node-${i + 1}`, "data-plane", env));
    processes.push(...nodes);
    await Promise.all(nodeUrls.map((u) => waitForHttpOk(`${u}/readyz`)));
    const graphqlUrl = `http://127.0.0.1:${httpPort}/graphql`;
    const replace = (old: RunningProcess, next: RunningProcess): void => {
      const at = processes.indexOf(old);
      if (at >= 0) processes[at] = next;
      else processes.push(next);
    };
    return {
      mockUrl: `http://127.0.0.1:${mockPort}`,
      mock,
      graphqlUrl,
      adminToken,
      nodeUrls,
      nodes,
      get controlPlane() {
        return controlPlane;
      },
      gql: graphqlClient(graphqlUrl, adminToken),
      nodeEnv: (i) => nodeEnvs[i] ?? {},
      grpcAddress: `127.0.0.1:${grpcPort}`,
      controlPlaneDir: path.join(dir, "control-plane"),
      controlPlaneEnv: () => ({ ...cpEnv }),
      async killControlPlane(signal = "SIGKILL") {
        await controlPlane.stop(signal);
      },
      async restartControlPlane(extraEnv = {}) {
        await controlPlane.stop("SIGKILL");
        const next = spawnTollgate("control-plane", "control-plane", { ...cpEnv, ...extraEnv });
        replace(controlPlane, next);
        controlPlane = next;
        await waitForHttpOk(`http://127.0.0.1:${httpPort}/readyz`).catch((err: unknown) => {
          throw new Error(`${String(err)}; control plane output:\n${next.output()}`);
        });
        return next;
      },
      async startReplica(extraEnv = {}) {
        if (!database) throw new Error("control-plane replicas need DATABASE_URL (PGlite is single-process)");
        const [replicaHttp, replicaGrpc] = [await findFreePort(), await findFreePort()];
        const replica = spawnTollgate(`control-plane-${processes.length}`, "control-plane", {
          ...cpEnv,
          CONTROL_PLANE_HTTP_PORT: String(replicaHttp),
          CONTROL_PLANE_GRPC_PORT: String(replicaGrpc),
          ...extraEnv,
        });
        processes.push(replica);
        await waitForHttpOk(`http://127.0.0.1:${replicaHttp}/readyz`);
        const url = `http://127.0.0.1:${replicaHttp}/graphql`;
        return { process: replica, graphqlUrl: url, grpcAddress: `127.0.0.1:${replicaGrpc}`, gql: graphqlClient(url, adminToken) };
      },
      async restartNode(i, signal = "SIGTERM", extraEnv = {}) {
        const old = nodes[i];
        if (!old) throw new Error(`no node ${i}`);
        await old.stop(signal);
        nodeEnvs[i] = { ...(nodeEnvs[i] ?? {}), ...extraEnv };
        const next = spawnTollgate(`node-${i + 1}`, "data-plane", nodeEnvs[i] ?? {});
        nodes[i] = next;
        replace(old, next);
        return next;
      },
      async stopNode(i, signal = "SIGTERM") {
        await nodes[i]?.stop(signal);
      },
      async addNode(extraEnv = {}) {
        const i = nodeEnvs.length;
        const port = await findFreePort();
        const env = {
          PORT: String(port),
          NODE_ID: `node-${i + 1}`,
          CONTROL_PLANE_URL: `127.0.0.1:${grpcPort}`,
          TOLLGATE_NODE_TOKEN: nodeToken,
          TOLLGATE_DATA_DIR: path.join(dir, `node-${i + 1}`),
          ...extraEnv,
        };
        nodeEnvs.push(env);
        const url = `http://127.0.0.1:${port}`;
        nodeUrls.push(url);
        const node = spawnTollgate(`node-${i + 1}`, "data-plane", env);
        nodes.push(node);
        processes.push(node);
        await waitForHttpOk(`${url}/readyz`);
        return i;
      },
      async stop() {
        await Promise.all(processes.map((p) => p.stop()));
        if (database) await database.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    if (database) await database.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
