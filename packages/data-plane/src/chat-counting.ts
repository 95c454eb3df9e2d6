/**
 * What the gateway tells the decision core about a chat request of any inbound protocol, and how it
 * counts a request's tokens when no provider reported them: the admission shape (the prompt's upper
 * bound as the upstream will count it, the output asked for, the guardrails' prompt text) and the
 * tokenizer counts (o200k_base) of the prompt and of the generated text.
 */
import type { ActualUsage, RequestShape } from "@tollgate/policy";
import {
  IMAGE_PART_TOKENS,
  assertNever,
  countOpenAIChatPromptTokens,
  countTokens,
  estimateAnthropicInputTokensUpperBound,
  estimateChatInputTokensUpperBound,
  estimateGoogleInputTokensUpperBound,
  estimateInputTokensUpperBound,
  joinText,
  requestsOpenAIAudio,
  type ChatProtocol,
  type ChatRequest,
  type InboundChatRequest,
} from "@tollgate/providers";

/** How many answers a request asks for (OpenAI `n`, Gemini `candidateCount`); output scales with it. */
export function choicesOf(inbound: InboundChatRequest): number {
  switch (inbound.protocol) {
    case "openai":
      return inbound.parsed.n;
    case "anthropic":
      return 1;
    case "google":
      return inbound.parsed.candidateCount;
    default:
      return assertNever(inbound);
  }
}

/** The output limit the client asked for, for all its answers together; null when none. */
export function requestedOutputOf(inbound: InboundChatRequest): number | null {
  switch (inbound.protocol) {
    case "openai":
      return inbound.parsed.requestedMaxOutputTokens === null ? null : inbound.parsed.requestedMaxOutputTokens * inbound.parsed.n;
    case "anthropic":
      return inbound.parsed.maxTokens;
    case "google":
      return inbound.parsed.requestedMaxOutputTokens === null ? null : inbound.parsed.requestedMaxOutputTokens * inbound.parsed.candidateCount;
    default:
      return assertNever(inbound);
  }
}

/** The protocol's own sound bound of its inbound body (used when the upstream speaks the same protocol). */
function boundOfInbound(inbound: InboundChatRequest): number {
  switch (inbound.protocol) {
    case "openai":
      return estimateInputTokensUpperBound(inbound.parsed);
    case "anthropic":
      return estimateAnthropicInputTokensUpperBound(inbound.parsed);
    case "google":
      return estimateGoogleInputTokensUpperBound(inbound.parsed);
    default:
      return assertNever(inbound);
  }
}

/**
 * The prompt's upper bound as `upstream` counts it: the inbound protocol's own bound when the
 * upstream speaks it, else the neutral request's bound with the upstream's overheads (the body
 * the upstream receives is the neutral one rendered in its protocol).
 */
export function inputUpperBoundOf(inbound: InboundChatRequest, neutral: ChatRequest | null, upstream: ChatProtocol): number {
  if (upstream === inbound.protocol || neutral === null) return boundOfInbound(inbound);
  return estimateChatInputTokensUpperBound(neutral, upstream);
}

/** Every string found under a JSON value (keys excluded). */
function collectStrings(v: unknown, into: string[]): void {
  if (typeof v === "string") into.push(v);
  else if (Array.isArray(v)) for (const item of v) collectStrings(item, into);
  else if (typeof v === "object" && v !== null) for (const item of Object.values(v)) collectStrings(item, into);
}

/** The prompt as guardrails read it: system blocks and each message's text (and tool calls), one per line. */
export function promptTextOf(inbound: InboundChatRequest, neutral: ChatRequest | null): string {
  if (neutral === null) {
    const texts: string[] = [];
    const body = inbound.parsed.body;
    for (const field of ["system", "systemInstruction", "system_instruction", "messages", "contents"]) collectStrings(body[field], texts);
    return texts.join("\n");
  }
  const lines: string[] = [...neutral.system];
  for (const m of neutral.messages) {
    let line = joinText(m.parts);
    if (m.role === "assistant") for (const c of m.toolCalls) line += `${c.name}${c.arguments}`;
    lines.push(line);
  }
  return lines.join("\n");
}

/** The admission shape of a chat request bound for an upstream speaking `upstream`. */
export function shapeProtocolChat(inbound: InboundChatRequest, neutral: ChatRequest | null, upstream: ChatProtocol): RequestShape {
  return {
    model: inbound.parsed.model,
    inputTokensUpperBound: inputUpperBoundOf(inbound, neutral, upstream),
    requestedMaxOutputTokens: requestedOutputOf(inbound),
    operation: "chat",
    promptText: promptTextOf(inbound, neutral),
    ...(inbound.protocol === "openai" && requestsOpenAIAudio(inbound.parsed.body) ? { audio: true } : {}),
  };
}

/**
 * The tokenizer count of a neutral prompt: 3 tokens of priming, per system block and message 3 +
 * its text (tool call ids, names and arguments included; IMAGE_PART_TOKENS per image), and the
 * JSON of the tools. An estimate of what the upstream bills, for when it reported nothing.
 */
export function countNeutralPromptTokens(req: ChatRequest): number {
  let total = 3;
  for (const s of req.system) total += 3 + countTokens(s);
  for (const m of req.messages) {
    total += 3;
    for (const p of m.parts) total += p.type === "text" ? countTokens(p.text) : IMAGE_PART_TOKENS;
    if (m.role === "assistant") for (const c of m.toolCalls) total += countTokens(c.id) + countTokens(c.name) + countTokens(c.arguments);
    if (m.role === "tool") total += countTokens(m.toolCallId);
  }
  if (req.tools.length > 0) total += countTokens(JSON.stringify(req.tools));
  return total;
}

/** The tokenizer count of an inbound prompt (through the neutral form when there is one). */
export function countInboundPromptTokens(inbound: InboundChatRequest, neutral: ChatRequest | null): number {
  if (inbound.protocol === "openai") return countOpenAIChatPromptTokens(inbound.parsed);
  if (neutral !== null) return countNeutralPromptTokens(neutral);
  const texts: string[] = [];
  const body = inbound.parsed.body;
  for (const field of ["system", "systemInstruction", "system_instruction", "messages", "contents", "tools"]) collectStrings(body[field], texts);
  let total = 3;
  for (const t of texts) total += countTokens(t);
  return total;
}

/**
 * Counted usage: the prompt and the generated text so far. The prompt is a count (no cached tokens)
 * or the provider's own split of it (cache reads and writes kept; its output ignored).
 */
export function countedUsageOf(prompt: number | ActualUsage, completionText: string): ActualUsage {
  const input = typeof prompt === "number" ? { inputTokens: prompt, cachedInputTokens: 0 } : prompt;
  return { ...input, outputTokens: countTokens(completionText) };
}
