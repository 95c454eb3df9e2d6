/**
 * Finding a virtual key's secret in a request and hashing it. Headers are checked in the
 * contract's order: `Authorization: Bearer`, `x-bf-vk`, `x-api-key`, `x-goog-api-key`, then the
 * `?key=` query parameter.
 */
import { createHmac } from "node:crypto";

/** Request headers as Fastify/Node expose them (lower-case names). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

const firstValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;

/** The presented secret, or null when no supported header or query parameter carries one. */
export function extractSecret(headers: RequestHeaders, query: unknown): string | null {
  const authorization = firstValue(headers.authorization);
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (m?.[1]) return m[1];
  }
  for (const name of ["x-bf-vk", "x-api-key", "x-goog-api-key"]) {
    const v = firstValue(headers[name]);
    if (v !== undefined) return v;
  }
  if (typeof query === "object" && query !== null && "key" in query) {
    const key = (query as { key: unknown }).key;
    if (typeof key === "string" && key.length > 0) return key;
  }
  return null;
}

/** HMAC-SHA256 (hex) of a secret under the snapshot's pepper key (`Buffer.from(pepper, "hex")`). */
export function hashSecret(secret: string, pepperKey: Buffer): string {
  return createHmac("sha256", pepperKey).update(secret).digest("hex");
}
