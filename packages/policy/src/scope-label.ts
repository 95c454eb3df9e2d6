/** How scopes are named in refusal messages and checks. */
import type { Scope } from "./model.js";

/** `virtual key "ci"`, `team "search"`: how a scope is named in messages. */
export function formatScopeLabel(scope: Scope, name: string): string {
  const noun = scope === "ORGANIZATION" ? "organization" : scope === "TEAM" ? "team" : scope === "USER" ? "user" : "virtual key";
  return `${noun} "${name}"`;
}
