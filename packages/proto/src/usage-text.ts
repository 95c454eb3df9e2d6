/**
 * The text rules of a usage record on the wire, shared by both planes: every string field is valid
 * UTF-8 (no lone surrogate), holds no NUL (PostgreSQL's `text` and `jsonb` refuse it) and fits its
 * byte limit. The node makes its records so (`boundUsageText`); the control plane checks what it
 * receives against the same table (`usageTextProblem`) and dead-letters a record that breaks it.
 */
import type { UsageRecord } from "./gen/tollgate/v1/policy_pb.js";

/** Byte limits (UTF-8) of the string fields of `UsageRecord` and `BudgetCharge`. */
export const USAGE_TEXT_LIMITS = {
  requestId: 128,
  nodeId: 128,
  bootId: 128,
  organizationId: 128,
  virtualKeyId: 128,
  userId: 128,
  teamId: 128,
  model: 256,
  modelId: 128,
  providerAccountId: 128,
  upstreamModel: 256,
  route: 256,
  errorCode: 64,
  budgetId: 128,
} as const;

/** A string field of a usage record that has a limit. */
export type UsageTextField = keyof typeof USAGE_TEXT_LIMITS;

/** Why a string breaks the rules. */
export type UsageTextProblem = "nul" | "ill_formed" | "too_long";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point (PostgreSQL text cannot hold it).
const NUL = /\u0000/g;
const LONE_SURROGATE_SOURCE = "[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]";
const LONE_SURROGATES = new RegExp(LONE_SURROGATE_SOURCE, "g");
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE);
const REPLACEMENT = "\uFFFD";
/** A NUL or any surrogate (paired or not): the only characters that may need replacing. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters looked for.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

/** Bytes of `s` in UTF-8 (lone surrogates count 3, as they are encoded as U+FFFD). */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * `s` made storable: NULs and lone surrogates become U+FFFD, then the text is cut at a code-point
 * boundary to at most `maxBytes` UTF-8 bytes. A string that already follows the rules is returned as is.
 */
export function boundUsageText(s: string, maxBytes: number): string {
  // Fast path (almost every string): nothing to replace and surely within the limit.
  if (!SUSPECT.test(s) && s.length * 3 <= maxBytes) return s;
  const out = s.replace(NUL, REPLACEMENT).replace(LONE_SURROGATES, REPLACEMENT);
  if (out.length * 3 <= maxBytes || utf8Length(out) <= maxBytes) return out;
  // Each UTF-16 unit is at most 3 UTF-8 bytes: keep a prefix that surely fits, then grow it by code points.
  let end = Math.min(out.length, maxBytes);
  while (end > 0 && utf8Length(out.slice(0, end)) > maxBytes) end--;
  // Never keep the high half of a surrogate pair without its low half.
  const last = out.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return out.slice(0, end);
}

/** What is wrong with `s` under the rules (null = nothing). */
export function usageTextProblem(s: string, maxBytes: number): UsageTextProblem | null {
  if (s.includes("\u0000")) return "nul";
  if (HAS_LONE_SURROGATE.test(s)) return "ill_formed";
  // Every UTF-16 unit takes at least one byte and at most three.
  if (s.length > maxBytes || (s.length * 3 > maxBytes && utf8Length(s) > maxBytes)) return "too_long";
  return null;
}

/** The string fields of a record with their values (charges' budget ids as `budgetId`). */
function textFieldsOf(r: UsageRecord): Array<[UsageTextField, string]> {
  const fields: Array<[UsageTextField, string]> = [
    ["requestId", r.requestId],
    ["nodeId", r.nodeId],
    ["bootId", r.bootId],
    ["organizationId", r.organizationId],
    ["virtualKeyId", r.virtualKeyId],
    ["userId", r.userId],
    ["teamId", r.teamId],
    ["model", r.model],
    ["modelId", r.modelId],
    ["providerAccountId", r.providerAccountId],
    ["upstreamModel", r.upstreamModel],
    ["route", r.route],
    ["errorCode", r.errorCode],
  ];
  for (const c of r.charges) fields.push(["budgetId", c.budgetId]);
  return fields;
}

/** The first string field of `r` that breaks the rules, with the problem (null = every field is fine). */
export function usageRecordTextProblem(r: UsageRecord): { field: UsageTextField; problem: UsageTextProblem } | null {
  for (const [field, value] of textFieldsOf(r)) {
    const problem = usageTextProblem(value, USAGE_TEXT_LIMITS[field]);
    if (problem !== null) return { field, problem };
  }
  return null;
}
