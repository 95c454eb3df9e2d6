/** Building the request the gateway sends to an Anthropic upstream. */
import type { ParsedAnthropicRequest } from "./messages-request.js";

/** The `anthropic-version` header value the gateway speaks. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Options of `buildAnthropicUpstreamBody`. */
export interface AnthropicUpstreamBodyOptions {
  /** The model id sent upstream. */
  readonly upstreamModel: string;
  /** The output limit to enforce (lowers `max_tokens`, never raises it); null = the client's. */
  readonly maxOutputTokens: number | null;
}

/**
 * A copy of the client's Messages body for an Anthropic upstream: `model` replaced, `max_tokens`
 * capped, and `service_tier` removed unless it is `standard_only` (`auto` may run on Priority Tier
 * capacity, billed above the model's price).
 */
export function buildAnthropicUpstreamBody(req: ParsedAnthropicRequest, opts: AnthropicUpstreamBodyOptions): Record<string, unknown> {
  const maxTokens = opts.maxOutputTokens === null ? req.maxTokens : Math.min(req.maxTokens, opts.maxOutputTokens);
  const out: Record<string, unknown> = { ...req.body, model: opts.upstreamModel, max_tokens: maxTokens };
  if ("service_tier" in out && out["service_tier"] !== "standard_only") delete out["service_tier"];
  return out;
}

/** Strips trailing slashes of a base URL. */
function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/** `${baseUrl}/v1/messages` (base URL as the Anthropic SDK writes it: `https://api.anthropic.com`). */
export function anthropicMessagesUrl(baseUrl: string): string {
  return `${trimBase(baseUrl)}/v1/messages`;
}

/** `${baseUrl}/v1/messages/count_tokens`. */
export function anthropicCountTokensUrl(baseUrl: string): string {
  return `${trimBase(baseUrl)}/v1/messages/count_tokens`;
}

/** Request headers for an Anthropic upstream: `x-api-key`, `anthropic-version`, a JSON body. */
export function anthropicAuthHeaders(apiKey: string): Record<string, string> {
  return { "x-api-key": apiKey, "anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json" };
}
