/**
 * The node's pino logger. Key headers, provider credentials and request/response bodies are
 * redacted wherever they appear in a log object.
 */
import { pino, type DestinationStream, type Logger } from "pino";

/** Paths pino censors in every log line. */
export const REDACTED_LOG_PATHS: readonly string[] = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-bf-vk"]',
  "req.query.key",
  "headers.authorization",
  'headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  'headers["api-key"]',
  'headers["x-bf-vk"]',
  "body",
  "req.body",
  "res.body",
  "apiKey",
  "*.apiKey",
  "secret",
  "*.secret",
  "hmacPepper",
  "*.hmacPepper",
];

/** Creates the node's root logger (JSON to stdout unless `destination` is given). */
export function createDataPlaneLogger(level: string, nodeId: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { component: "data-plane", nodeId },
    redact: { paths: [...REDACTED_LOG_PATHS], censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}
