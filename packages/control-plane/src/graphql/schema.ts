/** Builds the code-first GraphQL schema (type-graphql) and its sorted SDL. */
import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import { OrganizationResolver } from "./resolvers/tenancy.resolver.js";
import { ProviderResolver } from "./resolvers/provider.resolver.js";
import { ReportingResolver } from "./resolvers/reporting.resolver.js";
import { VirtualKeyResolver } from "./resolvers/virtual-key.resolver.js";

/** Builds the admin API schema. */
export async function buildControlPlaneSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [OrganizationResolver, ProviderResolver, VirtualKeyResolver, ReportingResolver],
    validate: false,
    emitSchemaFile: false,
  });
}

/** The schema's SDL, types sorted, as committed in graphql/schema.graphql. */
export async function printControlPlaneSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildControlPlaneSchema()))}\n`;
}
