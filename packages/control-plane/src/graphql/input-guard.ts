/**
 * Values PostgreSQL cannot store never reach a service: every resolver's arguments (nested
 * inputs, lists, JSON metadata keys and values) are checked for NUL characters and unpaired
 * UTF-16 surrogates, and for nesting deeper than `MAX_INPUT_DEPTH` (JSON metadata nested
 * thousands deep overflows the serializer); such an input is BAD_USER_INPUT naming the field
 * (`input.name`).
 */
import type { MiddlewareFn } from "type-graphql";
import { badInput } from "../errors.js";

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot be stored, or null when it can. */
export function unstorableReason(s: string): string | null {
  if (s.includes("\u0000")) return "must not contain NUL characters (\\u0000)";
  if (UNPAIRED_SURROGATE.test(s)) return "must be valid Unicode (it has an unpaired surrogate)";
  return null;
}

/** How deep an argument value may nest (arguments, inputs, lists and JSON levels together). */
export const MAX_INPUT_DEPTH = 40;

function isWalkable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !(v instanceof Date);
}

/**
 * The first string in `value` (walked iteratively: no recursion limit to hit) that cannot be
 * stored, as `{ path, reason }`; null when there is none. Object keys are checked too.
 */
export function findUnstorableString(value: unknown, rootPath: string): { path: string; reason: string } | null {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: rootPath, depth: 0 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: v, path, depth } = item;
    if (typeof v === "string") {
      const reason = unstorableReason(v);
      if (reason !== null) return { path, reason };
      continue;
    }
    if (!isWalkable(v)) continue;
    if (depth >= MAX_INPUT_DEPTH) return { path, reason: `is nested deeper than ${MAX_INPUT_DEPTH} levels` };
    if (Array.isArray(v)) {
      v.forEach((el, i) => pending.push({ value: el, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [key, el] of Object.entries(v)) {
      const keyReason = unstorableReason(key);
      if (keyReason !== null) return { path: `${path === "" ? "" : `${path}: `}key ${JSON.stringify(key)}`, reason: keyReason };
      pending.push({ value: el, path: path === "" ? key : `${path}.${key}`, depth: depth + 1 });
    }
  }
  return null;
}

/** Global type-graphql middleware: refuses a field whose arguments hold an unstorable string. */
export const rejectUnstorableStrings: MiddlewareFn = async ({ args }, next) => {
  const found = findUnstorableString(args, "");
  if (found !== null) throw badInput(`${found.path} ${found.reason}`);
  return next();
};
