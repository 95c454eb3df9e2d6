/** The per-request GraphQL context: the caller (from the bearer token) and the services. */
import { unauthenticated } from "../errors.js";
import type { Actor } from "../services/actor.js";
import type { BudgetService } from "../services/budget.service.js";
import type { OrganizationService } from "../services/organization.service.js";
import type { ProviderService } from "../services/provider.service.js";
import type { ReportingService } from "../services/reporting.service.js";
import type { VirtualKeyService } from "../services/virtual-key.service.js";

/** Services the resolvers call. */
export interface GraphQLServices {
  readonly organizations: OrganizationService;
  readonly providers: ProviderService;
  readonly virtualKeys: VirtualKeyService;
  readonly budgets: BudgetService;
  readonly reporting: ReportingService;
}

/** What every resolver receives. */
export interface GraphQLContext {
  /** null when the request carried no valid token. */
  readonly actor: Actor | null;
  readonly services: GraphQLServices;
  readonly now: () => number;
}

/** The caller, or UNAUTHENTICATED. */
export function actorOf(ctx: GraphQLContext): Actor {
  if (ctx.actor === null) throw unauthenticated();
  return ctx.actor;
}
