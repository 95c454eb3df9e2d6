/**
 * Admin-supplied text patterns, compiled by a linear-time engine with RE2 semantics (`re2js`, pure
 * JavaScript): matching takes time proportional to (program size x text length), whatever the
 * pattern, so no pattern can backtrack catastrophically. What RE2 cannot express in linear time
 * (backreferences, lookahead, lookbehind) is refused with a message that says so.
 *
 * Bounds. RE2's time is linear in the text but its factor grows with the program: on the
 * machines this was measured on (2 shared cores), DFA-friendly patterns (literals, classes, the
 * usual PII shapes) scan ~100 MB/s whatever the prompt, while the worst patterns allowed (nested
 * counted repetitions that defeat the DFA cache) cost up to ~300 ns per instruction and character.
 * So:
 * - one pattern compiles to at most `MAX_PATTERN_INSTRUCTIONS` instructions;
 * - a scope's text rules check a prompt of at most `TEXT_SCAN_BUDGET / (their instructions)`
 *   characters (`maxScannedChars`), which keeps one scope's worst case at about 1.4 s (50
 *   pathological rules, measured) and a typical scope's in milliseconds; the caller decides what
 *   a longer prompt means.
 */
import { RE2JS } from "re2js";

/** The most instructions one compiled pattern may have (`x{1000}` is about the largest). */
export const MAX_PATTERN_INSTRUCTIONS = 1000;
/** Instruction x character steps one scope's text rules may spend on one prompt. */
export const TEXT_SCAN_BUDGET = 2 ** 22;

/** A compiled pattern: `test` is true when it matches anywhere in the text. */
export interface TextMatcher {
  test(text: string): boolean;
  /** The size of the compiled program (the factor of its running time per character). */
  readonly instructions: number;
}

/** How a pattern's special characters behave. */
export interface PatternOptions {
  readonly caseInsensitive?: boolean;
  /** `^` and `$` match at line breaks. */
  readonly multiline?: boolean;
  /** `.` matches line breaks too. */
  readonly dotAll?: boolean;
}

/** A compiled pattern, or why it cannot be used. */
export type PatternCompilation = { readonly ok: true; readonly matcher: TextMatcher } | { readonly ok: false; readonly error: string };

const LOOKAROUND = /\(\?(?:=|!|<=|<!)/;
const BACKREFERENCE = /\\(?:[1-9]|k<)/;

/** Why RE2 refused a pattern, in words an admin can act on. */
function explainRefusal(source: string, engineMessage: string): string {
  if (LOOKAROUND.test(source)) return "lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported: patterns run on a linear-time engine (RE2 syntax)";
  if (BACKREFERENCE.test(source)) return "backreferences (\\1, \\k<name>) are not supported: patterns run on a linear-time engine (RE2 syntax)";
  const detail = engineMessage.replace(/^error parsing regexp: /, "");
  return `not a valid pattern (RE2 syntax): ${detail}`;
}

/** The longest prompt a scope whose text rules total `instructions` checks. */
export function maxScannedChars(instructions: number): number {
  return Math.floor(TEXT_SCAN_BUDGET / Math.max(1, instructions));
}

/** The number of instructions of a compiled pattern (re2js types its program loosely). */
function programSize(compiled: RE2JS): number {
  const program: { numInst(): number } = compiled.re2().prog;
  return program.numInst();
}

/** Compiles `source` with RE2 semantics. Pure; never throws. */
export function compileTextPattern(source: string, options: PatternOptions = {}): PatternCompilation {
  const flags = (options.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0) | (options.multiline ? RE2JS.MULTILINE : 0) | (options.dotAll ? RE2JS.DOTALL : 0);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source, flags);
  } catch (e) {
    return { ok: false, error: explainRefusal(source, e instanceof Error ? e.message : String(e)) };
  }
  const instructions = programSize(compiled);
  if (instructions > MAX_PATTERN_INSTRUCTIONS) {
    return { ok: false, error: `the pattern is too large: it compiles to ${instructions} instructions, at most ${MAX_PATTERN_INSTRUCTIONS} (shorten it or split it into several rules)` };
  }
  return { ok: true, matcher: { instructions, test: (text) => compiled.test(text) } };
}

/** A literal string as a pattern that matches exactly it. */
export function quotePattern(text: string): string {
  return RE2JS.quote(text);
}
