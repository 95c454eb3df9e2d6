/**
 * A whole Tollgate deployment as real processes for end-to-end tests: the mock provider, one
 * control plane (on a fresh PostgreSQL database when DATABASE_URL is set, else on embedded
 * PGlite in a temp dir) and N data-plane nodes.
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
  readonly graphqlUrl: string;
  readonly adminToken: string;
  readonly nodeUrls: readonly string[];
  readonly nodes: RunningProcess[];
  readonly controlPlane: RunningProcess;
  readonly gql: ReturnType<typeof graphqlClient>;
  /** Environment of node `i` (to restart it). */
  nodeEnv(i: number): Record<string, string>;
  stop(): Promise<void>;
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
export async function startStack(nodeCount: number): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), "tollgate-e2e-"));
  const processes: RunningProcess[] = [];
  const database = process.env.DATABASE_URL ? await createDatabase(process.env.DATABASE_URL) : null;
  const adminToken = randomBytes(24).toString("hex");
  const nodeToken = randomBytes(32).toString("hex");
  const [mockPort, httpPort, grpcPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  try {
    const mock = spawnTollgate("mock", "mock-provider", { MOCK_PROVIDER_PORT: String(mockPort) });
    processes.push(mock);
    const controlPlane = spawnTollgate("control-plane", "control-plane", {
      ...(database ? { DATABASE_URL: database.url } : {}),
      TOLLGATE_DATA_DIR: path.join(dir, "control-plane"),
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_NODE_TOKEN: nodeToken,
      TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64"),
      CONTROL_PLANE_HTTP_PORT: String(httpPort),
      CONTROL_PLANE_GRPC_PORT: String(grpcPort),
    });
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
      });
      nodeUrls.push(`http://127.0.0.1:${port}`);
    }
    await waitForHttpOk(`http://127.0.0.1:${mockPort}/v1/models`);
    await waitForHttpOk(`http://127.0.0.1:${httpPort}/readyz`);
    const nodes = nodeEnvs.map((env, i) => spawnTollgate(`node-${i + 1}`, "data-plane", env));
    processes.push(...nodes);
    await Promise.all(nodeUrls.map((u) => waitForHttpOk(`${u}/readyz`)));
    const graphqlUrl = `http://127.0.0.1:${httpPort}/graphql`;
    return {
      mockUrl: `http://127.0.0.1:${mockPort}`,
      graphqlUrl,
      adminToken,
      nodeUrls,
      nodes,
      controlPlane,
      gql: graphqlClient(graphqlUrl, adminToken),
      nodeEnv: (i) => nodeEnvs[i] ?? {},
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
