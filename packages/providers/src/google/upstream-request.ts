/** Building the request the gateway sends to a Gemini (Google AI) upstream. */
import { isJsonObject } from "../openai/usage.js";
import { pickField, type ParsedGoogleRequest } from "./generate-request.js";

/** Strips trailing slashes of a base URL. */
function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/** `/v1beta/models/{model}` under the base URL (as the SDK writes it: `https://generativelanguage.googleapis.com`). */
function modelUrl(baseUrl: string, model: string): string {
  return `${trimBase(baseUrl)}/v1beta/models/${encodeURIComponent(model).replace(/%2F/g, "/")}`;
}

/** `{baseUrl}/v1beta/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse` when streaming. */
export function googleGenerateUrl(baseUrl: string, model: string, stream: boolean): string {
  return `${modelUrl(baseUrl, model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
}

/** `{baseUrl}/v1beta/models/{model}:countTokens`. */
export function googleCountTokensUrl(baseUrl: string, model: string): string {
  return `${modelUrl(baseUrl, model)}:countTokens`;
}

/** `{baseUrl}/v1beta/models/{model}:embedContent`. */
export function googleEmbedUrl(baseUrl: string, model: string): string {
  return `${modelUrl(baseUrl, model)}:embedContent`;
}

/** `{baseUrl}/v1beta/models/{model}:batchEmbedContents`. */
export function googleBatchEmbedUrl(baseUrl: string, model: string): string {
  return `${modelUrl(baseUrl, model)}:batchEmbedContents`;
}

/** Request headers for a Gemini upstream: `x-goog-api-key` and a JSON body. */
export function googleAuthHeaders(apiKey: string): Record<string, string> {
  return { "x-goog-api-key": apiKey, "content-type": "application/json" };
}

/**
 * A copy of the client's generateContent body for a Gemini upstream, with
 * `generationConfig.maxOutputTokens` lowered to `maxOutputTokens` (null = unchanged).
 */
export function buildGoogleUpstreamBody(req: ParsedGoogleRequest, maxOutputTokens: number | null): Record<string, unknown> {
  if (maxOutputTokens === null) return { ...req.body };
  const g = pickField(req.body, "generationConfig");
  const gen: Record<string, unknown> = isJsonObject(g) ? { ...g } : {};
  delete gen["max_output_tokens"];
  const current = req.requestedMaxOutputTokens;
  gen["maxOutputTokens"] = current === null ? maxOutputTokens : Math.min(current, maxOutputTokens);
  const out: Record<string, unknown> = { ...req.body, generationConfig: gen };
  delete out["generation_config"];
  return out;
}
