/**
 * What the decision core is told about each inbound protocol's request: the one place where a
 * parsed body becomes a `RequestShape`, shared by the real routes and the Simulator so both
 * evaluate a request exactly alike.
 */
import { assertNever, type RequestShape } from "@tollgate/policy";
import {
  estimateEmbeddingInputUpperBound,
  estimateInputTokensUpperBound,
  isParseError,
  parseOpenAIChatRequest,
  parseOpenAIEmbeddingsRequest,
  type ParseError,
  type ParsedChatRequest,
  type ParsedEmbeddingsRequest,
} from "@tollgate/providers";

/** The routes the Simulator can evaluate. */
export const SIMULATED_PATHS = ["/v1/chat/completions", "/v1/embeddings"] as const;

/** One of `SIMULATED_PATHS`. */
export type SimulatedPath = (typeof SIMULATED_PATHS)[number];

/** True when `path` is one of `SIMULATED_PATHS`. */
export function isSimulatedPath(path: unknown): path is SimulatedPath {
  return typeof path === "string" && (SIMULATED_PATHS as readonly string[]).includes(path);
}

/** A chat request's shape: prompt upper bound, and max tokens times `n` (every choice is paid). */
export function shapeChatRequest(parsed: ParsedChatRequest): RequestShape {
  return {
    model: parsed.model,
    inputTokensUpperBound: estimateInputTokensUpperBound(parsed),
    requestedMaxOutputTokens: parsed.requestedMaxOutputTokens === null ? null : parsed.requestedMaxOutputTokens * parsed.n,
    operation: "chat",
  };
}

/** An embeddings request's shape: the inputs' upper bound, no output tokens. */
export function shapeEmbeddingsRequest(parsed: ParsedEmbeddingsRequest): RequestShape {
  return { model: parsed.model, inputTokensUpperBound: estimateEmbeddingInputUpperBound(parsed), requestedMaxOutputTokens: null, operation: "embeddings" };
}

/** An inbound body parsed for a path: its shape and whether it streams, or the parser's error. */
export type InboundParse = { readonly ok: true; readonly shape: RequestShape; readonly stream: boolean } | { readonly ok: false; readonly message: string };

/** Parses `body` with the same parser the route of `path` uses. */
export function parseInboundRequest(path: SimulatedPath, body: unknown): InboundParse {
  switch (path) {
    case "/v1/chat/completions": {
      const parsed = parseOpenAIChatRequest(body);
      return isParseError(parsed) ? { ok: false, message: parsed.error } : { ok: true, shape: shapeChatRequest(parsed), stream: parsed.stream };
    }
    case "/v1/embeddings": {
      const parsed = parseOpenAIEmbeddingsRequest(body);
      return isParseFailure(parsed) ? { ok: false, message: parsed.error } : { ok: true, shape: shapeEmbeddingsRequest(parsed), stream: false };
    }
    default:
      return assertNever(path);
  }
}

/** True when a parser of `@tollgate/providers` answered an error (`isParseError` is typed for chat only). */
export function isParseFailure<T extends object>(result: T | ParseError): result is ParseError {
  return "error" in result;
}
