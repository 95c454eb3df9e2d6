/**
 * Custom scalars: `Decimal` (US dollars as a string; a micro-unit bigint inside, or a `PicoAmount`
 * for exact costs), DateTime and JSONObject.
 */
import { formatUsd, formatUsdPicos, parseUsd } from "@tollgate/policy";
import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { DateTimeResolver, JSONObjectResolver } from "graphql-scalars";
import { badInput } from "../errors.js";

/**
 * The largest Decimal accepted: $1,000,000,000,000 (10^18 micro-units), inside the `bigint`
 * micro-dollar columns (prices per million, per-request caps; at most 9.2 * 10^18). Larger values
 * are BAD_USER_INPUT. A USD budget limit has a tighter bound (`MAX_USD_BUDGET_PICOS`, $9,000,000),
 * checked where the limit is turned into pico-dollars.
 */
export const MAX_DECIMAL = 1_000_000_000_000n;

const MAX_DECIMAL_MICROS = MAX_DECIMAL * 1_000_000n;

/** Significant digits a JSON number keeps exactly through a double (DBL_DIG). */
const EXACT_NUMBER_DIGITS = 15;

function significantDigits(v: number): number {
  const mantissa = Math.abs(v).toExponential().split("e")[0] ?? "";
  return mantissa.replace(".", "").replace(/0+$/, "").length;
}

function rejectInexactNumber(v: number): void {
  if (!Number.isFinite(v)) throw badInput(`invalid Decimal ${String(v)}: not a finite amount`);
  if (Math.abs(v) > Number.MAX_SAFE_INTEGER || significantDigits(v) > EXACT_NUMBER_DIGITS) {
    throw badInput(`invalid Decimal ${String(v)}: a JSON number with more than ${EXACT_NUMBER_DIGITS} significant digits or beyond 2^53 is not exact; send the amount as a string`);
  }
}

/** Parses a Decimal input to micro-units; BAD_USER_INPUT for anything not exact, negative or out of range. */
export function parseDecimal(v: unknown): bigint {
  if (typeof v !== "string" && typeof v !== "number") throw badInput(`Decimal must be a string or a number, got ${typeof v}`);
  if (typeof v === "number") rejectInexactNumber(v);
  if (typeof v === "string" && v.length > 64) throw badInput(`invalid Decimal: longer than 64 characters`);
  let micros: bigint;
  try {
    micros = parseUsd(v);
  } catch (e) {
    throw badInput(`invalid Decimal ${JSON.stringify(v)}: ${e instanceof Error ? e.message : "not an amount"}`, e);
  }
  if (micros > MAX_DECIMAL_MICROS) throw badInput(`invalid Decimal ${JSON.stringify(v)}: out of range (at most ${MAX_DECIMAL.toString()})`);
  return micros;
}

/** An exact amount of pico-dollars for a Decimal output (a cost): printed with up to 12 decimals. */
export class PicoAmount {
  /** `picos` is the amount in pico-dollars (10^-12 $). */
  constructor(readonly picos: bigint) {}
}

/**
 * Money: serialized as a string of US dollars ("12.50"); accepts a string or a number (at most 6
 * decimals); micro-dollars (bigint) inside, or a `PicoAmount` for exact costs (up to 12 decimals).
 */
export const DecimalScalar = new GraphQLScalarType<bigint | PicoAmount, string>({
  name: "Decimal",
  description:
    'An exact decimal amount, serialized as a string ("12.50"). Money is US dollars: inputs have at most 6 decimals; costs are output exactly, with up to 12 decimals ("0.001305"). Accepts a string or a number.',
  serialize(v: unknown): string {
    if (v instanceof PicoAmount) return formatUsdPicos(v.picos);
    if (typeof v !== "bigint") throw new TypeError("Decimal values are micro-unit bigints or PicoAmounts inside");
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
