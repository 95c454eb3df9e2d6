/**
 * Routing a public model name to provider accounts. The models sharing a public `name` in an
 * organization form a route group (one model per account); `<account name>/<name>` pins one.
 * Candidates are ordered by `priority` (lower first); within a priority, by a weighted random
 * order drawn from one caller-supplied number in [0, 1), so the function stays pure and a test can
 * seed it. Weight-0 models are standbys: tried after the weighted ones of their priority.
 */
import type { Admission, PricedRouteCandidate } from "./decision.js";
import type { ModelPolicy, ModelPrice, ProviderAccountPolicy } from "./model.js";
import type { PolicyIndex } from "./policy-index.js";
import { inputPriceUpperBound, outputPriceUpperBound } from "./pricing.js";

/** One account a request may be sent to, with the model row it goes through. */
export interface RouteCandidate {
  readonly model: ModelPolicy;
  readonly account: ProviderAccountPolicy;
}

/** A model's routing weight (absent = 1; negative or fractional values are floored at 0). */
export function routeWeightOf(model: ModelPolicy): number {
  const w = model.weight ?? 1;
  return Number.isFinite(w) && w > 0 ? Math.floor(w) : 0;
}

/** A model's routing priority (absent = 0; lower is tried first). */
export function routePriorityOf(model: ModelPolicy): number {
  const p = model.priority ?? 0;
  return Number.isFinite(p) ? Math.floor(p) : 0;
}

const BELOW_ONE = 1 - Number.EPSILON;

/** Clamps a random number into [0, 1). */
function unitInterval(r: number): number {
  if (!Number.isFinite(r) || r < 0) return 0;
  return r >= 1 ? BELOW_ONE : r;
}

/**
 * Orders `models` (all of one priority, sorted by id) by repeated weighted choice. One random
 * number serves every draw: after choosing the item whose share of the total weight holds `r`, the
 * position of `r` inside that share is rescaled to [0, 1) and used for the next draw (uniform
 * again, and independent of the choice made).
 */
function weightedOrder(models: readonly ModelPolicy[], random: number): ModelPolicy[] {
  const weighted = models.filter((m) => routeWeightOf(m) > 0);
  const standby = models.filter((m) => routeWeightOf(m) === 0);
  const out: ModelPolicy[] = [];
  let r = unitInterval(random);
  while (weighted.length > 0) {
    const total = weighted.reduce((sum, m) => sum + routeWeightOf(m), 0);
    const x = r * total;
    let before = 0;
    let chosen = weighted.length - 1;
    for (let i = 0; i < weighted.length; i++) {
      const w = routeWeightOf(weighted[i] as ModelPolicy);
      if (x < before + w) {
        chosen = i;
        break;
      }
      before += w;
    }
    const [model] = weighted.splice(chosen, 1) as [ModelPolicy];
    r = unitInterval((x - before) / routeWeightOf(model));
    out.push(model);
  }
  return [...out, ...standby];
}

/**
 * The accounts a request for `publicName` may go to, in the order to try them: priority groups
 * (lower first), each in weighted order drawn from `random` (in [0, 1); default 0). Models whose
 * account is missing from the snapshot are not routable. Empty when the name is unknown.
 */
export function resolveRoute(index: PolicyIndex, organizationId: string, publicName: string, random = 0): RouteCandidate[] {
  const byPriority = new Map<number, ModelPolicy[]>();
  for (const model of index.routeGroup(organizationId, publicName)) {
    const p = routePriorityOf(model);
    const list = byPriority.get(p);
    if (list) list.push(model);
    else byPriority.set(p, [model]);
  }
  const out: RouteCandidate[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    for (const model of weightedOrder(byPriority.get(priority) ?? [], random)) {
      const account = index.account(model.providerAccountId);
      if (account !== null) out.push({ model, account });
    }
  }
  return out;
}

/**
 * A price no candidate's cost can exceed, for any usage: the largest input price (cached or not)
 * as the price of every input token, and the largest output price. The one candidate's own price
 * when there is only one.
 */
export function boundingPrice(prices: readonly ModelPrice[]): ModelPrice {
  const [first, ...rest] = prices;
  if (first === undefined) throw new Error("boundingPrice needs at least one price");
  if (rest.length === 0) return first;
  let input = 0n;
  let output = 0n;
  for (const p of prices) {
    const i = inputPriceUpperBound(p);
    if (i > input) input = i;
    const o = outputPriceUpperBound(p);
    if (o > output) output = o;
  }
  return { inputPerMillion: input, outputPerMillion: output, cachedInputPerMillion: null };
}

/**
 * The admission as seen through one of its candidates: that candidate's model, account and price
 * (what settlement charges), and the output limit that candidate can produce.
 */
export function admissionVia(admission: Admission, candidate: PricedRouteCandidate): Admission {
  return {
    ...admission,
    model: candidate.model,
    account: candidate.account,
    price: candidate.price,
    maxOutputTokens: Math.min(admission.maxOutputTokens, Math.max(0, Math.floor(candidate.model.maxOutputTokens))),
  };
}
