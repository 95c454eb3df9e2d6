/** Custom scalars: `Decimal` (US dollars as a string; micro-dollar bigint inside), DateTime and JSONObject. */
import { formatUsd, parseUsd } from "@tollgate/policy";
import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { DateTimeResolver, JSONObjectResolver } from "graphql-scalars";
import { badInput } from "../errors.js";

function parseDecimal(v: unknown): bigint {
  if (typeof v !== "string" && typeof v !== "number") throw badInput(`Decimal must be a string or a number, got ${typeof v}`);
  try {
    return parseUsd(v);
  } catch (e) {
    throw badInput(`invalid Decimal ${JSON.stringify(v)}: ${e instanceof Error ? e.message : "not an amount"}`, e);
  }
}

/** Money: serialized as a string of US dollars ("12.50"); accepts a string or a number; micro-dollars (bigint) inside. */
export const DecimalScalar = new GraphQLScalarType<bigint, string>({
  name: "Decimal",
  description: 'An exact non-negative decimal amount, serialized as a string ("12.50"). Money is US dollars with at most 6 decimals. Accepts a string or a number.',
  serialize(v: unknown): string {
    if (typeof v !== "bigint") throw new TypeError("Decimal values are micro-unit bigints inside");
    return formatUsd(v);
  },
  parseValue: parseDecimal,
  parseLiteral(ast: ValueNode): bigint {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return parseDecimal(ast.kind === Kind.STRING ? ast.value : ast.value);
    throw badInput("Decimal must be a string or a number");
  },
});

/** ISO-8601 timestamps. */
export const DateTimeScalar = DateTimeResolver;

/** A JSON object (virtual key metadata). */
export const JSONObjectScalar = JSONObjectResolver;
