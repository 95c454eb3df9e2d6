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
import type { Database } from "../db/database.js";
import { isMigrated } from "../db/migrate.js";
import { MASKED_MESSAGE, toGraphQLCode } from "../error-map.js";
import { findAppError } from "../errors.js";
import type { GraphQLContext, GraphQLServices } from "../graphql/context.js";
import type { Actor } from "../services/actor.js";
import { registerGraphiQLRoute } from "./graphiql.route.js";
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
  /** Read timeouts (defaults 30 s for a whole request, 10 s for its headers): a body sent byte by byte is cut off with 408. */
  readonly timeouts?: { readonly requestMs: number; readonly headersMs: number };
}

const PASS_THROUGH_CODES = new Set(["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "BAD_REQUEST", "OPERATION_RESOLUTION_FAILURE", "PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"]);

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

/** Builds (does not listen) the Fastify app with Apollo started. */
export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const timeouts = deps.timeouts ?? { requestMs: 30_000, headersMs: 10_000 };
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 2 * 1024 * 1024,
    requestTimeout: timeouts.requestMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: 500 },
  });
  const apollo = new ApolloServer<GraphQLContext>({
    schema: deps.schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => formatGraphQLError(formatted, error, deps.logger),
    plugins: [ApolloServerPluginLandingPageDisabled(), countingPlugin(deps.metrics)],
  });
  await apollo.start();

  app.post("/graphql", fastifyApolloHandler(apollo, {
    context: async (req): Promise<GraphQLContext> => {
      const header = req.headers.authorization;
      const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : null;
      const actor = token ? await deps.authenticate(token) : null;
      return { actor, services: deps.services, now: deps.now };
    },
  }));
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
  app.addHook("onClose", async () => {
    await apollo.stop();
  });
  return app;
}
