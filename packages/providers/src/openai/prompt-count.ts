/** Counting (not bounding) a chat prompt's tokens, for usage that no provider reported. */
import { countTokens } from "../token-count.js";
import { IMAGE_PART_TOKENS, type ParsedChatRequest } from "./chat-request.js";
import { isJsonObject } from "./usage.js";

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
