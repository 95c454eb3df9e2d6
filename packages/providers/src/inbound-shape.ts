/**
 * What the decision core is told about an inbound request: the one place where a parsed OpenAI
 * body becomes a `RequestShape` (with the prompt text guardrails read), shared by the data plane's
 * routes, its Simulator and the control plane's `simulate` query so all evaluate a request alike.
 */
import type { RequestShape } from "@tollgate/policy";
import { assertNever, type ChatProtocol, type ChatRequest } from "./chat-model.js";
import { scanOpenAIChatInput } from "./openai/chat-input-bound.js";
import { isParseError, parseOpenAIChatRequest, type ChatMessage, type ParseError, type ParsedChatRequest } from "./openai/chat-request.js";
import { estimateEmbeddingInputUpperBound, parseOpenAIEmbeddingsRequest, type ParsedEmbeddingsRequest } from "./openai/embeddings-request.js";
import { parseResponsesRequest, responsesRequestToNeutral, type ParsedResponsesRequest } from "./openai/responses-request.js";
import { estimateChatInputTokensUpperBound, neutralAttachmentsOf } from "./input-bound.js";
import { requestsOpenAIAudio } from "./openai/usage.js";

/** The routes the Simulator can evaluate. */
export const SIMULATED_PATHS = ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"] as const;

/** One of `SIMULATED_PATHS`. */
export type SimulatedPath = (typeof SIMULATED_PATHS)[number];

/** True when `path` is one of `SIMULATED_PATHS`. */
export function isSimulatedPath(path: unknown): path is SimulatedPath {
  return typeof path === "string" && (SIMULATED_PATHS as readonly string[]).includes(path);
}

/** The text of one OpenAI message: string content, or its text parts, one per line. */
function textOfOpenAIMessage(m: ChatMessage): string {
  const content = m["content"];
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string") parts.push((part as { text: string }).text);
  }
  return parts.join("\n");
}

/** The prompt text guardrails read from an OpenAI chat request: every message's text, one per line. */
export function openAIPromptText(parsed: ParsedChatRequest): string {
  return parsed.messages
    .map(textOfOpenAIMessage)
    .filter((t) => t.length > 0)
    .join("\n");
}

/** The prompt text of a neutral chat request (any inbound protocol): system blocks, then every message's text parts. */
export function neutralPromptText(req: ChatRequest): string {
  const texts: string[] = [...req.system];
  for (const m of req.messages) for (const part of m.parts) if (part.type === "text") texts.push(part.text);
  return texts.filter((t) => t.length > 0).join("\n");
}

/** The prompt text of an embeddings request: its string inputs, one per line. */
export function embeddingsPromptText(parsed: ParsedEmbeddingsRequest): string {
  return parsed.inputs.filter((i): i is string => typeof i === "string").join("\n");
}

/**
 * A chat request's shape: the prompt's text bound with its images and unsizable parts apart (the
 * decision core bounds those per model), its text, and max tokens times `n` (every choice is paid).
 */
export function shapeChatRequest(parsed: ParsedChatRequest): RequestShape {
  const scan = scanOpenAIChatInput(parsed);
  return {
    model: parsed.model,
    inputTokensUpperBound: scan.textTokens,
    attachments: scan.attachments,
    requestedMaxOutputTokens: parsed.requestedMaxOutputTokens === null ? null : parsed.requestedMaxOutputTokens * parsed.n,
    operation: "chat",
    promptText: openAIPromptText(parsed),
    ...(requestsOpenAIAudio(parsed.body) ? { audio: true } : {}),
  };
}

/** An embeddings request's shape: the inputs' upper bound and text, no output tokens. */
export function shapeEmbeddingsRequest(parsed: ParsedEmbeddingsRequest): RequestShape {
  return {
    model: parsed.model,
    inputTokensUpperBound: estimateEmbeddingInputUpperBound(parsed),
    requestedMaxOutputTokens: null,
    operation: "embeddings",
    promptText: embeddingsPromptText(parsed),
  };
}

/** An inbound body parsed for a path: its shape and whether it streams, or the parser's error. */
export type InboundParse = { readonly ok: true; readonly shape: RequestShape; readonly stream: boolean } | { readonly ok: false; readonly message: string };

/** True when a parser of this package answered an error (`isParseError` is typed for chat only). */
export function isParseFailure<T extends object>(result: T | ParseError): result is ParseError {
  return "error" in result;
}

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
    case "/v1/responses": {
      const parsed = parseResponsesRequest(body);
      if (isParseFailure(parsed)) return { ok: false, message: parsed.error };
      const neutral = responsesRequestToNeutral(parsed);
      if (isParseFailure(neutral)) return { ok: false, message: neutral.error };
      return { ok: true, shape: shapeResponsesRequest(parsed, neutral), stream: parsed.stream };
    }
    default:
      return assertNever(path);
  }
}

/**
 * A Responses request's shape: the neutral prompt bounded as the most demanding of `upstreams`
 * counts it (default: an OpenAI-style upstream), its images apart (bounded per model by the core).
 */
export function shapeResponsesRequest(parsed: ParsedResponsesRequest, neutral: ChatRequest, upstreams: readonly ChatProtocol[] = ["openai"]): RequestShape {
  return {
    model: parsed.model,
    inputTokensUpperBound: Math.max(...upstreams.map((u) => estimateChatInputTokensUpperBound(neutral, u, 0))),
    attachments: neutralAttachmentsOf(neutral),
    requestedMaxOutputTokens: parsed.maxOutputTokens,
    operation: "chat",
    promptText: neutralPromptText(neutral),
  };
}
