/**
 * The CLI's commands. Each starts its servers, prints where they listen, and stops them cleanly
 * on SIGINT/SIGTERM. A configuration mistake prints one line naming the setting and exits 1.
 */
import { randomBytes } from "node:crypto";
import { loadMockProviderSettings, requireNodeToken } from "./config.js";

// Each command imports only the plane it runs: a data-plane node must not load the control
// plane's GraphQL stack and embedded database (about 130 MB of resident memory).
const controlPlaneModule = () => import("@tollgate/control-plane");
const dataPlaneModule = () => import("@tollgate/data-plane");

/** Something running that must be closed on shutdown. */
interface Closable {
  close(): Promise<void>;
}

const USAGE = `usage: tollgate <command>

commands:
  start           control plane + one data-plane node on the embedded database (or DATABASE_URL)
  control-plane   the GraphQL control plane and its gRPC policy/usage server
  data-plane      one data-plane node (needs TOLLGATE_NODE_TOKEN and CONTROL_PLANE_URL)
  mock-provider   a deterministic OpenAI-shaped upstream for demos and tests`;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function isConfigError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ConfigError";
}

function closeOnSignals(parts: readonly Closable[]): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    print(`tollgate: ${signal} received, shutting down`);
    void (async () => {
      for (const part of parts) {
        try {
          await part.close();
        } catch (err) {
          process.stderr.write(`tollgate: error while shutting down: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
      process.exit(0);
    })();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

async function runStart(env: NodeJS.ProcessEnv): Promise<void> {
  const { loadControlPlaneConfig, startControlPlane } = await controlPlaneModule();
  const { loadDataPlaneConfig, startDataPlane } = await dataPlaneModule();
  const nodeToken = env.TOLLGATE_NODE_TOKEN ?? randomBytes(32).toString("hex");
  const controlPlane = await startControlPlane(loadControlPlaneConfig({ ...env, TOLLGATE_NODE_TOKEN: nodeToken }));
  let dataPlane;
  try {
    dataPlane = await startDataPlane(loadDataPlaneConfig({ ...env, TOLLGATE_NODE_TOKEN: nodeToken, CONTROL_PLANE_URL: controlPlane.grpcAddress, NODE_ID: env.NODE_ID ?? "local" }));
  } catch (err) {
    await controlPlane.close();
    throw err;
  }
  closeOnSignals([dataPlane, controlPlane]);
  await dataPlane.ready;
  print("Tollgate is running (control plane + one data-plane node)");
  print(`  GraphQL (admin API and playground): ${controlPlane.httpUrl}/graphql`);
  print(`  Gateway (OpenAI-compatible):        ${dataPlane.url}/v1`);
  printAdminToken(controlPlane.adminToken);
}

function printAdminToken(token: string | null): void {
  if (token === null) return;
  print(`  admin token: ${token}`);
  print("  (shown once: it is stored hashed. Set TOLLGATE_ADMIN_TOKEN to choose your own.)");
}

async function runControlPlane(env: NodeJS.ProcessEnv): Promise<void> {
  requireNodeToken(env);
  const { loadControlPlaneConfig, startControlPlane } = await controlPlaneModule();
  const controlPlane = await startControlPlane(loadControlPlaneConfig(env));
  closeOnSignals([controlPlane]);
  print("Tollgate control plane is running");
  print(`  GraphQL: ${controlPlane.httpUrl}/graphql`);
  print(`  gRPC:    ${controlPlane.grpcAddress}`);
  printAdminToken(controlPlane.adminToken);
}

async function runDataPlane(env: NodeJS.ProcessEnv): Promise<void> {
  const { loadDataPlaneConfig, startDataPlane } = await dataPlaneModule();
  const dataPlane = await startDataPlane(loadDataPlaneConfig(env));
  closeOnSignals([dataPlane]);
  print(`Tollgate data-plane node ${dataPlane.nodeId} is listening on ${dataPlane.url}`);
  void dataPlane.ready.then(() => print(`data-plane node ${dataPlane.nodeId} is ready (policy snapshot held)`));
}

async function runMockProvider(env: NodeJS.ProcessEnv): Promise<void> {
  const settings = loadMockProviderSettings(env);
  const { startMockProvider } = await import("@tollgate/mock-provider");
  const mock = await startMockProvider(settings);
  closeOnSignals([mock]);
  print(`mock provider listening on ${mock.url} (OpenAI base URL ${mock.baseUrl})`);
}

/** Runs one CLI command; returns an exit code, or null when the command keeps running. */
export async function runCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const command = argv[0];
  try {
    switch (command) {
      case "start":
        await runStart(env);
        return null;
      case "control-plane":
        await runControlPlane(env);
        return null;
      case "data-plane":
        await runDataPlane(env);
        return null;
      case "mock-provider":
        await runMockProvider(env);
        return null;
      case undefined:
      case "help":
      case "--help":
        print(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`tollgate: unknown command "${command}"\n${USAGE}\n`);
        return 1;
    }
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`tollgate: ${err.message}\n`);
    } else {
      process.stderr.write(`tollgate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      if (env.TOLLGATE_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ""}\n`);
    }
    return 1;
  }
}
