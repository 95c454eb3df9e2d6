/**
 * The parts of a prompt whose tokens cannot be read off the request body, and how the core bounds
 * them with each route candidate's model settings. Images are sized by the provider within a known
 * ceiling (the model's `imageInputTokens`). A file by id or URI, a document (PDF), cached content,
 * inline audio or video, or a server-side tool that feeds fetched content back as input can count
 * any number of tokens: the admin states a ceiling per part (`maxInputTokensPerAttachment`), and
 * without one such a request is refused wherever a hard limit would otherwise be exceeded silently.
 */
import type { BudgetPolicy, ModelPolicy, ProviderAccountPolicy, ProviderKind, VirtualKeyPolicy } from "./model.js";

/** The kinds of prompt parts the gateway cannot size. */
export type UnboundedPartKind = "file" | "document" | "cached_content" | "audio" | "video" | "server_tool";

/** One part the gateway cannot size; `path` says where it is in the body (`messages[0].content[1]`). */
export interface UnboundedPart {
  readonly kind: UnboundedPartKind;
  readonly path: string;
}

/** What a request's text bound leaves out: its images and its unsizable parts. */
export interface InputAttachments {
  readonly images: number;
  readonly unbounded: readonly UnboundedPart[];
}

/** No images, nothing unsizable. */
export const NO_ATTACHMENTS: InputAttachments = { images: 0, unbounded: [] };

/**
 * Tokens per image when the model sets none: OpenAI's gpt-4o high detail is at most 1445 (1500
 * bounds it; NOT gpt-4o-mini, which multiplies image tokens), Anthropic scales images to about 1600,
 * Gemini counts 258 per 768-px tile (1600 bounds images up to about six tiles).
 */
export const DEFAULT_IMAGE_INPUT_TOKENS: Readonly<Record<ProviderKind, number>> = {
  OPENAI: 1500,
  OPENAI_COMPATIBLE: 1500,
  AZURE_OPENAI: 1500,
  ANTHROPIC: 1600,
  GOOGLE: 1600,
};

/** The tokens one image may count on `model` served by a `provider` account. */
export function imageInputTokensOf(model: ModelPolicy, provider: ProviderKind): number {
  return model.imageInputTokens ?? DEFAULT_IMAGE_INPUT_TOKENS[provider];
}

/** A route candidate as far as the input bound is concerned. */
export interface InputBoundCandidate {
  readonly model: ModelPolicy;
  readonly account: Pick<ProviderAccountPolicy, "name" | "provider">;
}

/** The prompt's bound, or why it cannot be admitted. */
export type InputBoundResult = { readonly ok: true; readonly tokens: number } | { readonly ok: false; readonly message: string };

/**
 * True when the request's spend has a hard ceiling: a HARD budget in USD or TOKENS on the key's
 * chain, or the key's per-request cost limit. REQUESTS budgets and rate limits do not count.
 */
export function hasHardSpendLimit(key: Pick<VirtualKeyPolicy, "maxCostPerRequest">, budgets: readonly BudgetPolicy[]): boolean {
  if (key.maxCostPerRequest !== null) return true;
  return budgets.some((b) => b.mode === "HARD" && (b.unit === "USD" || b.unit === "TOKENS"));
}

const KIND_LABEL: Readonly<Record<UnboundedPartKind, string>> = {
  file: "a file reference (file id or URI)",
  document: "a document (PDF or URL)",
  cached_content: "a cached-content reference",
  audio: "inline audio",
  video: "inline video",
  server_tool: "a server-side tool whose results count as input",
};

/**
 * The prompt's upper bound over `candidates` (the route's allowed models; the request may end on
 * any of them): the text bound, plus for each candidate its images × `imageInputTokensOf` and its
 * unsizable parts × `maxInputTokensPerAttachment`, the largest candidate winning. A candidate that
 * sets no `maxInputTokensPerAttachment` counts such parts as 0 when `hardLimit` is false (the
 * settled usage is charged afterwards, no ceiling is at stake) and refuses the request when it is
 * true, naming the part and the setting.
 */
export function boundInputTokens(textBound: number, attachments: InputAttachments | undefined, candidates: readonly InputBoundCandidate[], hardLimit: boolean): InputBoundResult {
  const text = Math.max(0, Math.ceil(textBound));
  const { images, unbounded } = attachments ?? NO_ATTACHMENTS;
  let tokens = text;
  for (const c of candidates) {
    const perPart = c.model.maxInputTokensPerAttachment ?? null;
    const [first] = unbounded;
    if (perPart === null && first !== undefined && hardLimit) {
      return {
        ok: false,
        message:
          `${first.path} is ${KIND_LABEL[first.kind]}, whose input tokens the gateway cannot bound, and model "${c.model.name}" ` +
          `(account "${c.account.name}") sets no maxInputTokensPerAttachment: such parts are refused for keys under a hard USD or TOKENS ` +
          "budget or a per-request cost limit (an admin can set maxInputTokensPerAttachment on the model)",
      };
    }
    const candidate = text + images * imageInputTokensOf(c.model, c.account.provider) + unbounded.length * (perPart ?? 0);
    tokens = Math.max(tokens, candidate);
  }
  return { ok: true, tokens };
}
