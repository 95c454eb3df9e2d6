/**
 * What the gateway tells the decision core about a chat request of any inbound protocol, and how it
 * counts a request's tokens when no provider reported them: the admission shape (the prompt's upper
 * bound as the upstream will count it, the output asked for, the guardrails' prompt text) and the
 * usage billed when no provider reported it (the prompt as the reservation counted it, the
 * generated text counted with the tokenizer).
 */
import type { ActualUsage, RequestShape } from "@tollgate/policy";
import {
  assertNever,
  countTokens,
  estimateChatInputTokensUpperBound,
  joinText,
  scanInboundChatInput,
  requestsOpenAIAudio,
  type ChatProtocol,
  type ChatRequest,
  type InboundChatRequest,
  type InputScan,
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

/**
 * The prompt's text bound as `upstream` counts it, images and unsizable parts apart (the decision
 * core adds them with each model's settings): the inbound protocol's own bound when the upstream
 * speaks it, else the neutral request's bound with the upstream's overheads (the body the upstream
 * receives is the neutral one rendered in its protocol).
 */
export function inputUpperBoundOf(inbound: InboundChatRequest, neutral: ChatRequest | null, upstream: ChatProtocol, scan: InputScan = scanInboundChatInput(inbound)): number {
  if (upstream === inbound.protocol || neutral === null) return scan.textTokens;
  return estimateChatInputTokensUpperBound(neutral, upstream, 0);
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

/**
 * The admission shape of a chat request that may reach any of `upstreams`: the text bound of the
 * most demanding of them, and the inbound body's images and unsizable parts.
 */
export function shapeProtocolChat(inbound: InboundChatRequest, neutral: ChatRequest | null, upstreams: readonly ChatProtocol[]): RequestShape {
  const scan = scanInboundChatInput(inbound);
  return {
    model: inbound.parsed.model,
    inputTokensUpperBound: Math.max(0, ...upstreams.map((u) => inputUpperBoundOf(inbound, neutral, u, scan))),
    attachments: scan.attachments,
    requestedMaxOutputTokens: requestedOutputOf(inbound),
    operation: "chat",
    promptText: promptTextOf(inbound, neutral),
    ...(inbound.protocol === "openai" && requestsOpenAIAudio(inbound.parsed.body) ? { audio: true } : {}),
  };
}

/**
 * Counted usage: the prompt and the generated text so far. The prompt is a count (no cached tokens)
 * or the provider's own split of it (cache reads and writes kept; its output ignored).
 */
export function countedUsageOf(prompt: number | ActualUsage, completionText: string): ActualUsage {
  const input = typeof prompt === "number" ? { inputTokens: prompt, cachedInputTokens: 0 } : prompt;
  return { ...input, outputTokens: countTokens(completionText) };
}
