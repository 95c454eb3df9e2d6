/**
 * The CLI's own settings (the planes read theirs in their own config.ts).
 */

/** Thrown for a bad setting; its message is one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where the mock provider listens. */
export interface MockProviderSettings {
  readonly port: number;
  readonly host: string;
}

function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}"`);
  return n;
}

/** Reads MOCK_PROVIDER_PORT [9090] and MOCK_PROVIDER_HOST [127.0.0.1]. */
export function loadMockProviderSettings(env: NodeJS.ProcessEnv): MockProviderSettings {
  return Object.freeze({ port: readPort(env, "MOCK_PROVIDER_PORT", 9090), host: env.MOCK_PROVIDER_HOST || "127.0.0.1" });
}

/**
 * A control plane run on its own serves nodes in other processes, so it needs the shared node
 * token (`tollgate start` generates one for its in-process node instead).
 */
export function requireNodeToken(env: NodeJS.ProcessEnv): void {
  if (!env.TOLLGATE_NODE_TOKEN || env.TOLLGATE_NODE_TOKEN.trim() === "") {
    throw new ConfigError("TOLLGATE_NODE_TOKEN: required when the control plane runs as its own process (the shared secret data-plane nodes present)");
  }
}
