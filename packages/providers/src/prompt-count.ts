/**
 * Counting (not bounding) a chat prompt's tokens with the tokenizer (o200k_base), in any inbound
 * protocol: the estimate `count_tokens` endpoints answer when the upstream cannot count. Billing
 * never uses it: a prompt no provider reported is billed as the reservation counted it (the sound
 * upper bound of `input-bound.ts` / `estimateInputTokensUpperBound`), so the two never disagree.
 */
import type { ChatRequest } from "./chat-model.js";
import { IMAGE_PART_TOKENS, type ParsedChatRequest } from "./openai/chat-request.js";
import { isJsonObject } from "./openai/usage.js";
import type { InboundChatRequest } from "./protocol.js";
import { countTokens } from "./token-count.js";

/** Collects the strings of a message (keys excluded) and counts its image parts. */
function collectStrings(v: unknown, into: { texts: string[]; images: number }): void {
  if (typeof v === "string") into.texts.push(v);
  else if (Array.isArray(v)) for (const item of v) collectStrings(item, into);
  else if (isJsonObject(v)) {
    if (v["type"] === "image_url" || v["type"] === "input_image") into.images++;
    else for (const key of Object.keys(v)) collectStrings(v[key], into);
  }
}

/**
 * o200k_base count of a chat prompt the way OpenAI's cookbook does it: 3 tokens of priming, and
 * per message 3 + the tokens of its strings (role, content, name, tool calls); IMAGE_PART_TOKENS per
 * image; plus the tokens of the `tools`/`functions` JSON. An estimate (providers differ), always
 * at most `estimateInputTokensUpperBound`.
 */
export function countOpenAIChatPromptTokens(req: ParsedChatRequest): number {
  let total = 3;
  for (const m of req.messages) {
    const acc = { texts: [] as string[], images: 0 };
    collectStrings(m, acc);
    total += 3 + acc.images * IMAGE_PART_TOKENS;
    for (const t of acc.texts) total += countTokens(t);
  }
  for (const field of ["tools", "functions"]) {
    const v = req.body[field];
    if (v !== undefined && v !== null) total += countTokens(JSON.stringify(v));
  }
  return total;
}

/**
 * The tokenizer count of a neutral prompt: 3 tokens of priming, per system block and message 3 +
 * its text (tool call ids, names and arguments included; IMAGE_PART_TOKENS per image), and the
 * JSON of the tools.
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

/** The tokenizer count of an inbound prompt (OpenAI's own rule; else through the neutral form when there is one; else every string of its prompt fields). */
export function countInboundPromptTokens(inbound: InboundChatRequest, neutral: ChatRequest | null): number {
  if (inbound.protocol === "openai") return countOpenAIChatPromptTokens(inbound.parsed);
  if (neutral !== null) return countNeutralPromptTokens(neutral);
  const acc = { texts: [] as string[], images: 0 };
  const body = inbound.parsed.body;
  for (const field of ["system", "systemInstruction", "system_instruction", "messages", "contents", "tools"]) collectStrings(body[field], acc);
  let total = 3;
  for (const t of acc.texts) total += countTokens(t);
  return total;
}
