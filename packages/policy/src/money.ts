/**
 * Money helpers. Inside Tollgate money is integer micro-dollars (`bigint`); outside it is a
 * decimal string of US dollars. No floats ever touch an amount.
 */

const MICROS_PER_DOLLAR = 1_000_000n;

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
