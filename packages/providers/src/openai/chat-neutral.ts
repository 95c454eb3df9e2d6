/** OpenAI Chat Completions requests to and from the neutral chat model. */
import { assertNever, parseDataUrl, type ChatMessage, type ChatPart, type ChatRequest, type ChatTool, type ChatToolCall, type ChatToolChoice } from "../chat-model.js";
import { outputLimitFieldOf, type MaxTokensField, type ParsedChatRequest, type ParseError } from "./chat-request.js";
import { isJsonObject } from "./usage.js";

const untranslatable = (what: string): ParseError => ({ error: `${what} cannot be translated to the upstream's protocol` });

/** Neutral parts of an OpenAI `content` (string or parts); an error for audio/file parts. */
function toParts(content: unknown): ChatPart[] | ParseError {
  if (typeof content === "string") return content.length > 0 ? [{ type: "text", text: content }] : [];
  const parts: ChatPart[] = [];
  for (const p of Array.isArray(content) ? content : []) {
    if (!isJsonObject(p)) continue;
    if ((p["type"] === "text" || p["type"] === "refusal") && typeof (p["text"] ?? p["refusal"]) === "string") {
      parts.push({ type: "text", text: String(p["text"] ?? p["refusal"]) });
    } else if (p["type"] === "image_url") {
      const img = p["image_url"];
      const url = isJsonObject(img) ? String(img["url"]) : String(img);
      const data = parseDataUrl(url);
      parts.push({ type: "image", source: data === null ? { kind: "url", url, mediaType: null } : { kind: "base64", ...data } });
    } else {
      return untranslatable(`a '${String(p["type"])}' content part`);
    }
  }
  return parts;
}

/** The text of an OpenAI `content` (string or text parts). */
function toText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p) => (isJsonObject(p) && typeof p["text"] === "string" ? p["text"] : "")).join("");
}

/** Neutral tool calls of an assistant message (`tool_calls` and the legacy `function_call`). */
function toToolCalls(m: Readonly<Record<string, unknown>>): ChatToolCall[] {
  const calls: ChatToolCall[] = [];
  for (const c of Array.isArray(m["tool_calls"]) ? m["tool_calls"] : []) {
    const fn = isJsonObject(c) ? c["function"] : null;
    if (!isJsonObject(c) || !isJsonObject(fn)) continue;
    calls.push({ id: String(c["id"]), name: String(fn["name"]), arguments: typeof fn["arguments"] === "string" ? fn["arguments"] : "{}" });
  }
  const legacy = m["function_call"];
  if (isJsonObject(legacy)) calls.push({ id: `call_${String(legacy["name"])}`, name: String(legacy["name"]), arguments: String(legacy["arguments"] ?? "{}") });
  return calls;
}

/** Neutral tools of `tools` (function tools) and the legacy `functions`. */
function toTools(body: Readonly<Record<string, unknown>>): ChatTool[] | ParseError {
  const out: ChatTool[] = [];
  const add = (fn: Record<string, unknown>): void => {
    out.push({
      name: String(fn["name"]),
      description: typeof fn["description"] === "string" ? fn["description"] : null,
      parameters: isJsonObject(fn["parameters"]) ? fn["parameters"] : { type: "object", properties: {} },
    });
  };
  for (const t of Array.isArray(body["tools"]) ? body["tools"] : []) {
    if (!isJsonObject(t) || t["type"] !== "function" || !isJsonObject(t["function"])) return untranslatable("a non-function tool");
    add(t["function"]);
  }
  for (const f of Array.isArray(body["functions"]) ? body["functions"] : []) if (isJsonObject(f)) add(f);
  return out;
}

/** Neutral tool choice of `tool_choice` (or the legacy `function_call`). */
function toToolChoice(choice: unknown): ChatToolChoice | null {
  if (choice === "auto" || choice === "none" || choice === "required") return { type: choice };
  if (isJsonObject(choice)) {
    const fn = choice["function"];
    const name = isJsonObject(fn) ? fn["name"] : choice["name"];
    if (typeof name === "string") return { type: "tool", name };
  }
  return null;
}

/** A validated OpenAI chat request as a neutral one; an error for what other protocols cannot express (n > 1, audio ...). */
export function openAIRequestToNeutral(req: ParsedChatRequest): ChatRequest | ParseError {
  if (req.n > 1) return untranslatable("n > 1");
  const b = req.body;
  const system: string[] = [];
  const messages: ChatMessage[] = [];
  for (const m of req.messages) {
    if (m.role === "system" || m.role === "developer") {
      system.push(toText(m["content"]));
    } else if (m.role === "user") {
      const parts = toParts(m["content"]);
      if ("error" in parts) return parts;
      messages.push({ role: "user", parts });
    } else if (m.role === "assistant") {
      const parts = toParts(m["content"] ?? m["refusal"] ?? "");
      if ("error" in parts) return parts;
      messages.push({ role: "assistant", parts, toolCalls: toToolCalls(m) });
    } else if (m.role === "tool" || m.role === "function") {
      const parts = toParts(m["content"] ?? "");
      if ("error" in parts) return parts;
      const name = typeof m["name"] === "string" ? m["name"] : null;
      const id = m.role === "tool" ? String(m["tool_call_id"]) : `call_${String(name)}`;
      messages.push({ role: "tool", toolCallId: id, name, parts, isError: false });
    } else {
      return untranslatable(`a '${m.role}' message`);
    }
  }
  const tools = toTools(b);
  if ("error" in tools) return tools;
  const stop = b["stop"];
  const format = b["response_format"];
  return {
    model: req.model,
    system,
    messages,
    tools,
    toolChoice: toToolChoice(b["tool_choice"] ?? b["function_call"]),
    stopSequences: typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop.filter((s): s is string => typeof s === "string") : [],
    temperature: typeof b["temperature"] === "number" ? b["temperature"] : null,
    topP: typeof b["top_p"] === "number" ? b["top_p"] : null,
    maxOutputTokens: req.requestedMaxOutputTokens,
    jsonOutput: isJsonObject(format) && (format["type"] === "json_object" || format["type"] === "json_schema"),
    stream: req.stream,
  };
}

/** OpenAI content of neutral parts: a string when it is text only, else content parts. */
function fromParts(parts: readonly ChatPart[]): string | Record<string, unknown>[] {
  if (parts.every((p) => p.type === "text")) return parts.map((p) => (p.type === "text" ? p.text : "")).join("");
  return parts.map((p) => {
    if (p.type === "text") return { type: "text", text: p.text };
    const s = p.source;
    return { type: "image_url", image_url: { url: s.kind === "url" ? s.url : `data:${s.mediaType};base64,${s.data}` } };
  });
}

/** The OpenAI message of a neutral message. */
function fromMessage(m: ChatMessage): Record<string, unknown> {
  switch (m.role) {
    case "user":
      return { role: "user", content: fromParts(m.parts) };
    case "assistant": {
      const text = fromParts(m.parts);
      const out: Record<string, unknown> = { role: "assistant", content: text.length === 0 ? null : text };
      if (m.toolCalls.length > 0) out["tool_calls"] = m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
      return out;
    }
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: fromParts(m.parts) };
    default:
      return assertNever(m);
  }
}

/** Options of `neutralToOpenAIRequest`. */
export interface OpenAIRenderOptions {
  /** The output-limit field to write (default: the one the model accepts, `outputLimitFieldOf`). */
  readonly maxTokensField?: MaxTokensField;
}

/**
 * The OpenAI Chat Completions body of a neutral request: system blocks as system messages first,
 * tool results as `tool` messages, images as `image_url` (base64 as data URLs), tools, tool choice,
 * stop, sampling, the output limit, JSON mode as `response_format`, and for streams
 * `stream_options.include_usage` (the gateway always wants the usage chunk).
 */
export function neutralToOpenAIRequest(req: ChatRequest, opts: OpenAIRenderOptions = {}): Record<string, unknown> {
  const messages = [...req.system.map((text) => ({ role: "system", content: text })), ...req.messages.map(fromMessage)];
  const body: Record<string, unknown> = { model: req.model, messages };
  if (req.tools.length > 0) {
    body["tools"] = req.tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description === null ? {} : { description: t.description }), parameters: t.parameters } }));
  }
  const c = req.toolChoice;
  if (c !== null) body["tool_choice"] = c.type === "tool" ? { type: "function", function: { name: c.name } } : c.type;
  if (req.stopSequences.length > 0) body["stop"] = [...req.stopSequences];
  if (req.temperature !== null) body["temperature"] = req.temperature;
  if (req.topP !== null) body["top_p"] = req.topP;
  if (req.maxOutputTokens !== null) body[opts.maxTokensField ?? outputLimitFieldOf(req.model)] = req.maxOutputTokens;
  if (req.jsonOutput) body["response_format"] = { type: "json_object" };
  if (req.stream) {
    body["stream"] = true;
    body["stream_options"] = { include_usage: true };
  }
  return body;
}
