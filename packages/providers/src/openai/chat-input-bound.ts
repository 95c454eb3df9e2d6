/** The input bound of an inbound OpenAI Chat Completions body, as OpenAI-style upstreams count it. */
import { attachmentsOf, boundJsonText, boundJsonValue, newPartScan, type InputScan, type PartClass } from "../input-bound.js";
import { IMAGE_PART_TOKENS, MESSAGE_OVERHEAD_TOKENS, REQUEST_OVERHEAD_TOKENS, TOOLS_OVERHEAD_TOKENS, type ParsedChatRequest } from "./chat-request.js";
import { isJsonObject } from "./usage.js";

/**
 * How an OpenAI content part counts: images by the model's image bound; inline audio, a file by
 * id and an inline file (a PDF: text and page images) cannot be sized.
 */
export function classifyOpenAIPart(o: Record<string, unknown>): PartClass {
  switch (o["type"]) {
    case "image_url":
    case "input_image":
      return "image";
    case "input_audio":
      return "audio";
    case "file":
    case "input_file": {
      const file = isJsonObject(o["file"]) ? o["file"] : o;
      return typeof file["file_id"] === "string" ? "file" : "document";
    }
    default:
      return null;
  }
}

/**
 * The bound of the prompt tokens an OpenAI-style provider will count, apart from images and
 * unsizable parts (in `attachments`): a BPE token is at least one byte, so the UTF-8 bytes of every
 * string in the messages (content and text parts, names, tool calls and their arguments, tool ids)
 * plus the JSON of `tools`, `functions`, `tool_choice`, `function_call` and `response_format` never
 * undercount the text; add MESSAGE_OVERHEAD_TOKENS per message, REQUEST_OVERHEAD_TOKENS, and
 * TOOLS_OVERHEAD_TOKENS when tools are declared. An earlier answer's audio (`audio.id`) and
 * `web_search_options` (search results are billed as input) are unsizable parts. The prompt is
 * counted once whatever `n` is.
 */
export function scanOpenAIChatInput(req: ParsedChatRequest): InputScan {
  const scan = newPartScan();
  let total = REQUEST_OVERHEAD_TOKENS;
  req.messages.forEach((m, i) => {
    total += MESSAGE_OVERHEAD_TOKENS + boundJsonValue(m, classifyOpenAIPart, `messages[${i}]`, scan);
    if (isJsonObject(m["audio"])) scan.unbounded.push({ kind: "audio", path: `messages[${i}].audio` });
  });
  const b = req.body;
  const declarations = [b["tools"], b["functions"], b["tool_choice"], b["function_call"], b["response_format"]];
  for (const d of declarations) total += boundJsonText(d);
  if (b["tools"] !== undefined || b["functions"] !== undefined) total += TOOLS_OVERHEAD_TOKENS;
  if (b["web_search_options"] !== undefined && b["web_search_options"] !== null) scan.unbounded.push({ kind: "server_tool", path: "web_search_options" });
  return { textTokens: total, attachments: attachmentsOf(scan) };
}

/**
 * A bound of the prompt tokens an OpenAI-style provider will count with `imageTokens` per image
 * (default IMAGE_PART_TOKENS, see its caveat); unsizable parts count 0 here, which is why admission
 * uses `scanOpenAIChatInput`.
 */
export function estimateInputTokensUpperBound(req: ParsedChatRequest, imageTokens = IMAGE_PART_TOKENS): number {
  const { textTokens, attachments } = scanOpenAIChatInput(req);
  return textTokens + attachments.images * imageTokens;
}
