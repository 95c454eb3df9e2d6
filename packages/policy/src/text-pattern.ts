/**
 * Admin-supplied text patterns, compiled by a linear-time engine with RE2 semantics (`re2js`, pure
 * JavaScript): matching takes time proportional to (program size x text length), whatever the
 * pattern, so no pattern can backtrack catastrophically. What RE2 cannot express in linear time
 * (backreferences, lookahead, lookbehind) is refused with a message that says so.
 *
 * A scope's patterns run together, as one RE2 set (`compileTextSet`): one pass over the prompt
 * answers which of them match, with a small automaton cache (`SET_DFA_MEMORY`) so a pattern that
 * defeats the cache falls back to the NFA quickly instead of rebuilding states.
 *
 * Bounds. Time is linear in the text, with a factor that grows with the program: measured on 2
 * shared cores, DFA-friendly patterns (literals, classes, the usual PII shapes) scan ~100 MB/s
 * whatever their size, the worst allowed ones (nested counted repetitions) ~15-25 ns per
 * instruction and character. So:
 * - one pattern compiles to at most `MAX_PATTERN_INSTRUCTIONS` instructions;
 * - a scope's patterns check a prompt of at most `TEXT_SCAN_BUDGET / (their instructions)`
 *   characters (`maxScannedChars`): one scope's worst case stays around 200 ms, a typical
 *   scope's within milliseconds; the caller decides what a longer prompt means.
 */
import { RE2JS, RE2Set } from "re2js";

/** The most instructions one compiled pattern may have (`x{1000}` is about the largest). */
export const MAX_PATTERN_INSTRUCTIONS = 1000;
/** Instruction x character steps one scope's patterns may spend on one prompt. */
export const TEXT_SCAN_BUDGET = 2 ** 23;
/** Bytes of automaton cache of one scope's pattern set (re2js's default is 8 MiB). */
export const SET_DFA_MEMORY = 256 * 1024;

/** A compiled pattern: `test` is true when it matches anywhere in the text. */
export interface TextMatcher {
  test(text: string): boolean;
  /** The size of the compiled program (the factor of its running time per character). */
  readonly instructions: number;
  /** The pattern with its options written inline, for `compileTextSet`. */
  readonly source: string;
}

/** Several patterns run in one pass: `matching` answers the indices (in the order given) that match. */
export interface TextSetMatcher {
  matching(text: string): ReadonlySet<number>;
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
  const inline = `${options.caseInsensitive ? "i" : ""}${options.multiline ? "m" : ""}${options.dotAll ? "s" : ""}`;
  const withOptions = inline === "" ? source : `(?${inline})${source}`;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(withOptions);
  } catch (e) {
    return { ok: false, error: explainRefusal(source, e instanceof Error ? e.message : String(e)) };
  }
  const instructions = programSize(compiled);
  if (instructions > MAX_PATTERN_INSTRUCTIONS) {
    return { ok: false, error: `the pattern is too large: it compiles to ${instructions} instructions, at most ${MAX_PATTERN_INSTRUCTIONS} (shorten it or split it into several rules)` };
  }
  return { ok: true, matcher: { instructions, source: withOptions, test: (text) => compiled.test(text) } };
}

/** Compiles patterns that each compiled alone (`TextMatcher.source`) into one set. */
export function compileTextSet(sources: readonly string[]): TextSetMatcher {
  const set = new RE2Set(RE2Set.UNANCHORED, 0, SET_DFA_MEMORY);
  for (const source of sources) set.add(source);
  set.compile();
  return { matching: (text) => new Set(set.match(text)) };
}

/** A literal string as a pattern that matches exactly it. */
export function quotePattern(text: string): string {
  return RE2JS.quote(text);
}
