/** The standalone mock's configuration: the one place in this package that reads the environment. */

/** Validated settings of `main.ts`. */
export interface MockProviderConfig {
  readonly port: number;
  readonly host: string;
}

/** Reads `MOCK_PROVIDER_PORT` [9090] and `MOCK_PROVIDER_HOST` [127.0.0.1]; throws one clear line when invalid. */
export function readMockProviderConfig(env: NodeJS.ProcessEnv = process.env): MockProviderConfig {
  const rawPort = env["MOCK_PROVIDER_PORT"] ?? "9090";
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65_535) throw new Error(`MOCK_PROVIDER_PORT must be a port number (0-65535), got "${rawPort}"`);
  const host = env["MOCK_PROVIDER_HOST"] ?? "127.0.0.1";
  if (host.length === 0) throw new Error("MOCK_PROVIDER_HOST must not be empty");
  return Object.freeze({ port, host });
}
