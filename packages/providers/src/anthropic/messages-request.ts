/** Validation and token bounds of inbound Anthropic Messages (and count_tokens) requests. */
import { attachmentsOf, boundJsonText, boundJsonValue, INPUT_BOUND_PROFILES, newPartScan, type InputScan, type PartClass } from "../input-bound.js";
import type { ParseError } from "../openai/chat-request.js";
import { isJsonObject } from "../openai/usage.js";

/** A validated `POST /v1/messages/count_tokens` body. */
export interface ParsedAnthropicCountTokensRequest {
  /** The body exactly as received (never mutated). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly messages: readonly Readonly<Record<string, unknown>>[];
}

/** A validated `POST /v1/messages` body. */
export interface ParsedAnthropicRequest extends ParsedAnthropicCountTokensRequest {
  /** `max_tokens`, required by the protocol. */
  readonly maxTokens: number;
  readonly stream: boolean;
}

/** The roles a message may have. */
const ROLES = new Set(["user", "assistant"]);

/** Anthropic-style field error: `loc: message`. */
const fail = (loc: string, msg: string): ParseError => ({ error: `${loc}: ${msg}` });

/** Validates one content block; null when fine. */
function validateBlock(b: unknown, loc: string): ParseError | null {
  if (!isJsonObject(b)) return fail(loc, "Input should be a valid dictionary");
  const type = b["type"];
  if (typeof type !== "string") return fail(`${loc}.type`, "Field required");
  switch (type) {
    case "text":
      return typeof b["text"] === "string" ? null : fail(`${loc}.text`, "Input should be a valid string");
    case "image": {
      const src = b["source"];
      if (!isJsonObject(src)) return fail(`${loc}.source`, "Field required");
      if (src["type"] === "base64") {
        if (typeof src["media_type"] !== "string") return fail(`${loc}.source.media_type`, "Field required");
        return typeof src["data"] === "string" ? null : fail(`${loc}.source.data`, "Field required");
      }
      if (src["type"] === "url") return typeof src["url"] === "string" ? null : fail(`${loc}.source.url`, "Field required");
      return null;
    }
    case "tool_use":
      if (typeof b["id"] !== "string") return fail(`${loc}.id`, "Field required");
      if (typeof b["name"] !== "string") return fail(`${loc}.name`, "Field required");
      return isJsonObject(b["input"]) ? null : fail(`${loc}.input`, "Input should be a valid dictionary");
    case "tool_result": {
      if (typeof b["tool_use_id"] !== "string") return fail(`${loc}.tool_use_id`, "Field required");
      const c = b["content"];
      if (c === undefined || typeof c === "string") return null;
      if (!Array.isArray(c)) return fail(`${loc}.content`, "Input should be a valid string or list");
      for (let i = 0; i < c.length; i++) {
        const err = validateBlock(c[i], `${loc}.content.${i}`);
        if (err !== null) return err;
      }
      return null;
    }
    default:
      return null;
  }
}

/** Validates `system`: a string or a list of text blocks. */
function validateSystem(system: unknown): ParseError | null {
  if (system === undefined || typeof system === "string") return null;
  if (!Array.isArray(system)) return fail("system", "Input should be a valid string or list");
  for (let i = 0; i < system.length; i++) {
    const b: unknown = system[i];
    if (!isJsonObject(b) || b["type"] !== "text" || typeof b["text"] !== "string") return fail(`system.${i}`, "Input should be a text block");
  }
  return null;
}

/** Validates the optional fields shared by messages and count_tokens. */
function validateOptional(body: Record<string, unknown>): ParseError | null {
  const sysErr = validateSystem(body["system"]);
  if (sysErr !== null) return sysErr;
  const tools = body["tools"];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return fail("tools", "Input should be a valid list");
    for (let i = 0; i < tools.length; i++) {
      const t: unknown = tools[i];
      if (!isJsonObject(t) || typeof t["name"] !== "string") return fail(`tools.${i}.name`, "Field required");
    }
  }
  const choice = body["tool_choice"];
  if (choice !== undefined) {
    if (!isJsonObject(choice) || !["auto", "any", "tool", "none"].includes(String(choice["type"]))) {
      return fail("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (choice["type"] === "tool" && typeof choice["name"] !== "string") return fail("tool_choice.name", "Field required");
  }
  const stops = body["stop_sequences"];
  if (stops !== undefined && (!Array.isArray(stops) || !stops.every((s) => typeof s === "string"))) {
    return fail("stop_sequences", "Input should be a valid list of strings");
  }
  for (const field of ["temperature", "top_p", "top_k"]) {
    const v = body[field];
    if (v !== undefined && typeof v !== "number") return fail(field, "Input should be a valid number");
  }
  return null;
}

/** Validates model and messages; returns them or an error. */
function validateCore(body: unknown): ParsedAnthropicCountTokensRequest | ParseError {
  if (!isJsonObject(body)) return { error: "the request body must be a JSON object" };
  const model = body["model"];
  if (model === undefined || model === null) return fail("model", "Field required");
  if (typeof model !== "string" || model.length === 0) return fail("model", "Input should be a valid string");
  const messages = body["messages"];
  if (messages === undefined || messages === null) return fail("messages", "Field required");
  if (!Array.isArray(messages)) return fail("messages", "Input should be a valid list");
  if (messages.length === 0) return fail("messages", "at least one message is required");
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isJsonObject(m)) return fail(`messages.${i}`, "Input should be a valid dictionary");
    if (!ROLES.has(String(m["role"]))) return fail(`messages.${i}.role`, "Input should be 'user' or 'assistant'");
    const content = m["content"];
    if (content === undefined) return fail(`messages.${i}.content`, "Field required");
    if (typeof content === "string") continue;
    if (!Array.isArray(content)) return fail(`messages.${i}.content`, "Input should be a valid string or list");
    for (let j = 0; j < content.length; j++) {
      const err = validateBlock(content[j], `messages.${i}.content.${j}`);
      if (err !== null) return err;
    }
  }
  const optErr = validateOptional(body);
  if (optErr !== null) return optErr;
  return { body, model, messages: messages as Record<string, unknown>[] };
}

/**
 * Validates an Anthropic Messages body: `model`, `max_tokens` (required, integer >= 1), a
 * non-empty `messages` list of user/assistant turns with string or block content (text, image,
 * tool_use, tool_result checked; other block types accepted), `system`, `tools`, `tool_choice`,
 * `stop_sequences`, sampling numbers and `stream`. Messages read `loc: problem`, as Anthropic's do.
 */
export function parseAnthropicMessagesRequest(body: unknown): ParsedAnthropicRequest | ParseError {
  const core = validateCore(body);
  if ("error" in core) return core;
  const b = core.body;
  const maxTokens = b["max_tokens"];
  if (maxTokens === undefined || maxTokens === null) return fail("max_tokens", "Field required");
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens)) return fail("max_tokens", "Input should be a valid integer");
  if (maxTokens < 1) return fail("max_tokens", "Input should be greater than or equal to 1");
  const stream = b["stream"];
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") return fail("stream", "Input should be a valid boolean");
  return { ...core, maxTokens, stream: stream === true };
}

/** Validates a `count_tokens` body: as messages, without `max_tokens` and `stream`. */
export function parseAnthropicCountTokensRequest(body: unknown): ParsedAnthropicCountTokensRequest | ParseError {
  return validateCore(body);
}

/** How an Anthropic content block counts: images by the model's image bound; PDFs, documents by URL and files by id cannot be sized. */
export function classifyAnthropicBlock(o: Record<string, unknown>): PartClass {
  const source = o["source"];
  const sourceType = isJsonObject(source) ? source["type"] : undefined;
  switch (o["type"]) {
    case "image":
      return sourceType === "file" ? "file" : "image";
    case "document":
      // Plain-text and content-block documents are bounded by their strings; a PDF (base64 or URL) or a file id is not.
      if (sourceType === "text" || sourceType === "content") return null;
      return sourceType === "file" ? "file" : "document";
    case "container_upload":
      return "file";
    default:
      return null;
  }
}

/** Tokens a client-side built-in tool (bash, text editor, computer, memory) adds: its hidden definition and system prompt (computer use: 735 + about 500). */
export const ANTHROPIC_BUILTIN_TOOL_TOKENS = 2048;

const CLIENT_BUILTIN_TOOL = /^(?:bash|text_editor|computer|memory)_/;

/**
 * How a declared tool counts: a custom tool by its JSON; a client built-in tool adds
 * `ANTHROPIC_BUILTIN_TOOL_TOKENS`; any other typed tool runs on Anthropic's side (web search and
 * fetch, code execution, ...) and feeds what it finds back as input tokens: it cannot be sized.
 */
function classifyAnthropicTool(tool: unknown): "custom" | "builtin" | "server" {
  const type = isJsonObject(tool) ? tool["type"] : undefined;
  if (type === undefined || type === null || type === "custom") return "custom";
  return typeof type === "string" && CLIENT_BUILTIN_TOOL.test(type) ? "builtin" : "server";
}

/**
 * The bound of the input tokens Anthropic will count, apart from images and unsizable parts (in
 * `attachments`): the bytes of every string in `messages` and `system`, the JSON of `tools` and
 * `tool_choice` and of a structured-output schema (`output_format`, `output_config`), plus
 * per-message, per-request and tool-use system prompt overheads, and each
 * built-in tool's hidden prompt. Server-side tools and MCP servers are unsizable parts.
 */
export function scanAnthropicInput(req: ParsedAnthropicCountTokensRequest): InputScan {
  const p = INPUT_BOUND_PROFILES.anthropic;
  const scan = newPartScan();
  let total = p.requestOverhead;
  req.messages.forEach((m, i) => {
    total += p.messageOverhead + boundJsonValue(m["content"], classifyAnthropicBlock, `messages[${i}].content`, scan);
  });
  const system = req.body["system"];
  if (system !== undefined) total += p.messageOverhead + boundJsonValue(system, classifyAnthropicBlock, "system", scan);
  const tools = req.body["tools"];
  if (Array.isArray(tools) && tools.length > 0) {
    total += p.toolsOverhead + p.perToolOverhead * tools.length + boundJsonText(tools);
    tools.forEach((t, i) => {
      const kind = classifyAnthropicTool(t);
      if (kind === "builtin") total += ANTHROPIC_BUILTIN_TOOL_TOKENS;
      else if (kind === "server") scan.unbounded.push({ kind: "server_tool", path: `tools[${i}]` });
    });
  }
  const servers = req.body["mcp_servers"];
  if (Array.isArray(servers)) servers.forEach((_s, i) => scan.unbounded.push({ kind: "server_tool", path: `mcp_servers[${i}]` }));
  // A structured-output schema is rendered into the prompt, as OpenAI's `response_format` is.
  total += boundJsonText(req.body["output_format"]) + boundJsonText(req.body["output_config"]);
  return { textTokens: total + boundJsonText(req.body["tool_choice"]), attachments: attachmentsOf(scan) };
}

/**
 * A bound of the input tokens Anthropic will count with `imageTokens` per image (default: the
 * profile's); unsizable parts count 0 here, which is why admission uses `scanAnthropicInput`.
 */
export function estimateAnthropicInputTokensUpperBound(req: ParsedAnthropicCountTokensRequest, imageTokens = INPUT_BOUND_PROFILES.anthropic.imageTokens): number {
  const { textTokens, attachments } = scanAnthropicInput(req);
  return textTokens + attachments.images * imageTokens;
}
