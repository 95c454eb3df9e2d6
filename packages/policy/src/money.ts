/**
 * Money helpers. Inside Tollgate an amount of money is an integer `bigint` in one of two units:
 * pico-dollars (10^-12 $: costs, ledgers, holds, budget limits; a price of up to six decimals per
 * million tokens times a token count is an exact number of them) or micro-dollars (10^-6 $: what
 * admins type, and prices per million tokens, which are pico-dollars per token). Outside it is a
 * decimal string of US dollars. No floats ever touch an amount.
 */

const MICROS_PER_DOLLAR = 1_000_000n;
const PICOS_PER_DOLLAR = 1_000_000_000_000n;

/** Pico-dollars in one micro-dollar. */
export const PICOS_PER_MICRO = 1_000_000n;

/**
 * The largest USD budget limit: $9,000,000 in pico-dollars, below int64's 9.22 * 10^18 so a
 * budget's grants, holds and charges fit the wire's int64 fields. Sums over many windows and
 * rollups are NUMERIC in the database and bigint in memory, so they have no such bound.
 */
export const MAX_USD_BUDGET_PICOS = 9_000_000n * PICOS_PER_DOLLAR;

/** Micro-dollars as pico-dollars (exact). */
export function picosOfMicros(micros: bigint): bigint {
  return micros * PICOS_PER_MICRO;
}

/** Pico-dollars rounded up to whole micro-dollars (for holds and legacy fields: never undercounts). */
export function microsCeilOfPicos(picos: bigint): bigint {
  if (picos <= 0n) return -(-picos / PICOS_PER_MICRO);
  return (picos + PICOS_PER_MICRO - 1n) / PICOS_PER_MICRO;
}

/**
 * Formats pico-dollars as dollars, exactly, with up to 12 decimals and at least 2 ("12.50",
 * "0.001305", "0.000000000001", "-1.25"). Presentation only: nothing is rounded.
 */
export function formatUsdPicos(picos: bigint): string {
  const negative = picos < 0n;
  const abs = negative ? -picos : picos;
  const dollars = abs / PICOS_PER_DOLLAR;
  let fraction = (abs % PICOS_PER_DOLLAR).toString().padStart(12, "0");
  while (fraction.length > 2 && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return `${negative ? "-" : ""}${dollars.toString()}.${fraction}`;
}

/** Formats micro-dollars as dollars with up to 6 decimals, at least 2 ("12.50", "0.000123", "-1.25"). */
export function formatUsd(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const dollars = abs / MICROS_PER_DOLLAR;
  let fraction = (abs % MICROS_PER_DOLLAR).toString().padStart(6, "0");
  while (fraction.length > 2 && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return `${negative ? "-" : ""}${dollars.toString()}.${fraction}`;
}

/** Thrown by `parseUsd` for a value that is not an exact, non-negative amount of at most 6 decimals. */
export class InvalidUsdAmountError extends Error {
  override readonly name = "InvalidUsdAmountError";
}

/** Expands a JavaScript number's shortest decimal form (which may use an exponent) to plain digits. */
function expandNumber(v: number): string {
  if (!Number.isFinite(v)) throw new InvalidUsdAmountError(`not a finite amount: ${String(v)}`);
  const text = String(v);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (m === null) return text;
  const [, sign = "", intPart = "", fracPart = "", expText = "0"] = m;
  const digits = intPart + fracPart;
  const point = intPart.length + Number(expText);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Parses dollars ("12.50", "0.000123", 12.5) into micro-dollars, exactly. Throws
 * `InvalidUsdAmountError` for negatives, NaN, garbage, or more than 6 significant decimals.
 */
export function parseUsd(v: string | number): bigint {
  const text = typeof v === "number" ? expandNumber(v) : v.trim();
  const m = /^\+?(\d*)(?:\.(\d*))?$/.exec(text);
  const intPart = m?.[1] ?? "";
  const rawFraction = m?.[2] ?? "";
  if (m === null || (intPart === "" && rawFraction === "")) {
    throw new InvalidUsdAmountError(`not a non-negative dollar amount: ${JSON.stringify(String(v))}`);
  }
  const fraction = rawFraction.replace(/0+$/, "");
  if (fraction.length > 6) {
    throw new InvalidUsdAmountError(`more precision than a micro-dollar: ${JSON.stringify(String(v))}`);
  }
  return BigInt(intPart === "" ? "0" : intPart) * MICROS_PER_DOLLAR + BigInt(fraction.padEnd(6, "0"));
}
