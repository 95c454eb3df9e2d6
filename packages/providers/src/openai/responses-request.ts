/**
 * OpenAI Responses API requests (`POST /v1/responses`): validation and conversion to the neutral
 * chat model, so any upstream can serve them. Supported: `input` as a string or a list of items
 * (messages with `input_text`/`input_image`/`output_text` parts, `function_call` and
 * `function_call_output` items), `instructions`, `max_output_tokens`, function `tools` and
 * `tool_choice`, `temperature`, `top_p`, `text.format` (JSON), `stream`. The gateway keeps no
 * conversation state: `previous_response_id`, item references and built-in tools are refused.
 */
import { parseDataUrl, type ChatMessage, type ChatPart, type ChatRequest, type ChatTool, type ChatToolCall, type ChatToolChoice } from "../chat-model.js";
import { readOptionalPositiveInt, type ParseError } from "./chat-request.js";
import { isJsonObject } from "./usage.js";

/** A validated Responses request: the body as received plus what the gateway needs. */
export interface ParsedResponsesRequest {
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly stream: boolean;
  /** `max_output_tokens`; null when absent. */
  readonly maxOutputTokens: number | null;
}

/** Validates a Responses body: a string `model`, an `input` (string or non-empty item list), and well-typed options. */
export function parseResponsesRequest(body: unknown): ParsedResponsesRequest | ParseError {
  if (!isJsonObject(body)) return { error: "the request body must be a JSON object" };
  const model = body["model"];
  if (typeof model !== "string" || model.length === 0) return { error: model === undefined ? "'model' is required" : "'model' must be a non-empty string" };
  const input = body["input"];
  if (input === undefined || input === null) return { error: "'input' is required" };
  if (typeof input !== "string" && (!Array.isArray(input) || input.length === 0)) return { error: "'input' must be a string or a non-empty array of input items" };
  const stream = body["stream"];
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") return { error: "'stream' must be a boolean" };
  const max = readOptionalPositiveInt(body, "max_output_tokens");
  if (max !== null && typeof max === "object") return max;
  if (body["previous_response_id"] !== undefined && body["previous_response_id"] !== null) {
    return { error: "'previous_response_id' is not supported by this gateway: send the whole conversation in 'input'" };
  }
  const instructions = body["instructions"];
  if (instructions !== undefined && instructions !== null && typeof instructions !== "string") return { error: "'instructions' must be a string" };
  return { body, model, stream: stream === true, maxOutputTokens: max };
}

/** Neutral parts of a message item's `content` (string or parts). */
function toParts(content: unknown, at: string): ChatPart[] | ParseError {
  if (typeof content === "string") return content.length > 0 ? [{ type: "text", text: content }] : [];
  if (!Array.isArray(content)) return { error: `'${at}.content' must be a string or an array of content parts` };
  const parts: ChatPart[] = [];
  for (const [j, p] of content.entries()) {
    if (!isJsonObject(p)) return { error: `'${at}.content[${j}]' must be an object` };
    const type = p["type"];
    if ((type === "input_text" || type === "output_text" || type === "text") && typeof p["text"] === "string") {
      parts.push({ type: "text", text: p["text"] });
    } else if (type === "refusal" && typeof p["refusal"] === "string") {
      parts.push({ type: "text", text: p["refusal"] });
    } else if (type === "input_image" && typeof p["image_url"] === "string") {
      const url = p["image_url"];
      const data = parseDataUrl(url);
      parts.push({ type: "image", source: data === null ? { kind: "url", url, mediaType: null } : { kind: "base64", ...data } });
    } else {
      return { error: `'${at}.content[${j}]': content of type '${String(type)}' is not supported by this gateway` };
    }
  }
  return parts;
}

/** The text of a `function_call_output` item's `output` (string or text parts). */
function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (!Array.isArray(output)) return JSON.stringify(output ?? "");
  return output.map((p) => (isJsonObject(p) && typeof p["text"] === "string" ? p["text"] : "")).join("");
}

/** Neutral function tools of `tools`; an error for built-in tools (web search, files ...). */
function toTools(body: Readonly<Record<string, unknown>>): ChatTool[] | ParseError {
  const tools = body["tools"];
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) return { error: "'tools' must be an array" };
  const out: ChatTool[] = [];
  for (const [i, t] of tools.entries()) {
    if (!isJsonObject(t) || t["type"] !== "function") return { error: `'tools[${i}]': only function tools are supported by this gateway` };
    if (typeof t["name"] !== "string" || t["name"].length === 0) return { error: `'tools[${i}].name' is required` };
    out.push({
      name: t["name"],
      description: typeof t["description"] === "string" ? t["description"] : null,
      parameters: isJsonObject(t["parameters"]) ? t["parameters"] : { type: "object", properties: {} },
    });
  }
  return out;
}

/** Neutral tool choice of `tool_choice`. */
function toToolChoice(v: unknown): ChatToolChoice | null | ParseError {
  if (v === undefined || v === null) return null;
  if (v === "auto" || v === "none" || v === "required") return { type: v };
  if (isJsonObject(v) && v["type"] === "function" && typeof v["name"] === "string") return { type: "tool", name: v["name"] };
  return { error: '\'tool_choice\' must be "auto", "none", "required" or a function tool' };
}

/** Reads an optional number field. */
function readNumber(body: Readonly<Record<string, unknown>>, field: string): number | null {
  const v = body[field];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * The neutral form of a Responses request: `instructions` and system/developer messages become
 * system blocks; assistant text and `function_call` items become assistant turns with tool calls;
 * `function_call_output` items become tool results (named after their call). Reasoning items are
 * dropped (the upstream regenerates its own); anything else is an error.
 */
export function responsesRequestToNeutral(req: ParsedResponsesRequest): ChatRequest | ParseError {
  const body = req.body;
  const system: string[] = [];
  if (typeof body["instructions"] === "string" && body["instructions"].length > 0) system.push(body["instructions"]);
  const messages: ChatMessage[] = [];
  const callNames = new Map<string, string>();
  const input = body["input"];
  /** The assistant turn being built (text and tool calls of consecutive items). */
  let assistant: { parts: ChatPart[]; toolCalls: ChatToolCall[] } | null = null;
  const closeAssistant = (): void => {
    if (assistant !== null) messages.push({ role: "assistant", parts: assistant.parts, toolCalls: assistant.toolCalls });
    assistant = null;
  };
  const items: unknown[] = typeof input === "string" ? [{ type: "message", role: "user", content: input }] : (input as unknown[]);
  for (const [i, item] of items.entries()) {
    const at = `input[${i}]`;
    if (!isJsonObject(item)) return { error: `'${at}' must be an object` };
    const type = item["type"] ?? "message";
    if (type === "message") {
      const role = item["role"];
      const parts = toParts(item["content"], at);
      if ("error" in parts) return parts;
      if (role === "system" || role === "developer") {
        const text = parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
        if (text.length > 0) system.push(text);
      } else if (role === "assistant") {
        const turn: { parts: ChatPart[]; toolCalls: ChatToolCall[] } = assistant ?? { parts: [], toolCalls: [] };
        if (turn.toolCalls.length > 0) {
          closeAssistant();
          assistant = { parts, toolCalls: [] };
        } else {
          turn.parts.push(...parts);
          assistant = turn;
        }
      } else if (role === "user") {
        closeAssistant();
        messages.push({ role: "user", parts });
      } else {
        return { error: `'${at}.role' must be "user", "assistant", "system" or "developer"` };
      }
    } else if (type === "function_call") {
      const callId = item["call_id"];
      const name = item["name"];
      if (typeof callId !== "string" || typeof name !== "string") return { error: `'${at}': a function_call needs 'call_id' and 'name'` };
      callNames.set(callId, name);
      const turn: { parts: ChatPart[]; toolCalls: ChatToolCall[] } = assistant ?? { parts: [], toolCalls: [] };
      turn.toolCalls.push({ id: callId, name, arguments: typeof item["arguments"] === "string" ? item["arguments"] : "{}" });
      assistant = turn;
    } else if (type === "function_call_output") {
      const callId = item["call_id"];
      if (typeof callId !== "string") return { error: `'${at}.call_id' is required` };
      closeAssistant();
      const text = outputText(item["output"]);
      messages.push({ role: "tool", toolCallId: callId, name: callNames.get(callId) ?? null, parts: text.length > 0 ? [{ type: "text", text }] : [], isError: false });
    } else if (type === "reasoning") {
      continue;
    } else {
      return { error: `'${at}': input items of type '${String(type)}' are not supported by this gateway` };
    }
  }
  closeAssistant();
  if (messages.length === 0) return { error: "'input' must hold at least one message" };
  const tools = toTools(body);
  if ("error" in tools) return tools;
  const toolChoice = toToolChoice(body["tool_choice"]);
  if (toolChoice !== null && "error" in toolChoice) return toolChoice;
  const text = body["text"];
  const format = isJsonObject(text) && isJsonObject(text["format"]) ? text["format"]["type"] : null;
  return {
    model: req.model,
    system,
    messages,
    tools,
    toolChoice,
    stopSequences: [],
    temperature: readNumber(body, "temperature"),
    topP: readNumber(body, "top_p"),
    maxOutputTokens: req.maxOutputTokens,
    jsonOutput: format === "json_object" || format === "json_schema",
    stream: req.stream,
  };
}
