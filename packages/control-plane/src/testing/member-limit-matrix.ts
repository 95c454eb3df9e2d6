/**
 * Test support: the member half of the role matrix — members cannot lift what admins set
 * (`services/member-limits.ts`). Every mutation that takes limit-bearing input or answers with a
 * limit (found in the schema by `isLimitBearing`) must have an entry here; the matrix test fails
 * otherwise, so a new mutation cannot forget the rule. Each case is a call by the MEMBER on their
 * own personal key, on which an admin set every kind of limit (`LimitedKey`): FORBIDDEN cases
 * loosen something and must leave every limit as it was; allowed cases only tighten. An ADMIN of
 * the organization making the same call is always allowed.
 */
import type { MatrixContext, SampleCall } from "./role-matrix.js";

/** Input fields that set a limit (budgets, rate limits, the cost cap, expiry, model lists, guardrails). */
export const LIMIT_INPUT_FIELDS: readonly string[] = [
  "budgets",
  "rateLimits",
  "maxCostPerRequest",
  "expiresAt",
  "allowedModels",
  "deniedModels",
  "allow",
  "deny",
  "rules",
  "limit",
  "mode",
  "enforcement",
  "alertThresholds",
  "windowSeconds",
];
/** Output types that are limits: a mutation answering one changes one. */
export const LIMIT_TYPES: readonly string[] = ["Budget", "RateLimit", "Guardrails", "ModelAccess"];

/** Mutations that change whether a key serves at all (a pause is a limit too). */
export const KEY_STATUS_MUTATIONS: readonly string[] = ["pauseVirtualKey", "resumeVirtualKey"];

/** Whether a mutation is limit-bearing, from its name, its input's field names and its payload's field types. */
export function isLimitBearing(name: string, inputFields: readonly string[], payloadFieldTypes: readonly string[]): boolean {
  return KEY_STATUS_MUTATIONS.includes(name) || inputFields.some((f) => LIMIT_INPUT_FIELDS.includes(f)) || payloadFieldTypes.some((t) => LIMIT_TYPES.includes(t));
}

/** The member's personal key with limits of every kind set by the platform admin. */
export interface LimitedKey {
  readonly id: string;
  readonly name: string;
  readonly budgetId: string;
  readonly rateLimitId: string;
}

/** The admin's limits on a `LimitedKey` (createVirtualKey fields; guardrails set separately). */
export const ADMIN_KEY_LIMITS = {
  allowedModels: ["chat-*"],
  deniedModels: ["chat-large"],
  maxCostPerRequest: "1",
  budgets: [{ unit: "USD", window: "DAY", limit: "5", mode: "HARD", enforcement: "CAP_OUTPUT", alertThresholds: [0.5, 0.8] }],
  rateLimits: [{ unit: "REQUESTS", limit: 10, windowSeconds: 60 }],
} as const;
/** The admin's guardrails on a `LimitedKey`. */
export const ADMIN_KEY_GUARDRAILS = [
  { name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["password"] },
  { name: "short", kind: "MAX_INPUT_TOKENS", limit: 1000 },
] as const;
/** How far the admin's expiry is (the key expires then). */
export const ADMIN_KEY_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/** One call of the member on their limited key. */
export interface MemberLimitCase {
  readonly label: string;
  readonly expect: "FORBIDDEN" | "allowed";
  call(ctx: MatrixContext, key: LimitedKey): SampleCall | Promise<SampleCall>;
}

const upper = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const mutation = (name: string, selection: string, input: Record<string, unknown>): SampleCall => ({
  query: `mutation($i: ${upper(name)}Input!) { ${name}(input: $i) { ${selection} } }`,
  variables: { i: input },
});
const loosen = (label: string, call: MemberLimitCase["call"]): MemberLimitCase => ({ label, expect: "FORBIDDEN", call });
const tighten = (label: string, call: MemberLimitCase["call"]): MemberLimitCase => ({ label, expect: "allowed", call });
const inDays = (days: number): string => new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();
const usdDay = (limit: string, extra: Record<string, unknown> = {}) => ({ unit: "USD", window: "DAY", limit, alertThresholds: [0.5, 0.8], ...extra });
const update =
  (patch: Record<string, unknown>) =>
  (_: MatrixContext, k: LimitedKey): SampleCall =>
    mutation("updateVirtualKey", "virtualKey { id }", { id: k.id, ...patch });
const setBudget =
  (spec: Record<string, unknown>) =>
  (_: MatrixContext, k: LimitedKey): SampleCall =>
    mutation("setBudget", "budget { id }", { scope: "VIRTUAL_KEY", scopeId: k.id, ...spec });
const setRate =
  (unit: string, limit: number, windowSeconds: number) =>
  (_: MatrixContext, k: LimitedKey): SampleCall =>
    mutation("setRateLimit", "rateLimit { id }", { scope: "VIRTUAL_KEY", scopeId: k.id, unit, limit, windowSeconds });
const setAccess =
  (allow: string[], deny: string[]) =>
  (_: MatrixContext, k: LimitedKey): SampleCall =>
    mutation("setModelAccess", "modelAccess { allow }", { scope: "VIRTUAL_KEY", scopeId: k.id, allow, deny });
const setRules =
  (rules: readonly Record<string, unknown>[]) =>
  (_: MatrixContext, k: LimitedKey): SampleCall =>
    mutation("setGuardrails", "guardrails { scopeId }", { scope: "VIRTUAL_KEY", scopeId: k.id, rules });

/** The member rule of every limit-bearing mutation. */
export const MEMBER_LIMIT_MATRIX: Readonly<Record<string, readonly MemberLimitCase[]>> = {
  createVirtualKey: [
    tighten("a new personal key with limits of its own (nothing an admin set exists yet)", (c) =>
      mutation("createVirtualKey", "virtualKey { id }", {
        organizationId: c.a.orgId,
        name: `own-${c.unique()}`,
        kind: "PERSONAL",
        userId: c.a.memberUserId,
        budgets: [usdDay("1")],
        rateLimits: [{ unit: "REQUESTS", limit: 100, windowSeconds: 60 }],
      }),
    ),
  ],
  upsertVirtualKey: [
    loosen("the limited key upserted with budgets: []", (c, k) =>
      mutation("upsertVirtualKey", "virtualKey { id }", { organizationId: c.a.orgId, name: k.name, kind: "PERSONAL", userId: c.a.memberUserId, budgets: [] }),
    ),
    loosen("the limited key upserted without its expiry", (c, k) =>
      mutation("upsertVirtualKey", "virtualKey { id }", { organizationId: c.a.orgId, name: k.name, kind: "PERSONAL", userId: c.a.memberUserId, expiresAt: null }),
    ),
    tighten("the limited key upserted with a lower budget", (c, k) =>
      mutation("upsertVirtualKey", "virtualKey { id }", { organizationId: c.a.orgId, name: k.name, kind: "PERSONAL", userId: c.a.memberUserId, budgets: [usdDay("2")] }),
    ),
  ],
  updateVirtualKey: [
    loosen("budgets: [] (removes the admin's budget)", update({ budgets: [] })),
    loosen("a higher budget", update({ budgets: [usdDay("50")] })),
    loosen("the budget made SOFT", update({ budgets: [usdDay("5", { mode: "SOFT" })] })),
    loosen("the budget's enforcement made ESTIMATE", update({ budgets: [usdDay("5", { enforcement: "ESTIMATE" })] })),
    loosen("the budget's alert thresholds dropped", update({ budgets: [usdDay("5", { alertThresholds: [] })] })),
    loosen("rateLimits: []", update({ rateLimits: [] })),
    loosen("a higher rate limit", update({ rateLimits: [{ unit: "REQUESTS", limit: 1000, windowSeconds: 60 }] })),
    loosen("maxCostPerRequest: null", update({ maxCostPerRequest: null })),
    loosen("a higher maxCostPerRequest", update({ maxCostPerRequest: "100" })),
    loosen("expiresAt: null", update({ expiresAt: null })),
    loosen("a later expiresAt", update({ expiresAt: inDays(365) })),
    loosen("allowedModels widened", update({ allowedModels: ["*"] })),
    loosen("deniedModels: []", update({ deniedModels: [] })),
    tighten(
      "a lower budget, a lower rate limit and a new one, a lower cap, an earlier expiry, one more deny entry",
      update({
        budgets: [usdDay("2"), { unit: "REQUESTS", window: "MONTH", limit: "500" }],
        rateLimits: [
          { unit: "REQUESTS", limit: 5, windowSeconds: 60 },
          { unit: "TOKENS", limit: 1000, windowSeconds: 60 },
        ],
        maxCostPerRequest: "0.5",
        expiresAt: inDays(1),
        deniedModels: ["chat-large", "chat-small"],
        allowedModels: ["chat-*"],
      }),
    ),
  ],
  setBudget: [
    loosen("a higher limit", setBudget(usdDay("50"))),
    loosen("SOFT", setBudget(usdDay("5", { mode: "SOFT" }))),
    loosen("without the alert thresholds", setBudget({ unit: "USD", window: "DAY", limit: "5" })),
    tighten("a lower limit", setBudget(usdDay("2"))),
    tighten("STRICT enforcement", setBudget(usdDay("5", { enforcement: "STRICT" }))),
    tighten("a new budget", setBudget({ unit: "TOKENS", window: "MONTH", limit: "1000" })),
  ],
  pauseVirtualKey: [tighten("the limited key", (_, k) => mutation("pauseVirtualKey", "virtualKey { status }", { id: k.id }))],
  resumeVirtualKey: [
    loosen("the limited key, paused by an admin", async (c, k) => {
      await c.fresh.pauseKey(k.id, "admin");
      return mutation("resumeVirtualKey", "virtualKey { status }", { id: k.id });
    }),
    tighten("the limited key, paused by the member", async (c, k) => {
      await c.fresh.pauseKey(k.id, "member");
      return mutation("resumeVirtualKey", "virtualKey { status }", { id: k.id });
    }),
  ],
  removeBudget: [loosen("the admin's budget", (_, k) => mutation("removeBudget", "budget { id }", { id: k.budgetId }))],
  setRateLimit: [loosen("a higher limit", setRate("REQUESTS", 1000, 60)), tighten("a lower limit", setRate("REQUESTS", 5, 60)), tighten("a new rate limit", setRate("TOKENS", 1000, 3600))],
  removeRateLimit: [loosen("the admin's rate limit", (_, k) => mutation("removeRateLimit", "rateLimit { id }", { id: k.rateLimitId }))],
  setModelAccess: [
    loosen("an empty allow list", setAccess([], ["chat-large"])),
    loosen("a wider allow list", setAccess(["chat-*", "*"], ["chat-large"])),
    loosen("the deny entry removed", setAccess(["chat-*"], [])),
    tighten("a narrower allow list and one more deny entry", setAccess(["chat-small"], ["chat-large", "chat-x"])),
  ],
  setGuardrails: [
    loosen("rules: []", setRules([])),
    loosen("a higher token limit", setRules([ADMIN_KEY_GUARDRAILS[0], { name: "short", kind: "MAX_INPUT_TOKENS", limit: 100_000 }])),
    loosen("a keyword removed", setRules([{ name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["other"] }, ADMIN_KEY_GUARDRAILS[1]])),
    tighten(
      "one more rule, one more keyword, a lower token limit",
      setRules([
        { name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["password", "token"] },
        { name: "short", kind: "MAX_INPUT_TOKENS", limit: 500 },
        { name: "no-ssn", kind: "BLOCK_REGEX", pattern: "\\d{3}-\\d{2}-\\d{4}" },
      ]),
    ),
  ],
};

/** Reads every limit of a key (for the "unchanged" comparison). */
export const KEY_LIMITS_QUERY = `query($id: ID!) {
  virtualKey(id: $id) { status allowedModels deniedModels maxCostPerRequest expiresAt budgets { unit window limit mode enforcement alertThresholds } rateLimits { unit limit windowSeconds } }
  guardrails(scope: VIRTUAL_KEY, scopeId: $id) { rules { name kind pattern flags keywords limit } }
  modelAccess(scope: VIRTUAL_KEY, scopeId: $id) { allow deny }
}`;
