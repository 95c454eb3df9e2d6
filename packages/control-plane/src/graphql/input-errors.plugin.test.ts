import { ApolloServer } from "@apollo/server";
import { parse, visit, type ASTNode } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphQLContext, GraphQLServices } from "./context.js";
import { literalPathOf, nameLiteralInputErrorsPlugin } from "./input-errors.plugin.js";
import { buildControlPlaneSchema } from "./schema.js";

describe("literalPathOf", () => {
  it("names an argument literal by its path through objects and lists, and nothing else", () => {
    const doc = parse(`mutation { setGuardrails(input: { scope: ORGANIZATION, scopeId: "o", rules: [{ pattern: "a" }, { pattern: "b" }] }) { guardrails { scope } } }`);
    let pattern: ASTNode | undefined;
    let input: ASTNode | undefined;
    visit(doc, {
      StringValue(node) {
        if (node.value === "b") pattern = node;
      },
      Argument(node) {
        if (node.name.value === "input") input = node.value;
      },
    });
    expect(pattern && literalPathOf(doc, pattern)).toBe("input.rules[1].pattern");
    expect(input && literalPathOf(doc, input)).toBe("input");
    expect(literalPathOf(doc, doc.definitions[0] ?? doc)).toBeNull();
  });
});

describe("nameLiteralInputErrorsPlugin", () => {
  let server: ApolloServer<GraphQLContext>;
  beforeAll(async () => {
    server = new ApolloServer<GraphQLContext>({ schema: await buildControlPlaneSchema(), plugins: [nameLiteralInputErrorsPlugin()] });
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("prefixes a refused Decimal literal with its field", async () => {
    const res = await server.executeOperation(
      { query: `mutation { createVirtualKey(input: { organizationId: "org_x", name: "k", kind: SERVICE, maxCostPerRequest: 100000000000000000000 }) { secret } }` },
      { contextValue: { actor: { kind: "platformAdmin" }, services: {} as GraphQLServices, now: Date.now } },
    );
    const errors = res.body.kind === "single" ? (res.body.singleResult.errors ?? []) : [];
    expect(errors[0]?.message).toMatch(/^input\.maxCostPerRequest: Expected value of type "Decimal", found 100000000000000000000; invalid Decimal .*out of range/);
  });
});
