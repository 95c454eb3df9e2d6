/**
 * Token counting with OpenAI's o200k_base encoding, for usage that no provider reported
 * (a stream cut before its usage chunk). The rank table is large (about 1 s and 200 MB to load),
 * so it is loaded on first use, once, and never at import time.
 */
import { createRequire } from "node:module";
import { Tiktoken } from "js-tiktoken/lite";

/** The shape of a js-tiktoken rank file. */
interface RankFile {
  readonly pat_str: string;
  readonly special_tokens: Record<string, number>;
  readonly bpe_ranks: string;
}

/** The encoder and its pre-tokenisation pattern. */
interface Encoder {
  readonly tiktoken: Tiktoken;
  readonly pattern: RegExp;
}

/**
 * Pre-tokens longer than this many UTF-16 units are encoded in slices: js-tiktoken's merge is
 * quadratic in a pre-token's length (20k "a" take 20 s whole, 40 ms sliced). Slicing adds tokens at
 * slice edges only; ordinary words, numbers and punctuation are far shorter.
 */
const MAX_PIECE = 32;

/** A lazily built encoder: the one cache of this package (immutable data, no per-tenant state). */
let encoder: Encoder | null = null;

/** Returns the o200k_base encoder, building it on the first call. */
function loadEncoder(): Encoder {
  if (encoder === null) {
    const require = createRequire(import.meta.url);
    const ranks = require("js-tiktoken/ranks/o200k_base") as RankFile;
    encoder = { tiktoken: new Tiktoken(ranks), pattern: new RegExp(ranks.pat_str, "gu") };
  }
  return encoder;
}

/** Token count of a text encoded as is (special-token strings as plain text). */
function encodeLength(tiktoken: Tiktoken, text: string): number {
  return text.length === 0 ? 0 : tiktoken.encode(text, [], []).length;
}

/** Token count of one over-long pre-token, encoded in slices that never split a surrogate pair. */
function countLongPiece(tiktoken: Tiktoken, piece: string): number {
  let total = 0;
  for (let i = 0; i < piece.length; ) {
    let j = Math.min(i + MAX_PIECE, piece.length);
    const last = piece.charCodeAt(j - 1);
    if (j < piece.length && last >= 0xd800 && last <= 0xdbff) j--;
    total += encodeLength(tiktoken, piece.slice(i, j));
    i = j;
  }
  return total;
}

/** True once the tokenizer's tables are loaded in this process (they cost ~150 MB and a second to load). */
export function isTokenizerLoaded(): boolean {
  return encoder !== null;
}

/** Loads the tokenizer now (call at start-up so the first counted request does not pay ~1 s). */
export function warmTokenizer(): void {
  loadEncoder();
}

/**
 * Counts o200k_base tokens of `text` (special-token strings count as plain text); exact for
 * ordinary text, an overcount (never more than
 * one token per byte) for pre-tokens longer than MAX_PIECE, i.e. long runs of one character.
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  const { tiktoken, pattern } = loadEncoder();
  let total = 0;
  let batchStart = 0;
  for (const match of text.matchAll(pattern)) {
    const piece = match[0];
    if (piece.length <= MAX_PIECE) continue;
    total += encodeLength(tiktoken, text.slice(batchStart, match.index));
    total += countLongPiece(tiktoken, piece);
    batchStart = match.index + piece.length;
  }
  return total + encodeLength(tiktoken, text.slice(batchStart));
}
