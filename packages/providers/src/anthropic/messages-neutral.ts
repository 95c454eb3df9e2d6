/** Anthropic Messages requests to and from the neutral chat model. */
import { assertNever, parseJsonObject, type ChatMessage, type ChatPart, type ChatRequest, type ChatTool, type ChatToolChoice } from "../chat-model.js";
import type { ParseError } from "../openai/chat-request.js";
import { isJsonObject } from "../openai/usage.js";
import type { ParsedAnthropicRequest } from "./messages-request.js";

/** Block types dropped on translation (the model's private reasoning). */
const DROPPED_BLOCKS = new Set(["thinking", "redacted_thinking"]);

/** An error for a feature another protocol cannot express. */
const untranslatable = (what: string): ParseError => ({ error: `${what} cannot be translated to the upstream's protocol` });

/** A neutral part of an Anthropic text or image block; null for other blocks. */
function toPart(b: Record<string, unknown>): ChatPart | null {
  if (b["type"] === "text" && typeof b["text"] === "string") return { type: "text", text: b["text"] };
  if (b["type"] !== "image" || !isJsonObject(b["source"])) return null;
  const src = b["source"];
  if (src["type"] === "base64") return { type: "image", source: { kind: "base64", mediaType: String(src["media_type"]), data: String(src["data"]) } };
  if (src["type"] === "url") return { type: "image", source: { kind: "url", url: String(src["url"]), mediaType: null } };
  return null;
}

/** Neutral parts of a tool_result's content. */
function toolResultParts(content: unknown): ChatPart[] | ParseError {
  if (content === undefined) return [];
  if (typeof content === "string") return [{ type: "text", text: content }];
  const parts: ChatPart[] = [];
  for (const b of Array.isArray(content) ? content : []) {
    const part = isJsonObject(b) ? toPart(b) : null;
    if (part === null) return untranslatable("a tool_result block other than text or image");
    parts.push(part);
  }
  return parts;
}

/** Converts one Anthropic message into neutral messages (tool results become tool messages). */
function convertMessage(m: Readonly<Record<string, unknown>>, out: ChatMessage[]): ParseError | null {
  const content = m["content"];
  const blocks: unknown[] = typeof content === "string" ? [{ type: "text", text: content }] : Array.isArray(content) ? content : [];
  if (m["role"] === "assistant") {
    const parts: ChatPart[] = [];
    const toolCalls: { id: string; name: string; arguments: string }[] = [];
    for (const b of blocks) {
      if (!isJsonObject(b) || DROPPED_BLOCKS.has(String(b["type"]))) continue;
      if (b["type"] === "tool_use") {
        toolCalls.push({ id: String(b["id"]), name: String(b["name"]), arguments: JSON.stringify(b["input"] ?? {}) });
        continue;
      }
      const part = toPart(b);
      if (part === null) return untranslatable(`an assistant '${String(b["type"])}' block`);
      parts.push(part);
    }
    out.push({ role: "assistant", parts, toolCalls });
    return null;
  }
  let pending: ChatPart[] = [];
  for (const b of blocks) {
    if (!isJsonObject(b)) continue;
    if (b["type"] === "tool_result") {
      if (pending.length > 0) out.push({ role: "user", parts: pending });
      pending = [];
      const parts = toolResultParts(b["content"]);
      if ("error" in parts) return parts;
      out.push({ role: "tool", toolCallId: String(b["tool_use_id"]), name: null, parts, isError: b["is_error"] === true });
      continue;
    }
    const part = toPart(b);
    if (part === null) return untranslatable(`a user '${String(b["type"])}' block`);
    pending.push(part);
  }
  if (pending.length > 0 || blocks.length === 0) out.push({ role: "user", parts: pending });
  return null;
}

/** Neutral tools of an Anthropic `tools` list (server tools cannot be translated). */
function convertTools(tools: unknown): ChatTool[] | ParseError {
  const out: ChatTool[] = [];
  for (const t of Array.isArray(tools) ? tools : []) {
    if (!isJsonObject(t)) continue;
    if (t["type"] !== undefined && t["type"] !== "custom") return untranslatable(`the server tool '${String(t["type"])}'`);
    out.push({
      name: String(t["name"]),
      description: typeof t["description"] === "string" ? t["description"] : null,
      parameters: isJsonObject(t["input_schema"]) ? t["input_schema"] : { type: "object", properties: {} },
    });
  }
  return out;
}

/** Neutral tool choice of an Anthropic `tool_choice`. */
function convertToolChoice(choice: unknown): ChatToolChoice | null {
  if (!isJsonObject(choice)) return null;
  switch (choice["type"]) {
    case "auto":
      return { type: "auto" };
    case "any":
      return { type: "required" };
    case "none":
      return { type: "none" };
    case "tool":
      return { type: "tool", name: String(choice["name"]) };
    default:
      return null;
  }
}

/** Text blocks of `system` (string or blocks). */
function convertSystem(system: unknown): string[] {
  if (typeof system === "string") return system.length > 0 ? [system] : [];
  if (!Array.isArray(system)) return [];
  return system.flatMap((b) => (isJsonObject(b) && typeof b["text"] === "string" ? [b["text"]] : []));
}

/** A validated Anthropic request as a neutral one; an error for what other protocols cannot express. */
export function anthropicRequestToNeutral(req: ParsedAnthropicRequest): ChatRequest | ParseError {
  const b = req.body;
  const messages: ChatMessage[] = [];
  for (const m of req.messages) {
    const err = convertMessage(m, messages);
    if (err !== null) return err;
  }
  const tools = convertTools(b["tools"]);
  if ("error" in tools) return tools;
  const stops = b["stop_sequences"];
  return {
    model: req.model,
    system: convertSystem(b["system"]),
    messages,
    tools,
    toolChoice: convertToolChoice(b["tool_choice"]),
    stopSequences: Array.isArray(stops) ? stops.filter((s): s is string => typeof s === "string") : [],
    temperature: typeof b["temperature"] === "number" ? b["temperature"] : null,
    topP: typeof b["top_p"] === "number" ? b["top_p"] : null,
    maxOutputTokens: req.maxTokens,
    jsonOutput: false,
    stream: req.stream,
  };
}

/** An Anthropic block of a neutral part (empty text yields null: Anthropic rejects empty text blocks). */
function fromPart(p: ChatPart): Record<string, unknown> | null {
  if (p.type === "text") return p.text.length > 0 ? { type: "text", text: p.text } : null;
  const s = p.source;
  if (s.kind === "base64") return { type: "image", source: { type: "base64", media_type: s.mediaType, data: s.data } };
  return { type: "image", source: { type: "url", url: s.url } };
}

/** Anthropic blocks of neutral parts. */
function fromParts(parts: readonly ChatPart[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const p of parts) {
    const block = fromPart(p);
    if (block !== null) out.push(block);
  }
  return out;
}

/** The Anthropic block(s) a neutral message contributes, and the role of the message holding them. */
function blocksOf(m: ChatMessage): { role: "user" | "assistant"; blocks: Record<string, unknown>[] } {
  switch (m.role) {
    case "user":
      return { role: "user", blocks: fromParts(m.parts) };
    case "assistant": {
      const calls = m.toolCalls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: parseJsonObject(c.arguments) ?? {} }));
      return { role: "assistant", blocks: [...fromParts(m.parts), ...calls] };
    }
    case "tool": {
      const blocks = fromParts(m.parts);
      const only = blocks[0];
      const content = blocks.length === 1 && only !== undefined && only["type"] === "text" ? only["text"] : blocks;
      const result: Record<string, unknown> = { type: "tool_result", tool_use_id: m.toolCallId, content };
      if (m.isError) result["is_error"] = true;
      return { role: "user", blocks: [result] };
    }
    default:
      return assertNever(m);
  }
}

/** Options of `neutralToAnthropicRequest`. */
export interface AnthropicRenderOptions {
  /** `max_tokens` when the neutral request has none (Anthropic requires it): the model's maximum output. */
  readonly maxTokensWhenAbsent: number;
}

/**
 * The Anthropic Messages body of a neutral request: system as a string (one block) or text blocks,
 * consecutive same-role turns merged (tool results go into the next user turn, first), tool calls
 * as `tool_use` blocks, `tool_choice` (required -> any), stop sequences, sampling, `stream`.
 * temperature clamped to Anthropic's [0, 1]. JSON output has no Anthropic equivalent and is dropped.
 */
export function neutralToAnthropicRequest(req: ChatRequest, opts: AnthropicRenderOptions): Record<string, unknown> {
  const messages: { role: "user" | "assistant"; content: Record<string, unknown>[] }[] = [];
  for (const m of req.messages) {
    const { role, blocks } = blocksOf(m);
    const last = messages.at(-1);
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  }
  const body: Record<string, unknown> = {
    model: req.model,
    max_tokens: req.maxOutputTokens ?? opts.maxTokensWhenAbsent,
    messages: messages.map((m) => {
      const only = m.content[0];
      const simple = m.content.length === 1 && only !== undefined && only["type"] === "text";
      return { role: m.role, content: simple ? only["text"] : m.content };
    }),
  };
  if (req.system.length === 1) body["system"] = req.system[0];
  else if (req.system.length > 1) body["system"] = req.system.map((text) => ({ type: "text", text }));
  if (req.tools.length > 0) {
    body["tools"] = req.tools.map((t) => ({ name: t.name, ...(t.description === null ? {} : { description: t.description }), input_schema: t.parameters }));
  }
  const choice = req.toolChoice;
  if (choice !== null) body["tool_choice"] = choice.type === "required" ? { type: "any" } : choice.type === "tool" ? { type: "tool", name: choice.name } : { type: choice.type };
  if (req.stopSequences.length > 0) body["stop_sequences"] = [...req.stopSequences];
  if (req.temperature !== null) body["temperature"] = Math.min(req.temperature, 1);
  if (req.topP !== null) body["top_p"] = req.topP;
  if (req.stream) body["stream"] = true;
  return body;
}
