/**
 * Names the field of a bad literal input. graphql-js reports a literal its scalar refused
 * ("Expected value of type \"Decimal\", found 1e400; ...") without saying where it sits; this
 * Apollo plugin prefixes such a BAD_USER_INPUT error with the literal's path in the operation
 * (`input.maxCostPerRequest: ...`), as variables' errors already do (`at "i.maxCostPerRequest"`).
 */
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { BREAK, Kind, visit, type ASTNode, type DocumentNode, type GraphQLError, type ValueNode } from "graphql";
import { findAppError } from "../errors.js";

function pathWithin(value: ValueNode, target: ASTNode, path: string): string | null {
  if (value === target) return path;
  if (value.kind === Kind.OBJECT) {
    for (const field of value.fields) {
      const found = pathWithin(field.value, target, `${path}.${field.name.value}`);
      if (found !== null) return found;
    }
  }
  if (value.kind === Kind.LIST) {
    for (const [i, item] of value.values.entries()) {
      const found = pathWithin(item, target, `${path}[${i}]`);
      if (found !== null) return found;
    }
  }
  return null;
}

/** The argument path (`input.rules[2].pattern`) of `target` in `document`, or null when it is not an argument literal. */
export function literalPathOf(document: DocumentNode, target: ASTNode): string | null {
  let found: string | null = null;
  visit(document, {
    Argument(node) {
      found = pathWithin(node.value, target, node.name.value);
      return found === null ? undefined : BREAK;
    },
  });
  return found;
}

function nameField(document: DocumentNode, error: GraphQLError): void {
  const node = error.nodes?.[0];
  if (node === undefined || findAppError(error)?.code !== "BAD_USER_INPUT") return;
  const path = literalPathOf(document, node);
  if (path !== null && !error.message.startsWith(`${path}: `)) error.message = `${path}: ${error.message}`;
}

/** Apollo plugin: prefixes BAD_USER_INPUT errors about a literal with the literal's argument path. */
export function nameLiteralInputErrorsPlugin(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ document, errors }) {
          if (document === undefined) return;
          for (const error of errors) nameField(document, error);
        },
      };
    },
  };
}
