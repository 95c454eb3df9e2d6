/** Validation and token bounds of an inbound OpenAI Chat Completions request. */
import { isJsonObject } from "./usage.js";

/** Which output-limit field the client wrote. */
export type MaxTokensField = "max_completion_tokens" | "max_tokens";

const REASONING_MODEL = /^(?:[\w.-]+\/)?(?:o\d|gpt-5)/i;

/**
 * The output-limit field an OpenAI model accepts: the reasoning models (o-series, the gpt-5
 * family) refuse `max_tokens` and take `max_completion_tokens`; the others take `max_tokens`.
 */
export function outputLimitFieldOf(upstreamModel: string): MaxTokensField {
  return REASONING_MODEL.test(upstreamModel) ? "max_completion_tokens" : "max_tokens";
}

/** One chat message as the client sent it (role checked, the rest kept as is). */
export interface ChatMessage {
  readonly role: string;
  readonly [field: string]: unknown;
}

/** A validated chat request: the original body plus what the gateway needs to decide. */
export interface ParsedChatRequest {
  /** The body exactly as received (never mutated). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream: boolean;
  /** The client asked for `stream_options.include_usage`. */
  readonly includeUsage: boolean;
  /** `max_completion_tokens ?? max_tokens`, null when neither was sent. */
  readonly requestedMaxOutputTokens: number | null;
  /** The field the client used (`max_completion_tokens` when both), null when neither. */
  readonly maxTokensField: MaxTokensField | null;
  /** Number of choices asked for (default 1); output tokens scale with it. */
  readonly n: number;
}

/** A request that failed validation; `error` is a client-facing message. */
export interface ParseError {
  readonly error: string;
}

/**
 * Tokens counted for each image part. The provider sizes images server-side from pixels we do
 * not see: gpt-4o high detail is at most 85 + 8 × 170 = 1445 tokens (a 768 × 2048 image), so 1500
 * bounds the gpt-4o/gpt-4.1 families. It is NOT a bound for models that multiply image tokens
 * (gpt-4o-mini counts up to ~48k tokens for the same image, priced to match gpt-4o).
 */
export const IMAGE_PART_TOKENS = 1500;
/** Tokens added per message (role and delimiters; OpenAI documents 3-4). */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** Tokens added per request (reply priming; OpenAI documents 3). */
export const REQUEST_OVERHEAD_TOKENS = 16;
/** Tokens added when tools/functions are declared (the tool namespace header and footer). */
export const TOOLS_OVERHEAD_TOKENS = 32;

/** Type guard: true when parsing failed. */
export function isParseError(r: ParsedChatRequest | ParseError): r is ParseError {
  return "error" in r;
}

/** Reads an optional positive integer field; a string error when malformed. */
export function readOptionalPositiveInt(body: Record<string, unknown>, field: string): number | null | ParseError {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) return { error: `'${field}' must be a positive integer` };
  return v;
}

/** Validates one message; returns an error message or null. */
function validateMessage(m: unknown, i: number): string | null {
  const at = `messages[${i}]`;
  if (!isJsonObject(m)) return `'${at}' must be an object`;
  if (m["role"] === undefined) return `'${at}.role' is required`;
  if (typeof m["role"] !== "string" || m["role"].length === 0) return `'${at}.role' must be a non-empty string`;
  const content = m["content"];
  const assistantWithoutContent = m["role"] === "assistant" && (m["tool_calls"] !== undefined || m["function_call"] !== undefined || m["refusal"] !== undefined || m["audio"] !== undefined);
  if (content === undefined || content === null) {
    return assistantWithoutContent ? null : `'${at}.content' is required`;
  }
  if (typeof content === "string") return null;
  if (!Array.isArray(content)) return `'${at}.content' must be a string or an array of content parts`;
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    if (!isJsonObject(part) || typeof part["type"] !== "string") return `'${at}.content[${j}].type' is required`;
  }
  return null;
}

/**
 * Validates an OpenAI chat body: an object with a string `model`, a non-empty `messages` array of
 * `{role, content}`, and well-typed `stream`, `n`, `max_tokens`, `max_completion_tokens`.
 */
export function parseOpenAIChatRequest(body: unknown): ParsedChatRequest | ParseError {
  if (!isJsonObject(body)) return { error: "the request body must be a JSON object" };
  const model = body["model"];
  if (model === undefined || model === null) return { error: "'model' is required" };
  if (typeof model !== "string" || model.length === 0) return { error: "'model' must be a non-empty string" };
  const messages = body["messages"];
  if (messages === undefined || messages === null) return { error: "'messages' is required" };
  if (!Array.isArray(messages)) return { error: "'messages' must be an array" };
  if (messages.length === 0) return { error: "'messages' must contain at least one message" };
  for (let i = 0; i < messages.length; i++) {
    const err = validateMessage(messages[i], i);
    if (err !== null) return { error: err };
  }
  const stream = body["stream"];
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") return { error: "'stream' must be a boolean" };
  const options = body["stream_options"];
  if (options !== undefined && options !== null && !isJsonObject(options)) return { error: "'stream_options' must be an object" };
  const maxCompletion = readOptionalPositiveInt(body, "max_completion_tokens");
  if (isParseErrorValue(maxCompletion)) return maxCompletion;
  const maxTokens = readOptionalPositiveInt(body, "max_tokens");
  if (isParseErrorValue(maxTokens)) return maxTokens;
  const n = readOptionalPositiveInt(body, "n");
  if (isParseErrorValue(n)) return n;
  const maxTokensField: MaxTokensField | null = maxCompletion !== null ? "max_completion_tokens" : maxTokens !== null ? "max_tokens" : null;
  return {
    body,
    model,
    messages: messages as ChatMessage[],
    stream: stream === true,
    includeUsage: isJsonObject(options) && options["include_usage"] === true,
    requestedMaxOutputTokens: maxCompletion ?? maxTokens,
    maxTokensField,
    n: n ?? 1,
  };
}

/** Narrows a `readOptionalPositiveInt` result. */
function isParseErrorValue(v: number | null | ParseError): v is ParseError {
  return typeof v === "object" && v !== null;
}

/** UTF-8 byte length of a string. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}
