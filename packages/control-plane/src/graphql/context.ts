/** The per-request GraphQL context: the caller (from the bearer token) and the services. */
import { unauthenticated } from "../errors.js";
import type { Actor } from "../services/actor.js";
import type { ApiTokenService } from "../services/api-token.service.js";
import type { BudgetAlertService } from "../services/budget-alert.service.js";
import type { BudgetService } from "../services/budget.service.js";
import type { LimitsService } from "../services/limits.service.js";
import type { OrganizationSettingsService } from "../services/organization-settings.service.js";
import type { SimulationService } from "../services/simulation.service.js";
import type { MembershipService } from "../services/membership.service.js";
import type { OrganizationService } from "../services/organization.service.js";
import type { PropagationService } from "../services/propagation.service.js";
import type { ProviderService } from "../services/provider.service.js";
import type { ReportingService } from "../services/reporting.service.js";
import type { SigningKeyService } from "../services/signing-key.service.js";
import type { VirtualKeyUpsertService } from "../services/virtual-key-upsert.service.js";
import type { VirtualKeyService } from "../services/virtual-key.service.js";

/** Services the resolvers call. */
export interface GraphQLServices {
  readonly organizations: OrganizationService;
  readonly providers: ProviderService;
  readonly virtualKeys: VirtualKeyService;
  readonly budgets: BudgetService;
  readonly reporting: ReportingService;
  readonly propagation: PropagationService;
  readonly apiTokens: ApiTokenService;
  readonly memberships: MembershipService;
  readonly keyUpserts: VirtualKeyUpsertService;
  readonly signingKeys: SigningKeyService;
  readonly limits: LimitsService;
  readonly organizationSettings: OrganizationSettingsService;
  readonly budgetAlerts: BudgetAlertService;
  readonly simulation: SimulationService;
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
