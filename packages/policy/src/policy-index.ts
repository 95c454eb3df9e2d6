/**
 * An immutable index over one policy snapshot, with O(1) lookups for the hot path.
 * Built once per applied snapshot; never mutated.
 */
import { compileGuardrails, type CompiledGuardrails } from "./guardrails.js";
import type { BudgetPolicy, KeySecret, ModelPolicy, OrganizationPolicy, PolicySnapshot, ProviderAccountPolicy, RateLimitPolicy, Scope, TeamPolicy, UserPolicy, VirtualKeyPolicy } from "./model.js";

/** A key found by one of its secrets' HMAC. The secret's `validUntil` is checked by `decide`. */
export interface KeyMatch {
  readonly key: VirtualKeyPolicy;
  readonly secret: KeySecret;
}

/** One scope of a key's chain. */
export interface ScopeRef {
  readonly scope: Scope;
  readonly scopeId: string;
}

/**
 * The scopes a key's requests count against: its organization, its team (the key's team, or for a
 * PERSONAL key without one every team of its user), its user, and the key itself.
 * Objects missing from the snapshot are left out.
 */
export interface ScopeChain {
  readonly organization: OrganizationPolicy | null;
  readonly teams: readonly TeamPolicy[];
  readonly user: UserPolicy | null;
  readonly key: VirtualKeyPolicy;
  /** In order: ORGANIZATION, TEAM (each), USER, VIRTUAL_KEY. */
  readonly scopes: readonly ScopeRef[];
}

/** The lookups of one snapshot. Every lookup is O(1) except list-returning ones (O(result)). */
export interface PolicyIndex {
  readonly snapshot: PolicySnapshot;
  readonly version: bigint;
  /** The key holding a secret with this HMAC (hex, any case), or null. */
  keyBySecretHmac(hmac: string): KeyMatch | null;
  organization(id: string): OrganizationPolicy | null;
  team(id: string): TeamPolicy | null;
  user(id: string): UserPolicy | null;
  virtualKey(id: string): VirtualKeyPolicy | null;
  account(id: string): ProviderAccountPolicy | null;
  model(id: string): ModelPolicy | null;
  budget(id: string): BudgetPolicy | null;
  rateLimit(id: string): RateLimitPolicy | null;
  /**
   * The model an organization exposes under `publicName` (`name`, else `<account name>/<name>`);
   * among several with the same name, the lowest id. Models whose account is missing are skipped.
   */
  resolveModel(organizationId: string, publicName: string): ModelPolicy | null;
  /**
   * The route group callers reach with `publicName`: every routable model named `name` in the
   * organization (one per account), sorted by id; else the one model `<account name>/<name>` pins;
   * else empty. Ordering for a request is `resolveRoute`'s (routing.ts).
   */
  routeGroup(organizationId: string, publicName: string): readonly ModelPolicy[];
  /** Every routable model of an organization (account present), sorted by name then id. */
  modelsOf(organizationId: string): readonly ModelPolicy[];
  /** The names a model is callable by: `[name, "<account name>/<name>"]`. */
  modelNames(model: ModelPolicy): readonly string[];
  /** Budgets attached to one scope. */
  budgetsFor(scope: Scope, scopeId: string): readonly BudgetPolicy[];
  /** Rate limits attached to one scope. */
  rateLimitsFor(scope: Scope, scopeId: string): readonly RateLimitPolicy[];
  /** Guardrails attached to one scope (ORGANIZATION or VIRTUAL_KEY), compiled once per snapshot. */
  guardrailsFor(scope: Scope, scopeId: string): readonly CompiledGuardrails[];
  /** The key's scope chain (see `ScopeChain`). */
  scopeChainOf(key: VirtualKeyPolicy): ScopeChain;
}

const EMPTY: readonly never[] = Object.freeze([]);

function byId<T extends { readonly id: string }>(items: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) map.set(item.id, item);
  return map;
}

function groupByScope<T extends { readonly scope: Scope; readonly scopeId: string }>(items: readonly T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = `${item.scope}:${item.scopeId}`;
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/** Keeps in `map` the model with the lowest id for `name`. */
function putLowest(map: Map<string, ModelPolicy>, name: string, model: ModelPolicy): void {
  const current = map.get(name);
  if (current === undefined || model.id < current.id) map.set(name, model);
}

/** Builds the index of a snapshot. Pure; the snapshot is not copied and must not be mutated. */
export function buildPolicyIndex(snapshot: PolicySnapshot): PolicyIndex {
  const organizations = byId(snapshot.organizations);
  const teams = byId(snapshot.teams);
  const users = byId(snapshot.users);
  const keys = byId(snapshot.virtualKeys);
  const accounts = byId(snapshot.providerAccounts);
  const models = byId(snapshot.models);
  const budgets = byId(snapshot.budgets);
  const rateLimits = byId(snapshot.rateLimits);
  const budgetsByScope = groupByScope(snapshot.budgets);
  const rateLimitsByScope = groupByScope(snapshot.rateLimits);
  const guardrailsByScope = groupByScope(snapshot.guardrails.map(compileGuardrails));

  const keysByHmac = new Map<string, KeyMatch>();
  for (const key of snapshot.virtualKeys) {
    for (const secret of key.secrets) keysByHmac.set(secret.hmac.toLowerCase(), { key, secret });
  }

  const groups = new Map<string, ModelPolicy[]>();
  const plainNames = new Map<string, Map<string, ModelPolicy>>();
  const qualifiedNames = new Map<string, Map<string, ModelPolicy>>();
  const orgModels = new Map<string, ModelPolicy[]>();
  const namesOf = new Map<string, readonly string[]>();
  for (const model of snapshot.models) {
    const account = accounts.get(model.providerAccountId);
    if (account === undefined || account.organizationId !== model.organizationId) continue;
    const qualified = `${account.name}/${model.name}`;
    namesOf.set(model.id, Object.freeze([model.name, qualified]));
    const plain = plainNames.get(model.organizationId) ?? new Map<string, ModelPolicy>();
    plainNames.set(model.organizationId, plain);
    putLowest(plain, model.name, model);
    const full = qualifiedNames.get(model.organizationId) ?? new Map<string, ModelPolicy>();
    qualifiedNames.set(model.organizationId, full);
    putLowest(full, qualified, model);
    const groupKey = `${model.organizationId}\u0000${model.name}`;
    const group = groups.get(groupKey);
    if (group) group.push(model);
    else groups.set(groupKey, [model]);
    const list = orgModels.get(model.organizationId) ?? [];
    orgModels.set(model.organizationId, list);
    list.push(model);
  }
  for (const group of groups.values()) group.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const list of orgModels.values()) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  const scopeChainOf = (key: VirtualKeyPolicy): ScopeChain => {
    const organization = organizations.get(key.organizationId) ?? null;
    const user = key.userId === null ? null : (users.get(key.userId) ?? null);
    let teamIds: readonly string[] = EMPTY;
    if (key.teamId !== null) teamIds = [key.teamId];
    else if (key.kind === "PERSONAL" && user !== null) teamIds = user.teamIds;
    const chainTeams: TeamPolicy[] = [];
    for (const id of new Set(teamIds)) {
      const team = teams.get(id);
      if (team !== undefined && team.organizationId === key.organizationId) chainTeams.push(team);
    }
    const scopes: ScopeRef[] = [];
    if (organization !== null) scopes.push({ scope: "ORGANIZATION", scopeId: organization.id });
    for (const team of chainTeams) scopes.push({ scope: "TEAM", scopeId: team.id });
    if (user !== null) scopes.push({ scope: "USER", scopeId: user.id });
    scopes.push({ scope: "VIRTUAL_KEY", scopeId: key.id });
    return { organization, teams: chainTeams, user, key, scopes };
  };

  return {
    snapshot,
    version: snapshot.version,
    keyBySecretHmac: (hmac) => keysByHmac.get(hmac.toLowerCase()) ?? null,
    organization: (id) => organizations.get(id) ?? null,
    team: (id) => teams.get(id) ?? null,
    user: (id) => users.get(id) ?? null,
    virtualKey: (id) => keys.get(id) ?? null,
    account: (id) => accounts.get(id) ?? null,
    model: (id) => models.get(id) ?? null,
    budget: (id) => budgets.get(id) ?? null,
    rateLimit: (id) => rateLimits.get(id) ?? null,
    resolveModel: (organizationId, publicName) => plainNames.get(organizationId)?.get(publicName) ?? qualifiedNames.get(organizationId)?.get(publicName) ?? null,
    routeGroup: (organizationId, publicName) => {
      const group = groups.get(`${organizationId}\u0000${publicName}`);
      if (group !== undefined) return group;
      const pinned = qualifiedNames.get(organizationId)?.get(publicName);
      return pinned === undefined ? EMPTY : [pinned];
    },
    modelsOf: (organizationId) => orgModels.get(organizationId) ?? EMPTY,
    modelNames: (model) => namesOf.get(model.id) ?? [model.name],
    budgetsFor: (scope, scopeId) => budgetsByScope.get(`${scope}:${scopeId}`) ?? EMPTY,
    rateLimitsFor: (scope, scopeId) => rateLimitsByScope.get(`${scope}:${scopeId}`) ?? EMPTY,
    guardrailsFor: (scope, scopeId) => guardrailsByScope.get(`${scope}:${scopeId}`) ?? EMPTY,
    scopeChainOf,
  };
}
