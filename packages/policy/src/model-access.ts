/**
 * Model allow/deny lists. Patterns match a whole public model name, case-sensitively; `*` matches
 * any run of characters (including `/` and the empty run); every other character is literal.
 */
import type { ModelAccess } from "./model.js";

/** True when `pattern` matches all of `name` (`*` = any run of characters). */
export function matchesModelPattern(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === "*") {
      starAt = p++;
      resumeAt = n;
    } else if (starAt >= 0) {
      p = starAt + 1;
      n = ++resumeAt;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/** The first pattern of `patterns` that matches any of `names`, or null. */
export function findMatchingPattern(patterns: readonly string[], names: readonly string[]): string | null {
  for (const pattern of patterns) {
    for (const name of names) if (matchesModelPattern(pattern, name)) return pattern;
  }
  return null;
}

/**
 * Whether a model callable under `names` (its plain and `<account>/<name>` names) passes `access`:
 * denied if any name matches a deny pattern; otherwise allowed if the allow list is empty or any
 * name matches an allow pattern.
 */
export function isModelAllowed(access: ModelAccess, names: readonly string[]): boolean {
  if (findMatchingPattern(access.deny, names) !== null) return false;
  return access.allow.length === 0 || findMatchingPattern(access.allow, names) !== null;
}
