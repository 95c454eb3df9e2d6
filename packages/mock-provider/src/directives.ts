/**
 * Behaviour directives written inside a request's own text, so tests going through a gateway can
 * steer the mock: `[[mock:completion_tokens=7]]`, `[[mock:prompt_tokens=123]]`,
 * `[[mock:cached_tokens=5]]`, `[[mock:cache_write_tokens=100]]` (5-minute prompt-cache writes),
 * `[[mock:cache_write_1h_tokens=100]]` (1-hour writes; both Anthropic only), `[[mock:status=500]]`, `[[mock:latency_ms=200]]`, `[[mock:hang]]`,
 * `[[mock:reset_after=3]]`, `[[mock:chunk_delay_ms=50]]`, `[[mock:echo_key=401]]`,
 * `[[mock:reasoning_tokens=100]]`. Unknown or malformed
 * directives are ignored.
 */

/** The directives found in a request. */
export interface MockDirectives {
  readonly completionTokens: number | null;
  readonly promptTokens: number | null;
  readonly cachedTokens: number | null;
  /**
   * Hidden reasoning tokens: billed in the usage (OpenAI `completion_tokens` and
   * `reasoning_tokens`, Anthropic `output_tokens`) but never in the visible text.
   */
  readonly reasoningTokens: number | null;
  /** Input tokens reported as written to the prompt cache for 5 minutes (Anthropic `cache_creation`). */
  readonly cacheWriteTokens: number | null;
  /** Input tokens reported as written to the prompt cache for 1 hour. */
  readonly cacheWrite1hTokens: number | null;
  /** Answer with this HTTP status and an OpenAI error body. */
  readonly status: number | null;
  readonly latencyMs: number | null;
  /** Never answer; the request stays open until the client goes away. */
  readonly hang: boolean;
  /** Destroy the socket after this many content chunks (non-stream: before answering). */
  readonly resetAfter: number | null;
  /** Delay between stream chunks for this request (overrides the server's `chunkDelayMs`). */
  readonly chunkDelayMs: number | null;
  /**
   * Echo the credential the request carried (a careless upstream): answer this status with an
   * error body whose message and other fields repeat it; 200 on a stream = an error event echoing
   * it after the first content event.
   */
  readonly echoKey: number | null;
}

/** No directive at all. */
export const NO_DIRECTIVES: MockDirectives = {
  completionTokens: null,
  promptTokens: null,
  cachedTokens: null,
  reasoningTokens: null,
  cacheWriteTokens: null,
  cacheWrite1hTokens: null,
  status: null,
  latencyMs: null,
  hang: false,
  resetAfter: null,
  chunkDelayMs: null,
  echoKey: null,
};

const MARKER = "[[mock:";
const DIRECTIVE = /\[\[mock:([a-z0-9_]+)(?:=(\d+))?\]\]/g;

/** Reads the directives out of the given texts (later ones win). */
export function parseDirectives(texts: readonly string[]): MockDirectives {
  if (!texts.some((t) => t.includes(MARKER))) return NO_DIRECTIVES;
  const found: { -readonly [K in keyof MockDirectives]: MockDirectives[K] } = { ...NO_DIRECTIVES };
  for (const text of texts) {
    for (const m of text.matchAll(DIRECTIVE)) {
      const value = m[2] === undefined ? null : Number(m[2]);
      switch (m[1]) {
        case "completion_tokens":
          found.completionTokens = value;
          break;
        case "prompt_tokens":
          found.promptTokens = value;
          break;
        case "cached_tokens":
          found.cachedTokens = value;
          break;
        case "reasoning_tokens":
          found.reasoningTokens = value;
          break;
        case "cache_write_tokens":
          found.cacheWriteTokens = value;
          break;
        case "cache_write_1h_tokens":
          found.cacheWrite1hTokens = value;
          break;
        case "status":
          found.status = value !== null && value >= 100 && value <= 599 ? value : null;
          break;
        case "latency_ms":
          found.latencyMs = value;
          break;
        case "hang":
          found.hang = true;
          break;
        case "reset_after":
          found.resetAfter = value;
          break;
        case "chunk_delay_ms":
          found.chunkDelayMs = value;
          break;
        case "echo_key":
          found.echoKey = value !== null && value >= 200 && value <= 599 ? value : null;
          break;
        default:
          break;
      }
    }
  }
  return found;
}
