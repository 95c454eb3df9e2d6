/**
 * Model allow/deny evaluated over a key's whole scope chain: organization, team(s), user, key.
 */
import type { ModelPolicy, Scope, VirtualKeyPolicy } from "./model.js";
import { isModelAllowed } from "./model-access.js";
import type { PolicyIndex, ScopeChain } from "./policy-index.js";

/** The level that refuses a model, with its display label (`team "search"`). */
export interface AccessDenial {
  readonly scope: Scope;
  readonly label: string;
}

/** The first level of the chain whose allow/deny lists refuse `model`, or null if all allow it. */
export function findModelAccessDenial(index: PolicyIndex, chain: ScopeChain, model: ModelPolicy): AccessDenial | null {
  const names = index.modelNames(model);
  if (chain.organization !== null && !isModelAllowed(chain.organization.access, names)) {
    return { scope: "ORGANIZATION", label: `organization "${chain.organization.slug}"` };
  }
  for (const team of chain.teams) {
    if (!isModelAllowed(team.access, names)) return { scope: "TEAM", label: `team "${team.slug}"` };
  }
  if (chain.user !== null && !isModelAllowed(chain.user.access, names)) {
    return { scope: "USER", label: `user "${chain.user.email}"` };
  }
  if (!isModelAllowed(chain.key.access, names)) return { scope: "VIRTUAL_KEY", label: `virtual key "${chain.key.name}"` };
  return null;
}

/** Every routable model of the key's organization that the key may call at every level, by name. */
export function listCallableModels(index: PolicyIndex, key: VirtualKeyPolicy): ModelPolicy[] {
  const chain = index.scopeChainOf(key);
  return index.modelsOf(key.organizationId).filter((m) => findModelAccessDenial(index, chain, m) === null);
}
