/**
 * The control plane's HTTP app: POST /graphql (Apollo), GET /graphql (playground), /healthz,
 * /readyz (database reachable and migrated) and /metrics.
 */
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { fastifyApolloHandler } from "@as-integrations/fastify";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { GraphQLFormattedError, GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import type { AdminApiLimits } from "../config.js";
import type { Database } from "../db/database.js";
import { isMigrated } from "../db/migrate.js";
import { MASKED_MESSAGE, toGraphQLCode } from "../error-map.js";
import { findAppError, payloadTooLarge } from "../errors.js";
import type { GraphQLContext, GraphQLServices } from "../graphql/context.js";
import { nameLiteralInputErrorsPlugin } from "../graphql/input-errors.plugin.js";
import { ANONYMOUS_LIMITS, ANONYMOUS_MAX_BODY_BYTES, buildOperationProtection, type OperationLimits } from "../graphql/operation-limits.js";
import type { Actor } from "../services/actor.js";
import { AuthFailureThrottle, DEFAULT_THROTTLE_ADDRESSES } from "./auth-throttle.js";
import { registerGraphiQLRoute } from "./graphiql.route.js";
import { createGraphQLGate, sendGraphQLError, sendRefusal } from "./graphql-gate.js";
import type { ControlPlaneMetrics } from "./metrics.js";

/** Dependencies of the HTTP app. */
export interface HttpAppDeps {
  readonly schema: GraphQLSchema;
  readonly services: GraphQLServices;
  readonly db: Database;
  readonly logger: Logger;
  readonly metrics: ControlPlaneMetrics;
  readonly now: () => number;
  /** Resolves a bearer token to its actor; null when unknown. */
  readonly authenticate: (token: string) => Promise<Actor | null>;
  /** Bounds of the admin API (from `config.ts`). */
  readonly limits: AdminApiLimits;
  /** Read timeouts (defaults 30 s for a whole request, 10 s for its headers): a body sent byte by byte is cut off with 408. */
  readonly timeouts?: { readonly requestMs: number; readonly headersMs: number };
}

const PASS_THROUGH_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

/** Maps an error to what the client sees: our codes from the error family, unknown errors masked. */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const app = findAppError(error);
  const base = { message: formatted.message, ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
  if (app) return { ...base, extensions: { code: toGraphQLCode(app.code) } };
  const code = formatted.extensions?.code;
  if (typeof code === "string" && PASS_THROUGH_CODES.has(code)) return { ...base, extensions: { code } };
  logger.error({ err: error instanceof Error ? error.message : String(error), path: formatted.path }, "unexpected GraphQL error");
  return { ...base, message: MASKED_MESSAGE, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

function countingPlugin(metrics: ControlPlaneMetrics): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const failed = response.body.kind === "single" && (response.body.singleResult.errors?.length ?? 0) > 0;
          metrics.graphqlRequests.inc({ outcome: failed ? "error" : "ok" });
        },
      };
    },
  };
}

function statusCodeOf(error: unknown): number {
  const code = (error as { statusCode?: unknown }).statusCode;
  return typeof code === "number" && code >= 400 && code < 600 ? code : 500;
}

/** Builds (does not listen) the Fastify app with Apollo started: one server per class of caller. */
export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const { limits } = deps;
  const hops = limits.trustProxy;
  const trustProxy = hops === false ? false : typeof hops === "number" ? (_address: string, hop: number) => hop < hops : [...hops];
  const timeouts = deps.timeouts ?? { requestMs: 30_000, headersMs: 10_000 };
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    trustProxy,
    requestTimeout: timeouts.requestMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: 500 },
  });
  const startApollo = async (operationLimits: OperationLimits): Promise<ApolloServer<GraphQLContext>> => {
    const protection = buildOperationProtection(operationLimits);
    const apollo = new ApolloServer<GraphQLContext>({
      ...protection,
      schema: deps.schema,
      includeStacktraceInErrorResponses: false,
      formatError: (formatted, error) => formatGraphQLError(formatted, error, deps.logger),
      plugins: [ApolloServerPluginLandingPageDisabled(), countingPlugin(deps.metrics), nameLiteralInputErrorsPlugin(), ...protection.plugins],
    });
    await apollo.start();
    return apollo;
  };
  const authenticated = await startApollo({ ...limits, revealSchema: true });
  const anonymous = await startApollo(ANONYMOUS_LIMITS);
  app.addHook("onClose", async () => {
    await Promise.all([authenticated.stop(), anonymous.stop()]);
  });

  const throttle = new AuthFailureThrottle({
    limit: limits.authFailureLimit,
    windowMs: limits.authFailureWindowMs,
    lockoutMs: limits.authLockoutMs,
    maxAddresses: DEFAULT_THROTTLE_ADDRESSES,
    now: deps.now,
  });
  const gate = createGraphQLGate({
    authenticate: deps.authenticate,
    throttle,
    anonymousMaxBodyBytes: ANONYMOUS_MAX_BODY_BYTES,
    onAuthFailure: (lockedOut) => deps.metrics.adminAuthFailures.inc({ outcome: lockedOut ? "locked_out" : "refused" }),
  });
  const handlerFor = (apollo: ApolloServer<GraphQLContext>) =>
    fastifyApolloHandler(apollo, {
      context: async (req): Promise<GraphQLContext> => ({ actor: gate.actorOf(req), services: deps.services, now: deps.now }),
    });
  const authenticatedHandler = handlerFor(authenticated);
  const anonymousHandler = handlerFor(anonymous);
  await app.register(async (scope) => {
    // Refusals before Apollo (body too large, not JSON) keep GraphQL's error shape on this route.
    scope.setErrorHandler((error, req, reply) => {
      const status = statusCodeOf(error);
      const message = error instanceof Error ? error.message : String(error);
      if (status === 413) return sendRefusal(reply, payloadTooLarge(message));
      if (status < 500) return sendGraphQLError(reply, status, "BAD_REQUEST", message);
      deps.logger.error({ err: message, url: req.url }, "unexpected HTTP error");
      return sendGraphQLError(reply, status, "INTERNAL_SERVER_ERROR", MASKED_MESSAGE);
    });
    scope.post("/graphql", { onRequest: gate.onRequest, preParsing: gate.preParsing }, function handleGraphQL(req, reply) {
      return (gate.actorOf(req) !== null ? authenticatedHandler : anonymousHandler).call(this, req, reply);
    });
  });
  registerGraphiQLRoute(app, "/graphql");
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    try {
      if (await isMigrated(deps.db)) return { status: "ready" };
      return reply.code(503).send({ status: "not ready", reason: "database not migrated" });
    } catch {
      return reply.code(503).send({ status: "not ready", reason: "database unreachable" });
    }
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  return app;
}
