/** Building the request the gateway sends to an OpenAI-compatible upstream. */
import { outputLimitFieldOf, type MaxTokensField, type ParsedChatRequest } from "./chat-request.js";
import type { ParsedEmbeddingsRequest } from "./embeddings-request.js";
import { isJsonObject } from "./usage.js";

/** Options of `buildOpenAIUpstreamChatBody`. */
export interface UpstreamChatBodyOptions {
  /** The model id sent upstream. */
  readonly upstreamModel: string;
  /** The output limit to enforce; null = leave whatever the client sent. */
  readonly maxOutputTokens: number | null;
  /** For streams: ask upstream for the usage chunk (`stream_options.include_usage = true`). */
  readonly forceStreamUsage: boolean;
  /** The field written when the client sent none (default: the one the upstream model accepts, `outputLimitFieldOf`). */
  readonly fieldWhenAbsent?: MaxTokensField;
}

/**
 * The `service_tier` values billed at the model's (standard) price: `default`, and `flex` (cheaper
 * upstream, never dearer). `priority`, `scale` and `auto` (the project's tier, possibly priority)
 * cost more upstream than the model's price says, so they are not sent.
 */
const TIERS_AT_MODEL_PRICE: ReadonlySet<unknown> = new Set(["default", "flex"]);

/**
 * A copy of the client's body for the upstream: `model` replaced; `service_tier` removed unless it
 * is billed at the model's price (`TIERS_AT_MODEL_PRICE`); when `maxOutputTokens` is set,
 * written into the field the client used (both fields lowered when the client sent both), except
 * that a reasoning model always gets `max_completion_tokens` (it refuses `max_tokens`);
 * for streams with `forceStreamUsage`, `stream_options.include_usage = true` (other options kept).
 */
export function buildOpenAIUpstreamChatBody(req: ParsedChatRequest, opts: UpstreamChatBodyOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...req.body, model: opts.upstreamModel };
  if ("service_tier" in out && !TIERS_AT_MODEL_PRICE.has(out["service_tier"])) delete out["service_tier"];
  if (opts.maxOutputTokens !== null) {
    const accepted = outputLimitFieldOf(opts.upstreamModel);
    const field = accepted === "max_completion_tokens" ? accepted : (req.maxTokensField ?? opts.fieldWhenAbsent ?? accepted);
    if (field === "max_completion_tokens" && accepted === "max_completion_tokens") delete out["max_tokens"];
    out[field] = opts.maxOutputTokens;
    const other: MaxTokensField = field === "max_tokens" ? "max_completion_tokens" : "max_tokens";
    const otherValue = out[other];
    if (typeof otherValue === "number" && otherValue > opts.maxOutputTokens) out[other] = opts.maxOutputTokens;
  }
  if (req.stream && opts.forceStreamUsage) {
    const existing = req.body["stream_options"];
    out["stream_options"] = { ...(isJsonObject(existing) ? existing : {}), include_usage: true };
  }
  return out;
}

/** A copy of the client's embeddings body with `model` replaced by the upstream model. */
export function buildOpenAIUpstreamEmbeddingsBody(req: ParsedEmbeddingsRequest, upstreamModel: string): Record<string, unknown> {
  return { ...req.body, model: upstreamModel };
}

/** Strips trailing slashes of a base URL (`https://api.openai.com/v1/` -> `https://api.openai.com/v1`). */
function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/** `${baseUrl}/chat/completions` (base URL as the OpenAI SDK writes it, ending in `/v1`). */
export function openAIChatUrl(baseUrl: string): string {
  return `${trimBase(baseUrl)}/chat/completions`;
}

/** `${baseUrl}/embeddings`. */
export function openAIEmbeddingsUrl(baseUrl: string): string {
  return `${trimBase(baseUrl)}/embeddings`;
}

/** `${baseUrl}/models`. */
export function openAIModelsUrl(baseUrl: string): string {
  return `${trimBase(baseUrl)}/models`;
}

/** Request headers for an OpenAI upstream: bearer auth and a JSON body. */
export function openAIAuthHeaders(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
}
