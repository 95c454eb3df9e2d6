/**
 * How much GraphQL work one request may ask for, applied with graphql-armor (aliases, depth,
 * directives, cost, field suggestions) and graphql-js's own token limit, which stops the parser
 * after N tokens so an oversized document costs microseconds, not seconds. Anonymous callers get
 * fixed tight limits, no introspection and no "Did you mean" suggestions; authenticated callers
 * get the configured limits. Batched HTTP requests stay off (one operation per request).
 */
import type { ApolloServerOptions, ApolloServerPlugin, BaseContext } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import type { ValidationRule } from "graphql";

/** The limits of one class of caller. */
export interface OperationLimits {
  readonly maxTokens: number;
  readonly maxAliases: number;
  readonly maxDepth: number;
  readonly maxDirectives: number;
  readonly maxCost: number;
  /** Schema introspection and field suggestions in error messages. */
  readonly revealSchema: boolean;
}

/** Largest body of a request without a bearer token (bytes). */
export const ANONYMOUS_MAX_BODY_BYTES = 16 * 1024;

/** Limits for callers without a valid token: enough for `{ me { kind } }`, nothing more. */
export const ANONYMOUS_LIMITS: OperationLimits = Object.freeze({
  maxTokens: 1_000,
  maxAliases: 5,
  maxDepth: 6,
  maxDirectives: 5,
  maxCost: 1_000,
  revealSchema: false,
});

/** The Apollo options that enforce `limits` (one ApolloServer per class of caller). */
export type ProtectionOptions = Required<Pick<ApolloServerOptions<BaseContext>, "introspection" | "hideSchemaDetailsFromClientErrors" | "allowBatchedHttpRequests" | "parseOptions">> & {
  readonly validationRules: ValidationRule[];
  readonly plugins: ApolloServerPlugin<BaseContext>[];
};

/** Builds the Apollo options enforcing `limits`. */
export function buildOperationProtection(limits: OperationLimits): ProtectionOptions {
  const armor = new ApolloArmor({
    // The token limit is graphql-js's parser option below: armor's plugin would parse a second time.
    maxTokens: { enabled: false },
    maxAliases: { n: limits.maxAliases },
    maxDepth: { n: limits.maxDepth },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { maxCost: limits.maxCost },
    blockFieldSuggestion: { enabled: !limits.revealSchema },
  });
  const { validationRules, plugins } = armor.protect();
  return {
    validationRules,
    plugins: plugins as ApolloServerPlugin<BaseContext>[],
    parseOptions: { maxTokens: limits.maxTokens },
    introspection: limits.revealSchema,
    hideSchemaDetailsFromClientErrors: !limits.revealSchema,
    allowBatchedHttpRequests: false,
  };
}
