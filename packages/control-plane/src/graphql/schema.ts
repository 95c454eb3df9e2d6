/** Builds the code-first GraphQL schema (type-graphql) and its sorted SDL. */
import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import { rejectUnstorableStrings } from "./input-guard.js";
import { IdentityResolver } from "./resolvers/identity.resolver.js";
import { LimitsResolver, OrganizationLimitsResolver, TeamLimitsResolver, UserLimitsResolver } from "./resolvers/limits.resolver.js";
import { OrganizationResolver } from "./resolvers/tenancy.resolver.js";
import { DataPlaneNodeStatusResolver, PAYLOAD_PROPAGATION_RESOLVERS, PropagationResolver } from "./resolvers/propagation.resolver.js";
import { ProviderResolver } from "./resolvers/provider.resolver.js";
import { ReportingResolver } from "./resolvers/reporting.resolver.js";
import { SigningKeyResolver } from "./resolvers/signing-key.resolver.js";
import { VirtualKeyResolver } from "./resolvers/virtual-key.resolver.js";

/** Builds the admin API schema. */
export async function buildControlPlaneSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      OrganizationResolver,
      ProviderResolver,
      VirtualKeyResolver,
      ReportingResolver,
      SigningKeyResolver,
      IdentityResolver,
      LimitsResolver,
      OrganizationLimitsResolver,
      TeamLimitsResolver,
      UserLimitsResolver,
      PropagationResolver,
      DataPlaneNodeStatusResolver,
      ...PAYLOAD_PROPAGATION_RESOLVERS,
    ],
    validate: false,
    globalMiddlewares: [rejectUnstorableStrings],
    emitSchemaFile: false,
  });
}

/** The schema's SDL, types sorted, as committed in graphql/schema.graphql. */
export async function printControlPlaneSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildControlPlaneSchema()))}\n`;
}
