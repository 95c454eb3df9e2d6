/**
 * Strings PostgreSQL cannot store never reach a service: every resolver's arguments (nested
 * inputs, lists, JSON metadata keys and values) are checked for NUL characters and unpaired
 * UTF-16 surrogates, and such an input is BAD_USER_INPUT naming the field (`input.name`).
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

function isWalkable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !(v instanceof Date);
}

/**
 * The first string in `value` (walked iteratively: no recursion limit to hit) that cannot be
 * stored, as `{ path, reason }`; null when there is none. Object keys are checked too.
 */
export function findUnstorableString(value: unknown, rootPath: string): { path: string; reason: string } | null {
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: rootPath }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: v, path } = item;
    if (typeof v === "string") {
      const reason = unstorableReason(v);
      if (reason !== null) return { path, reason };
    } else if (Array.isArray(v)) {
      v.forEach((el, i) => pending.push({ value: el, path: `${path}[${i}]` }));
    } else if (isWalkable(v)) {
      for (const [key, el] of Object.entries(v)) {
        const keyPath = path === "" ? key : `${path}.${key}`;
        const keyReason = unstorableReason(key);
        if (keyReason !== null) return { path: `${path === "" ? "" : `${path}: `}key ${JSON.stringify(key)}`, reason: keyReason };
        pending.push({ value: el, path: keyPath });
      }
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
