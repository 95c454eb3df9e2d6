/**
 * Where and how each kind of provider account is called: the protocol it speaks, the URL of its
 * chat, count and embeddings endpoints, and its credential header. OPENAI and OPENAI_COMPATIBLE
 * use `Authorization: Bearer` under the base URL (ending in `/v1`); AZURE_OPENAI addresses a
 * deployment (the upstream model) under the resource endpoint with `api-key` and `api-version`;
 * ANTHROPIC uses `x-api-key` + `anthropic-version`; GOOGLE uses `x-goog-api-key`. Also what of
 * such a request is secret (to scrub from what the upstream sends back) and how its errors map.
 */
import { assertNever, type ProviderAccountPolicy, type ProviderKind } from "@tollgate/policy";
import {
  anthropicAuthHeaders,
  anthropicCountTokensUrl,
  anthropicMessagesUrl,
  extractAnthropicErrorMessage,
  extractGoogleErrorMessage,
  extractOpenAIErrorMessage,
  googleAuthHeaders,
  googleBatchEmbedUrl,
  googleCountTokensUrl,
  googleGenerateUrl,
  mapUpstreamStatus,
  openAIAuthHeaders,
  openAIChatUrl,
  openAIEmbeddingsUrl,
  createCredentialScrubber,
  type ChatProtocol,
  type CredentialScrubber,
  type MappedUpstreamError,
} from "@tollgate/providers";

/** The Azure OpenAI REST API version the gateway speaks (GA, supports `stream_options`). */
export const AZURE_API_VERSION = "2024-10-21";

/** An upstream endpoint: its URL and the headers carrying the account's credential. */
export interface UpstreamTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The chat protocol a provider account speaks. */
export function protocolOfProvider(provider: ProviderKind): ChatProtocol {
  switch (provider) {
    case "OPENAI":
    case "OPENAI_COMPATIBLE":
    case "AZURE_OPENAI":
      return "openai";
    case "ANTHROPIC":
      return "anthropic";
    case "GOOGLE":
      return "google";
    default:
      return assertNever(provider);
  }
}

/** Strips trailing slashes of a base URL. */
function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/** `{resource endpoint}/openai/deployments/{deployment}/{operation}?api-version=...`. */
export function azureDeploymentUrl(baseUrl: string, deployment: string, operation: "chat/completions" | "embeddings"): string {
  return `${trimBase(baseUrl)}/openai/deployments/${encodeURIComponent(deployment)}/${operation}?api-version=${AZURE_API_VERSION}`;
}

/** Azure OpenAI headers: `api-key` and a JSON body. */
export function azureAuthHeaders(apiKey: string): Record<string, string> {
  return { "api-key": apiKey, "content-type": "application/json" };
}

/** The chat endpoint of an account for `upstreamModel` (Google: the streaming method when `stream`). */
export function chatTargetOf(account: ProviderAccountPolicy, upstreamModel: string, stream: boolean): UpstreamTarget {
  switch (account.provider) {
    case "OPENAI":
    case "OPENAI_COMPATIBLE":
      return { url: openAIChatUrl(account.baseUrl), headers: openAIAuthHeaders(account.apiKey) };
    case "AZURE_OPENAI":
      return { url: azureDeploymentUrl(account.baseUrl, upstreamModel, "chat/completions"), headers: azureAuthHeaders(account.apiKey) };
    case "ANTHROPIC":
      return { url: anthropicMessagesUrl(account.baseUrl), headers: anthropicAuthHeaders(account.apiKey) };
    case "GOOGLE":
      return { url: googleGenerateUrl(account.baseUrl, upstreamModel, stream), headers: googleAuthHeaders(account.apiKey) };
    default:
      return assertNever(account.provider);
  }
}

/** The embeddings endpoint of an OpenAI-style account (OpenAI's `/embeddings` or Azure's deployment). */
export function openAIStyleEmbeddingsTargetOf(account: ProviderAccountPolicy, upstreamModel: string): UpstreamTarget {
  if (account.provider === "AZURE_OPENAI") {
    return { url: azureDeploymentUrl(account.baseUrl, upstreamModel, "embeddings"), headers: azureAuthHeaders(account.apiKey) };
  }
  return { url: openAIEmbeddingsUrl(account.baseUrl), headers: openAIAuthHeaders(account.apiKey) };
}

/** A Gemini account's `batchEmbedContents` endpoint for `upstreamModel`. */
export function googleBatchEmbedTargetOf(account: ProviderAccountPolicy, upstreamModel: string): UpstreamTarget {
  return { url: googleBatchEmbedUrl(account.baseUrl, upstreamModel), headers: googleAuthHeaders(account.apiKey) };
}

/** The native token-count endpoint of an Anthropic or Gemini account; null for OpenAI-style accounts (none exists). */
export function countTargetOf(account: ProviderAccountPolicy, upstreamModel: string): UpstreamTarget | null {
  switch (account.provider) {
    case "ANTHROPIC":
      return { url: anthropicCountTokensUrl(account.baseUrl), headers: anthropicAuthHeaders(account.apiKey) };
    case "GOOGLE":
      return { url: googleCountTokensUrl(account.baseUrl, upstreamModel), headers: googleAuthHeaders(account.apiKey) };
    case "OPENAI":
    case "OPENAI_COMPATIBLE":
    case "AZURE_OPENAI":
      return null;
    default:
      return assertNever(account.provider);
  }
}

/** `error.message` of an upstream error body in `protocol`'s shape; null when absent. */
export function extractUpstreamErrorMessage(protocol: ChatProtocol, json: unknown): string | null {
  switch (protocol) {
    case "openai":
      return extractOpenAIErrorMessage(json);
    case "anthropic":
      return extractAnthropicErrorMessage(json);
    case "google":
      return extractGoogleErrorMessage(json);
    default:
      return assertNever(protocol);
  }
}

/** Longest upstream reason relayed to a client (after scrubbing). */
export const MAX_UPSTREAM_MESSAGE_CHARS = 1_000;

/**
 * The gateway's answer to an upstream error status of a `protocol` upstream (`mapUpstreamStatus`)
 * and its public message: the upstream's own reason with every credential `scrubber` knows removed
 * (bounded); for statuses that are not about the caller's request (400/413) prefixed with the
 * upstream's status. Only `error.message` is ever read, never the body's other fields. Gemini
 * answers a bad credential with 400 `API_KEY_INVALID`: that is the gateway's fault, so 502.
 */
export function mapUpstreamError(protocol: ChatProtocol, status: number, json: unknown, scrubber: CredentialScrubber): { readonly mapped: MappedUpstreamError; readonly message: string } {
  const raw = extractUpstreamErrorMessage(protocol, json);
  const reason = raw === null ? null : scrubber.scrubText(raw).slice(0, MAX_UPSTREAM_MESSAGE_CHARS);
  const badCredential = protocol === "google" && status === 400 && (JSON.stringify(json ?? null).includes("API_KEY_INVALID") || /api key/i.test(raw ?? ""));
  const mapped: MappedUpstreamError = badCredential ? { status: 502, code: "upstream_error" } : mapUpstreamStatus(status);
  const callers = mapped.status === 400 || mapped.status === 413;
  if (reason === null || reason.trim() === "") return { mapped, message: `the upstream provider answered ${status}` };
  return { mapped, message: callers ? reason : `the upstream provider answered ${status}: ${reason}` };
}

/** Headers the gateway sends upstream that carry no secret. */
const PUBLIC_UPSTREAM_HEADERS: ReadonlySet<string> = new Set(["content-type", "accept", "anthropic-version", "anthropic-beta", "user-agent"]);

/**
 * Every value of an upstream request that may be a credential: each header value but the public
 * ones (also without an auth scheme such as `Bearer `) and the URL's user name and password.
 */
export function upstreamSecretsOf(url: string, headers: Readonly<Record<string, string>>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (PUBLIC_UPSTREAM_HEADERS.has(name.toLowerCase())) continue;
    secrets.push(value);
    const scheme = /^[A-Za-z]+ +(.+)$/.exec(value);
    if (scheme?.[1] !== undefined) secrets.push(scheme[1]);
  }
  try {
    const u = new URL(url);
    for (const part of [u.username, u.password]) if (part !== "") secrets.push(decodeURIComponent(part));
  } catch {
    // An unparsable URL was never sent.
  }
  return secrets;
}

/** The scrubber of everything secret an upstream request carried (see `upstreamSecretsOf`). */
export function scrubberOfRequest(req: { readonly url: string; readonly headers: Readonly<Record<string, string>> }): CredentialScrubber {
  return createCredentialScrubber(upstreamSecretsOf(req.url, req.headers));
}

/**
 * Scrubbers kept per set of secrets (an account's credential and headers), so the forms a scrubber
 * searches for (~35 µs to build) are built once per account, not on every stream. Bounded: cleared
 * when it holds `max` sets (credentials rotate; accounts come and go).
 */
export class ScrubberCache {
  readonly #byKey = new Map<string, CredentialScrubber>();

  constructor(private readonly max = 1024) {}

  /** The scrubber of `req`'s secrets, shared with every request carrying the same ones. */
  of(req: { readonly url: string; readonly headers: Readonly<Record<string, string>> }): CredentialScrubber {
    const secrets = upstreamSecretsOf(req.url, req.headers);
    const key = secrets.join("\u0000");
    let scrubber = this.#byKey.get(key);
    if (scrubber === undefined) {
      if (this.#byKey.size >= this.max) this.#byKey.clear();
      scrubber = createCredentialScrubber(secrets);
      this.#byKey.set(key, scrubber);
    }
    return scrubber;
  }
}
