/** Input rules shared by services; each failure is BAD_USER_INPUT with a message naming the field. */
import { checkOutboundUrl } from "@tollgate/policy";
import { badInput } from "../errors.js";

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@\-/]{0,199}$/;
const MODEL_PATTERN = /^[A-Za-z0-9*][A-Za-z0-9._:@\-/*]{0,199}$/;

/** A trimmed non-empty name of at most 200 characters. */
export function requireName(field: string, v: string): string {
  const s = v.trim();
  if (s.length === 0 || s.length > 200) throw badInput(`${field} must be 1-200 characters`);
  return s;
}

/** A slug: lowercase letters, digits and inner dashes, 1-64 characters. */
export function requireSlug(field: string, v: string): string {
  if (!SLUG.test(v)) throw badInput(`${field} must be 1-64 lowercase letters, digits or dashes (not at the ends), got "${v}"`);
  return v;
}

/** A lowercased email address. */
export function requireEmail(v: string): string {
  const s = v.trim().toLowerCase();
  if (!EMAIL.test(s) || s.length > 320) throw badInput(`email is not a valid address: "${v}"`);
  return s;
}

/** A public model name (no `*`). */
export function requireModelName(field: string, v: string): string {
  if (!MODEL_NAME.test(v)) throw badInput(`${field} is not a valid model name: "${v}"`);
  return v;
}

/** Allow/deny list entries: model names, `*` patterns allowed; duplicates removed. */
export function requireModelPatterns(field: string, v: readonly string[]): string[] {
  for (const p of v) if (!MODEL_PATTERN.test(p)) throw badInput(`${field} has an invalid model pattern: "${p}"`);
  return [...new Set(v)];
}

/**
 * An http(s) URL the gateway will call: not longer than 2000 characters and, unless
 * `allowLinkLocal` (TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND), not at a link-local or cloud-metadata address.
 */
export function requireOutboundUrl(field: string, v: string, allowLinkLocal: boolean): URL {
  if (v.length > 2000) throw badInput(`${field} is longer than 2000 characters`);
  const checked = checkOutboundUrl(v, allowLinkLocal);
  if (!checked.ok) throw badInput(checked.reason === "is not a URL" ? `${field} is not a URL: "${v}"` : `${field} ${checked.reason}`);
  return checked.url;
}

/** A provider base URL (see `requireOutboundUrl`) without trailing slash. */
export function requireBaseUrl(v: string, allowLinkLocal: boolean): string {
  requireOutboundUrl("baseUrl", v, allowLinkLocal);
  return v.replace(/\/+$/, "");
}

/** An integer in [min, max]. */
export function requireInt(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw badInput(`${field} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}
