/**
 * Test support: the role matrix. One entry per Query and Mutation field of the schema (the matrix
 * test fails when the schema has an operation without an entry), each with sample calls on
 * organization A and the expected outcome for [platform admin, ADMIN of A, MEMBER of A, ADMIN of B]:
 * A = allowed, F = FORBIDDEN, N = NOT_FOUND. Rules (CONTRACT §3): the platform admin does
 * everything; an organization ADMIN only inside their organization (another organization's ids
 * answer NOT_FOUND); a MEMBER only `me`, their own personal keys and their own usage; organizations,
 * data-plane nodes, signing keys and usage dead letters are the platform admin's.
 */
import type { LimitedKey } from "./member-limit-matrix.js";
import type { Tenant } from "./tenant-fixtures.js";

/** What a call may answer. */
export type Outcome = "allowed" | "FORBIDDEN" | "NOT_FOUND";
/** The four callers of the matrix, in the order of an expectation string. */
export const ROLES = ["platform", "adminA", "memberA", "adminB"] as const;
/** One caller of the matrix. */
export type Role = (typeof ROLES)[number];

/** Fresh objects of organization A, created by the platform admin before each call. */
export interface FreshObjects {
  user(): Promise<string>;
  team(): Promise<string>;
  personalKey(): Promise<string>;
  serviceKey(): Promise<string>;
  apiToken(): Promise<string>;
  teamBudget(): Promise<string>;
  teamRateLimit(): Promise<string>;
  /** A personal key of the member with limits of every kind set by an admin (member-limit-matrix.ts). */
  limitedPersonalKey(): Promise<LimitedKey>;
  /** Pauses a key of A as the ADMIN or the MEMBER of A. */
  pauseKey(id: string, by: "admin" | "member"): Promise<void>;
  /** The secret of a new key of A (PERSONAL: the member's), once the simulator's snapshot knows it. */
  keySecret(kind: "PERSONAL" | "SERVICE"): Promise<string>;
}

/** What a sample call can use. */
export interface MatrixContext {
  readonly a: Tenant;
  readonly b: Tenant;
  readonly fresh: FreshObjects;
  /** A new unique lowercase suffix. */
  unique(): string;
}

/** A GraphQL call. */
export interface SampleCall {
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

/** One sample call of an operation with its expected outcomes ("AAFN" = allowed, allowed, FORBIDDEN, NOT_FOUND). */
export interface MatrixCase {
  readonly label: string;
  readonly expect: string;
  call(ctx: MatrixContext): Promise<SampleCall>;
  /** Extra checks on an allowed answer's data. */
  verify?(role: Role, data: Record<string, unknown>, ctx: MatrixContext): void;
}

/** Checks that a `simulate` answer recognized the key (own organization) or not (another organization). */
function verifySimulation(role: Role, data: Record<string, unknown>): void {
  const status = (data.simulate as { status: number }).status;
  if (role === "adminB" ? status !== 401 : status === 401) throw new Error(`simulate answered status ${status}`);
}

/** Expectations used by most entries. */
export const ORG_ADMIN = "AAFN";
const OWN_KEY = "AAAN";
const PLATFORM_ONLY = "AFFF";

/** Parses an expectation string into outcomes per role. */
export function parseExpectation(s: string): Record<Role, Outcome> {
  if (!/^[AFN]{4}$/.test(s)) throw new Error(`bad expectation "${s}"`);
  const outcome = (c: string): Outcome => (c === "A" ? "allowed" : c === "F" ? "FORBIDDEN" : "NOT_FOUND");
  return { platform: outcome(s.charAt(0)), adminA: outcome(s.charAt(1)), memberA: outcome(s.charAt(2)), adminB: outcome(s.charAt(3)) };
}

const upper = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** A mutation call `name(input: $i) { selection }`. */
function mutation(name: string, selection: string, input: Record<string, unknown>): SampleCall {
  return { query: `mutation($i: ${upper(name)}Input!) { ${name}(input: $i) { ${selection} } }`, variables: { i: input } };
}

const one = (label: string, expect: string, call: MatrixCase["call"], verify?: MatrixCase["verify"]): MatrixCase => ({ label, expect, call, ...(verify ? { verify } : {}) });
const KEY = "virtualKey { id status }";
/** A simulate query and a chat request body for it. */
export const SIMULATE = "query($i: SimulateInput!) { simulate(input: $i) { allowed status } }";
const CHAT_BODY = { model: "chat-small", messages: [{ role: "user", content: "hello" }], max_tokens: 16 };
const keyStatusCases = (name: string, extra: Record<string, unknown> = {}): MatrixCase[] => [
  one("the member's own personal key", OWN_KEY, async (c) => mutation(name, KEY, { id: await c.fresh.personalKey(), ...extra })),
  one("a service key", ORG_ADMIN, async (c) => mutation(name, KEY, { id: await c.fresh.serviceKey(), ...extra })),
];

/** The matrix: operation name -> sample calls. */
export const ROLE_MATRIX: Readonly<Record<string, readonly MatrixCase[]>> = {
  // Queries
  me: [one("who am I", "AAAA", async () => ({ query: "{ me { kind organizationId user { id } } }", variables: {} }))],
  organizations: [
    one(
      "list",
      "AAFA",
      async () => ({ query: "{ organizations { id } }", variables: {} }),
      (role, data, c) => {
        const ids = (data.organizations as Array<{ id: string }>).map((o) => o.id);
        if (role === "adminB" && (ids.includes(c.a.orgId) || ids.length !== 1)) throw new Error(`admin of B sees ${ids.join(",")}`);
        if (role === "adminA" && ids.join() !== c.a.orgId) throw new Error(`admin of A sees ${ids.join(",")}`);
      },
    ),
  ],
  organization: [one("organization A", ORG_ADMIN, async (c) => ({ query: "query($id: ID!) { organization(id: $id) { id teams { id } users { id } } }", variables: { id: c.a.orgId } }))],
  virtualKeys: [
    one(
      "keys of A",
      OWN_KEY,
      async (c) => {
        await c.fresh.serviceKey();
        return { query: "query($o: ID!) { virtualKeys(organizationId: $o, first: 500) { edges { node { id userId } } } }", variables: { o: c.a.orgId } };
      },
      (role, data, c) => {
        const nodes = (data.virtualKeys as { edges: Array<{ node: { userId: string | null } }> }).edges.map((e) => e.node);
        if (role === "memberA" && nodes.some((n) => n.userId !== c.a.memberUserId)) throw new Error("a member listed keys that are not theirs");
        if (role !== "memberA" && !nodes.some((n) => n.userId === null)) throw new Error("an admin did not see service keys");
      },
    ),
  ],
  virtualKey: [
    one("the member's own key", OWN_KEY, async (c) => ({ query: "query($id: ID!) { virtualKey(id: $id) { id budgets { id } rateLimits { id } } }", variables: { id: await c.fresh.personalKey() } })),
    one("a service key", ORG_ADMIN, async (c) => ({ query: "query($id: ID!) { virtualKey(id: $id) { id } }", variables: { id: await c.fresh.serviceKey() } })),
  ],
  usage: [
    one("usage of A", OWN_KEY, async (c) => ({ query: "query($o: ID!) { usage(organizationId: $o, groupBy: [USER]) { requests } }", variables: { o: c.a.orgId } })),
    one("usage of another user of A", ORG_ADMIN, async (c) => ({
      query: "query($o: ID!, $u: ID!) { usage(organizationId: $o, filter: {userId: $u}) { requests } }",
      variables: { o: c.a.orgId, u: c.a.otherMemberUserId },
    })),
  ],
  auditLog: [one("audit log of A", ORG_ADMIN, async (c) => ({ query: "query($o: ID!) { auditLog(organizationId: $o, first: 5) { edges { node { id } } } }", variables: { o: c.a.orgId } }))],
  apiTokens: [one("tokens of A", ORG_ADMIN, async (c) => ({ query: "query($o: ID!) { apiTokens(organizationId: $o) { id prefix } }", variables: { o: c.a.orgId } }))],
  dataPlaneNodes: [one("nodes", PLATFORM_ONLY, async () => ({ query: "{ dataPlaneNodes { id } }", variables: {} }))],
  usageDeadLetters: [one("dead letters", PLATFORM_ONLY, async () => ({ query: "{ usageDeadLetters(first: 5) { edges { node { id reason record } } pageInfo { hasNextPage } } }", variables: {} }))],
  policyRevision: [one("revision", "AAAA", async () => ({ query: "{ policyRevision }", variables: {} }))],
  signingKeys: [one("signing keys", PLATFORM_ONLY, async () => ({ query: "{ signingKeys { kid } }", variables: {} }))],

  // Mutations: organizations, teams, users, tokens
  createOrganization: [one("new org", PLATFORM_ONLY, async (c) => mutation("createOrganization", "organization { id }", { name: "N", slug: `o-${c.unique()}` }))],
  upsertOrganization: [one("new org", PLATFORM_ONLY, async (c) => mutation("upsertOrganization", "organization { id }", { name: "N", slug: `o-${c.unique()}` }))],
  createTeam: [one("team in A", ORG_ADMIN, async (c) => mutation("createTeam", "team { id }", { organizationId: c.a.orgId, name: "T", slug: `t-${c.unique()}` }))],
  upsertTeam: [one("team in A", ORG_ADMIN, async (c) => mutation("upsertTeam", "team { id }", { organizationId: c.a.orgId, name: "T", slug: `t-${c.unique()}` }))],
  createUser: [one("user in A", ORG_ADMIN, async (c) => mutation("createUser", "user { id }", { organizationId: c.a.orgId, name: "U", email: `u-${c.unique()}@a.test` }))],
  upsertUser: [one("user in A", ORG_ADMIN, async (c) => mutation("upsertUser", "user { id }", { organizationId: c.a.orgId, name: "U", email: `u-${c.unique()}@a.test` }))],
  updateUser: [one("user of A", ORG_ADMIN, async (c) => mutation("updateUser", "user { id role }", { id: await c.fresh.user(), role: "ADMIN", teamIds: [c.a.teamId] }))],
  deactivateUser: [one("user of A", ORG_ADMIN, async (c) => mutation("deactivateUser", "user { id active }", { id: await c.fresh.user() }))],
  removeUser: [one("user of A", ORG_ADMIN, async (c) => mutation("removeUser", "user { id } revokedVirtualKeyIds", { id: await c.fresh.user() }))],
  createApiToken: [one("token for a user of A", ORG_ADMIN, async (c) => mutation("createApiToken", "apiToken { id } secret", { organizationId: c.a.orgId, userId: await c.fresh.user(), name: "t" }))],
  revokeApiToken: [one("token of A", ORG_ADMIN, async (c) => mutation("revokeApiToken", "apiToken { id revokedAt }", { id: await c.fresh.apiToken() }))],

  // Provider accounts and models
  createProviderAccount: [
    one("account in A", ORG_ADMIN, async (c) =>
      mutation("createProviderAccount", "providerAccount { id }", { organizationId: c.a.orgId, name: `p-${c.unique()}`, provider: "OPENAI", apiKey: "sk-matrix-0000000000" }),
    ),
  ],
  upsertProviderAccount: [
    one("account in A", ORG_ADMIN, async (c) =>
      mutation("upsertProviderAccount", "providerAccount { id }", { organizationId: c.a.orgId, name: `p-${c.unique()}`, provider: "OPENAI", apiKey: "sk-matrix-0000000000" }),
    ),
  ],
  createModel: [one("model in A", ORG_ADMIN, async (c) => mutation("createModel", "model { id }", { providerAccountId: c.a.accountId, name: `m-${c.unique()}` }))],
  upsertModel: [one("model in A", ORG_ADMIN, async (c) => mutation("upsertModel", "model { id }", { providerAccountId: c.a.accountId, name: `m-${c.unique()}` }))],
  updateModel: [one("model of A", ORG_ADMIN, async (c) => mutation("updateModel", "model { id }", { id: c.a.modelIds[1] ?? "", maxInputTokensPerAttachment: 1000 }))],

  // Virtual keys
  createVirtualKey: [
    one("personal key for the member", OWN_KEY, async (c) =>
      mutation("createVirtualKey", `${KEY} secret`, { organizationId: c.a.orgId, name: `k-${c.unique()}`, kind: "PERSONAL", userId: c.a.memberUserId }),
    ),
    one("service key", ORG_ADMIN, async (c) => mutation("createVirtualKey", `${KEY} secret`, { organizationId: c.a.orgId, name: `k-${c.unique()}`, kind: "SERVICE" })),
    one("personal key for another user", ORG_ADMIN, async (c) =>
      mutation("createVirtualKey", `${KEY} secret`, { organizationId: c.a.orgId, name: `k-${c.unique()}`, kind: "PERSONAL", userId: c.a.otherMemberUserId }),
    ),
  ],
  upsertVirtualKey: [
    one("personal key for the member", OWN_KEY, async (c) =>
      mutation("upsertVirtualKey", `${KEY} secret created`, { organizationId: c.a.orgId, name: `k-${c.unique()}`, kind: "PERSONAL", userId: c.a.memberUserId }),
    ),
    one("service key", ORG_ADMIN, async (c) => mutation("upsertVirtualKey", `${KEY} secret created`, { organizationId: c.a.orgId, name: `k-${c.unique()}`, kind: "SERVICE" })),
  ],
  updateVirtualKey: keyStatusCases("updateVirtualKey", { name: "renamed", deniedModels: ["chat-large"] }),
  pauseVirtualKey: keyStatusCases("pauseVirtualKey"),
  resumeVirtualKey: keyStatusCases("resumeVirtualKey"),
  revokeVirtualKey: keyStatusCases("revokeVirtualKey"),
  rotateVirtualKey: keyStatusCases("rotateVirtualKey", { gracePeriodSeconds: 60 }),

  // Budgets
  setBudget: [
    one("team budget", ORG_ADMIN, async (c) => mutation("setBudget", "budget { id }", { scope: "TEAM", scopeId: await c.fresh.team(), unit: "USD", window: "DAY", limit: "5" })),
    one("budget of the member's own key", OWN_KEY, async (c) =>
      mutation("setBudget", "budget { id }", { scope: "VIRTUAL_KEY", scopeId: await c.fresh.personalKey(), unit: "USD", window: "DAY", limit: "5" }),
    ),
  ],
  removeBudget: [one("team budget", ORG_ADMIN, async (c) => mutation("removeBudget", "budget { id }", { id: await c.fresh.teamBudget() }))],

  // Limits at every level, organization settings, alerts, the simulator, propagation
  setModelAccess: [
    one("team lists", ORG_ADMIN, async (c) => mutation("setModelAccess", "modelAccess { allow deny }", { scope: "TEAM", scopeId: await c.fresh.team(), allow: ["chat-*"], deny: [] })),
    one("lists of the member's own key", OWN_KEY, async (c) =>
      mutation("setModelAccess", "modelAccess { allow deny }", { scope: "VIRTUAL_KEY", scopeId: await c.fresh.personalKey(), allow: ["chat-small"], deny: [] }),
    ),
  ],
  modelAccess: [
    one("team lists", ORG_ADMIN, async (c) => ({ query: "query($s: ID!) { modelAccess(scope: TEAM, scopeId: $s) { allow } }", variables: { s: c.a.teamId } })),
    one("lists of the member's own key", OWN_KEY, async (c) => ({ query: "query($s: ID!) { modelAccess(scope: VIRTUAL_KEY, scopeId: $s) { allow } }", variables: { s: await c.fresh.personalKey() } })),
  ],
  setRateLimit: [
    one("team rate limit", ORG_ADMIN, async (c) => mutation("setRateLimit", "rateLimit { id }", { scope: "TEAM", scopeId: await c.fresh.team(), unit: "REQUESTS", limit: 10, windowSeconds: 60 })),
    one("rate limit of the member's own key", OWN_KEY, async (c) =>
      mutation("setRateLimit", "rateLimit { id }", { scope: "VIRTUAL_KEY", scopeId: await c.fresh.personalKey(), unit: "REQUESTS", limit: 10, windowSeconds: 60 }),
    ),
  ],
  removeRateLimit: [one("team rate limit", ORG_ADMIN, async (c) => mutation("removeRateLimit", "rateLimit { id }", { id: await c.fresh.teamRateLimit() }))],
  rateLimits: [one("team rate limits", ORG_ADMIN, async (c) => ({ query: "query($s: ID!) { rateLimits(scope: TEAM, scopeId: $s) { id } }", variables: { s: c.a.teamId } }))],
  setGuardrails: [
    one("organization guardrails", ORG_ADMIN, async (c) =>
      mutation("setGuardrails", "guardrails { scopeId }", { scope: "ORGANIZATION", scopeId: c.a.orgId, rules: [{ name: "no-secrets", kind: "BLOCK_KEYWORDS", keywords: ["password"] }] }),
    ),
    one("guardrails of the member's own key", OWN_KEY, async (c) =>
      mutation("setGuardrails", "guardrails { scopeId }", { scope: "VIRTUAL_KEY", scopeId: await c.fresh.personalKey(), rules: [{ name: "short", kind: "MAX_INPUT_TOKENS", limit: 1000 }] }),
    ),
  ],
  guardrails: [one("organization guardrails", ORG_ADMIN, async (c) => ({ query: "query($s: ID!) { guardrails(scope: ORGANIZATION, scopeId: $s) { scopeId } }", variables: { s: c.a.orgId } }))],
  updateOrganization: [one("organization A", ORG_ADMIN, async (c) => mutation("updateOrganization", "organization { id } webhookSecret", { id: c.a.orgId, name: `A ${c.unique()}` }))],
  budgetAlerts: [one("alerts of A", ORG_ADMIN, async (c) => ({ query: "query($o: ID!) { budgetAlerts(organizationId: $o) { id } }", variables: { o: c.a.orgId } }))],
  // Another organization's secret answers like an unknown one (a 401 report), never an error.
  simulate: [
    one(
      "the member's own key",
      "AAAA",
      async (c) => ({ query: SIMULATE, variables: { i: { secret: await c.fresh.keySecret("PERSONAL"), path: "/v1/chat/completions", body: CHAT_BODY } } }),
      verifySimulation,
    ),
    one("a service key", "AAFA", async (c) => ({ query: SIMULATE, variables: { i: { secret: await c.fresh.keySecret("SERVICE"), path: "/v1/chat/completions", body: CHAT_BODY } } }), verifySimulation),
  ],
  policyPropagation: [one("revision 1", "AAAA", async () => ({ query: `{ policyPropagation(revision: "1") { revision nodesApplied } }`, variables: {} }))],

  // Signing keys (JWT virtual keys)
  rotateSigningKey: [one("rotate", PLATFORM_ONLY, async () => mutation("rotateSigningKey", "signingKey { kid }", { retireAfterSeconds: 60 }))],
};
