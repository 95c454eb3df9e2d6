/** The control plane's pino logger: JSON, with secrets and authorization headers redacted. */
import { pino, type Logger } from "pino";

/** Paths redacted from every log line. */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "headers.authorization",
  "metadata.authorization",
  "apiKey",
  "*.apiKey",
  "secret",
  "*.secret",
  "token",
  "*.token",
  "masterKey",
  "*.masterKey",
  "hmacPepper",
  "*.hmacPepper",
];

/** Creates the root logger at `level`. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { component: "control-plane" }, redact: { paths: REDACT_PATHS, censor: "[redacted]" } });
}
