/** Runs the mock provider standalone (OpenAI, Anthropic and Gemini routes): `tsx packages/mock-provider/src/main.ts`. */
import { readMockProviderConfig, type MockProviderConfig } from "./config.js";
import { startMockProvider } from "./mock-provider.server.js";

/** Starts the mock with the environment's settings and stops it on SIGINT/SIGTERM. */
async function runMockProvider(config: MockProviderConfig): Promise<void> {
  const mock = await startMockProvider({ port: config.port, host: config.host });
  process.stdout.write(`mock provider listening on ${mock.url} (OpenAI base URL ${mock.baseUrl}; Anthropic and Google base URL ${mock.url})\n`);
  const stop = (): void => {
    mock.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

let config: MockProviderConfig;
try {
  config = readMockProviderConfig();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
runMockProvider(config).catch((err: unknown) => {
  process.stderr.write(`mock provider failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
