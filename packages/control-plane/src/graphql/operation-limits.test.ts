/**
 * The operation limits through a real ApolloServer on the real schema: oversized documents stop
 * in the parser, armor's rules refuse aliases/depth/directives/cost, and anonymous callers get
 * neither introspection nor "Did you mean" suggestions.
 */
import { ApolloServer, HeaderMap } from "@apollo/server";
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "../config.js";
import type { GraphQLContext, GraphQLServices } from "./context.js";
import { ANONYMOUS_LIMITS, buildOperationProtection, type OperationLimits } from "./operation-limits.js";
import { buildControlPlaneSchema } from "./schema.js";

const AUTHENTICATED: OperationLimits = { ...loadControlPlaneConfig({}).adminApi, revealSchema: true };

interface Answer {
  readonly status: number;
  readonly errors: Array<{ message: string; extensions?: { code?: string } }>;
  readonly data: unknown;
}

describe("operation limits", () => {
  const servers: ApolloServer<GraphQLContext>[] = [];
  let run: (limits: "anonymous" | "authenticated", body: unknown) => Promise<Answer>;

  beforeAll(async () => {
    const schema = await buildControlPlaneSchema();
    const start = async (limits: OperationLimits): Promise<ApolloServer<GraphQLContext>> => {
      const server = new ApolloServer<GraphQLContext>({ ...buildOperationProtection(limits), schema });
      await server.start();
      servers.push(server);
      return server;
    };
    const anonymous = await start(ANONYMOUS_LIMITS);
    const authenticated = await start(AUTHENTICATED);
    const services = {} as GraphQLServices;
    run = async (which, body) => {
      const server = which === "anonymous" ? anonymous : authenticated;
      const res = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: "POST", headers: new HeaderMap([["content-type", "application/json"]]), search: "", body },
        context: async () => ({ actor: which === "anonymous" ? null : { kind: "platformAdmin" }, services, now: Date.now }),
      });
      const text = res.body.kind === "complete" ? res.body.string : "";
      const parsed = JSON.parse(text) as { errors?: Answer["errors"]; data?: unknown };
      return { status: res.status ?? 200, errors: parsed.errors ?? [], data: parsed.data };
    };
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { kind }`).join(" ")} }`;

  it("stops a 30,000-alias document in the parser within milliseconds, for either caller", async () => {
    for (const which of ["anonymous", "authenticated"] as const) {
      const started = performance.now();
      const r = await run(which, { query: aliases(30_000) });
      const ms = performance.now() - started;
      expect(r.status).toBe(400);
      expect(r.errors[0]?.extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
      expect(r.errors[0]?.message).toContain("tokens");
      expect(ms).toBeLessThan(1_000);
    }
  });

  it("refuses more aliases, depth, directives or cost than allowed (armor), and runs what fits", async () => {
    expect((await run("authenticated", { query: aliases(AUTHENTICATED.maxAliases) })).errors).toEqual([]);
    const tooMany = await run("authenticated", { query: aliases(AUTHENTICATED.maxAliases + 1) });
    expect(tooMany.errors[0]?.message).toMatch(/Aliases limit of 50 exceeded/);
    expect(tooMany.errors[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect((await run("anonymous", { query: aliases(6) })).errors[0]?.message).toMatch(/Aliases limit of 5 exceeded/);

    const deep = `{ organizations { ${"teams { organization { ".repeat(6)} id ${"} } ".repeat(6)} } }`;
    expect((await run("authenticated", { query: deep })).errors[0]?.message).toMatch(/Query depth limit of 12 exceeded/);

    const directives = `{ me { kind ${"@include(if: true) ".repeat(21)} } }`;
    expect((await run("authenticated", { query: directives })).errors[0]?.message).toMatch(/Directives limit of 20 exceeded/);

    const page = (alias: string): string =>
      `${alias}: virtualKeys(organizationId: "org_x", first: 500) { edges { node { id name kind status prefix last4 allowedModels maxCostPerRequest metadata budgets { unit window limit mode used remaining resetsAt } } } }`;
    const costly = `{ ${Array.from({ length: 10 }, (_, i) => page(`p${i}`)).join(" ")} }`;
    expect((await run("authenticated", { query: costly })).errors[0]?.message).toMatch(/Query Cost limit of 100000 exceeded/);
  });

  it("answers introspection only to authenticated callers", async () => {
    const query = getIntrospectionQuery();
    const authed = await run("authenticated", { query });
    expect(authed.errors).toEqual([]);
    expect(JSON.stringify(authed.data)).toContain("createVirtualKey");
    const anon = await run("anonymous", { query: "{ __schema { types { name } } }" });
    expect(anon.errors[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(anon.errors[0]?.message).toMatch(/introspection/i);
    expect(anon.data).toBeUndefined();
  });

  it("hides field suggestions from anonymous callers only", async () => {
    const query = "{ organisations { id } }";
    const anon = await run("anonymous", { query });
    expect(anon.errors[0]?.message).toContain('Cannot query field "organisations"');
    expect(anon.errors.map((e) => e.message).join(" ")).not.toMatch(/Did you mean|organizations/);
    const authed = await run("authenticated", { query });
    expect(authed.errors[0]?.message).toContain('Did you mean "organizations"');
  });

  it("refuses batched requests (one operation per request)", async () => {
    const r = await run("authenticated", [{ query: "{ me { kind } }" }, { query: "{ me { kind } }" }]);
    expect(r.status).toBe(400);
  });
});
