/** Pure builders of the mock's OpenAI chat completion responses and stream chunks. */
import type { MockDirectives } from "./directives.js";

/** The generated word: o200k_base counts each " tok" as exactly one token (proved in a test). */
export const COMPLETION_WORD = " tok";

/** What the mock needs of a chat request. */
export interface ChatPlan {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly n: number;
  /** Visible tokens per choice. */
  readonly completionTokens: number;
  /** Hidden reasoning tokens (all choices), billed but never shown; within the request's output limit. */
  readonly reasoningTokens: number;
  readonly finishReason: "stop" | "length";
  readonly promptTokens: number;
  readonly cachedTokens: number;
  /** Of the prompt tokens, those written to the prompt cache for 5 minutes and for 1 hour (Anthropic only). */
  readonly cacheWriteTokens: number;
  readonly cacheWrite1hTokens: number;
  readonly includeUsage: boolean;
}

/** Narrows to a plain JSON object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Every text of the messages: content strings and the `text` of content parts. */
export function collectMessageTexts(messages: readonly unknown[]): string[] {
  const texts: string[] = [];
  for (const m of messages) {
    if (!isObject(m)) continue;
    const content = m["content"];
    if (typeof content === "string") texts.push(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (isObject(part) && typeof part["text"] === "string") texts.push(part["text"]);
      }
    }
  }
  return texts;
}

/** The mock's prompt count: ceil(UTF-8 bytes of all texts / 4) + 3 per message (every protocol). */
export function countPromptTokensOf(texts: readonly string[], messageCount: number): number {
  let bytes = 0;
  for (const t of texts) bytes += Buffer.byteLength(t, "utf8");
  return Math.ceil(bytes / 4) + 3 * messageCount;
}

/** The mock's prompt count of OpenAI messages: ceil(UTF-8 bytes of all message text / 4) + 3 per message. */
export function countPromptTokens(messages: readonly unknown[]): number {
  return countPromptTokensOf(collectMessageTexts(messages), messages.length);
}

/** A positive integer field of the body, or null. */
export function readLimit(body: Record<string, unknown>, field: string): number | null {
  const v = body[field];
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}

/** What the mock needs of a request, whatever its protocol. */
export interface CompletionInput {
  readonly model: string;
  /** Every prompt text (system included): counted, and scanned for directives. */
  readonly texts: readonly string[];
  /** Messages (a system prompt counts as one). */
  readonly messageCount: number;
  /** The request's output limit, null when none. */
  readonly maxTokens: number | null;
  readonly n: number;
  readonly includeUsage: boolean;
}

/** The cache writes of a plan: as the directives ask, within the uncached prompt tokens. */
function cacheWritesOf(directives: MockDirectives, uncached: number): { cacheWriteTokens: number; cacheWrite1hTokens: number } {
  const cacheWriteTokens = Math.min(directives.cacheWriteTokens ?? 0, uncached);
  return { cacheWriteTokens, cacheWrite1hTokens: Math.min(directives.cacheWrite1hTokens ?? 0, uncached - cacheWriteTokens) };
}

/** Decides what the mock answers (same rules for every protocol). */
export function planCompletion(input: CompletionInput, directives: MockDirectives, ctx: { readonly id: string; readonly created: number; readonly defaultCompletionTokens: number }): ChatPlan {
  const wanted = directives.completionTokens ?? ctx.defaultCompletionTokens;
  const completionTokens = input.maxTokens === null ? wanted : Math.min(wanted, input.maxTokens);
  const reasoningWanted = directives.reasoningTokens ?? 0;
  const reasoningTokens = input.maxTokens === null ? reasoningWanted : Math.min(reasoningWanted, Math.max(0, input.maxTokens - completionTokens));
  const promptTokens = directives.promptTokens ?? countPromptTokensOf(input.texts, input.messageCount);
  return {
    id: ctx.id,
    created: ctx.created,
    model: input.model,
    n: input.n,
    completionTokens,
    reasoningTokens,
    finishReason: completionTokens < wanted ? "length" : "stop",
    promptTokens,
    cachedTokens: Math.min(directives.cachedTokens ?? 0, promptTokens),
    ...cacheWritesOf(directives, promptTokens - Math.min(directives.cachedTokens ?? 0, promptTokens)),
    includeUsage: input.includeUsage,
  };
}

/** Decides what the mock answers to a validated OpenAI chat body. */
export function planChat(
  body: Record<string, unknown>,
  messages: readonly unknown[],
  directives: MockDirectives,
  ctx: { readonly id: string; readonly created: number; readonly defaultCompletionTokens: number },
): ChatPlan {
  const options = body["stream_options"];
  const input: CompletionInput = {
    model: typeof body["model"] === "string" ? body["model"] : "mock-model",
    texts: collectMessageTexts(messages),
    messageCount: messages.length,
    maxTokens: readLimit(body, "max_completion_tokens") ?? readLimit(body, "max_tokens"),
    n: readLimit(body, "n") ?? 1,
    includeUsage: isObject(options) && options["include_usage"] === true,
  };
  return planCompletion(input, directives, ctx);
}

/** The OpenAI `usage` object of a plan. */
export function buildUsage(plan: ChatPlan): Record<string, unknown> {
  const completion = plan.completionTokens * plan.n + plan.reasoningTokens;
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: completion,
    total_tokens: plan.promptTokens + completion,
    prompt_tokens_details: { cached_tokens: plan.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: plan.reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** A non-stream `chat.completion` body. */
export function buildChatCompletion(plan: ChatPlan): Record<string, unknown> {
  const content = COMPLETION_WORD.repeat(plan.completionTokens);
  const choices = Array.from({ length: plan.n }, (_, index) => ({
    index,
    message: { role: "assistant", content, refusal: null, annotations: [] },
    logprobs: null,
    finish_reason: plan.finishReason,
  }));
  return {
    id: plan.id,
    object: "chat.completion",
    created: plan.created,
    model: plan.model,
    choices,
    usage: buildUsage(plan),
    service_tier: "default",
    system_fingerprint: "fp_mock",
  };
}

/** One `chat.completion.chunk` as an SSE event (`usage: null` on every chunk when usage was asked). */
function chunkEvent(plan: ChatPlan, choices: unknown[], usage?: Record<string, unknown>): string {
  const chunk: Record<string, unknown> = {
    id: plan.id,
    object: "chat.completion.chunk",
    created: plan.created,
    model: plan.model,
    service_tier: "default",
    system_fingerprint: "fp_mock",
    choices,
  };
  if (usage !== undefined) chunk["usage"] = usage;
  else if (plan.includeUsage) chunk["usage"] = null;
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The stream's events in OpenAI's order, each tagged with whether it carries a content token. */
export interface StreamEvent {
  readonly data: string;
  readonly isContent: boolean;
}

/**
 * The SSE events of a streamed completion: a role chunk per choice, one chunk per token per
 * choice, a finish chunk per choice, the usage chunk (`choices: []`) when asked, then `[DONE]`.
 */
export function buildStreamEvents(plan: ChatPlan): StreamEvent[] {
  const events: StreamEvent[] = [];
  const indexes = Array.from({ length: plan.n }, (_, i) => i);
  for (const index of indexes) {
    const delta = { role: "assistant", content: "", refusal: null };
    events.push({ data: chunkEvent(plan, [{ index, delta, logprobs: null, finish_reason: null }]), isContent: false });
  }
  for (let t = 0; t < plan.completionTokens; t++) {
    for (const index of indexes) {
      const choice = { index, delta: { content: COMPLETION_WORD }, logprobs: null, finish_reason: null };
      events.push({ data: chunkEvent(plan, [choice]), isContent: true });
    }
  }
  for (const index of indexes) {
    events.push({ data: chunkEvent(plan, [{ index, delta: {}, logprobs: null, finish_reason: plan.finishReason }]), isContent: false });
  }
  if (plan.includeUsage) events.push({ data: chunkEvent(plan, [], buildUsage(plan)), isContent: false });
  events.push({ data: "data: [DONE]\n\n", isContent: false });
  return events;
}

/**
 * The index of the event after which `[[mock:reset_after=K]]` destroys the socket: the K-th
 * content chunk (the last one when fewer), or the last role chunk when K = 0; -1 = never.
 */
export function findResetIndex(events: readonly StreamEvent[], resetAfter: number | null): number {
  if (resetAfter === null) return -1;
  const contentAt = events.flatMap((e, i) => (e.isContent ? [i] : []));
  const first = contentAt[0];
  if (resetAfter === 0 || first === undefined) return first === undefined ? 0 : Math.max(0, first - 1);
  return contentAt[Math.min(resetAfter, contentAt.length) - 1] ?? first;
}
