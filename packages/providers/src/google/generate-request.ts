/** Validation and token bounds of inbound Gemini generateContent, countTokens and embedContent requests. */
import { attachmentsOf, boundJsonText, boundJsonValue, INPUT_BOUND_PROFILES, newPartScan, type InputScan, type PartClass } from "../input-bound.js";
import { utf8Bytes, type ParseError } from "../openai/chat-request.js";
import { isJsonObject } from "../openai/usage.js";

/** A validated `generateContent` / `streamGenerateContent` request (the model comes from the path). */
export interface ParsedGoogleRequest {
  /** The body exactly as received (never mutated). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly contents: readonly Readonly<Record<string, unknown>>[];
  /** True for `:streamGenerateContent`. */
  readonly stream: boolean;
  /** `generationConfig.maxOutputTokens`, null when absent. */
  readonly requestedMaxOutputTokens: number | null;
  /** `generationConfig.candidateCount` (default 1); output tokens scale with it. */
  readonly candidateCount: number;
}

/** A validated `embedContent` request. */
export interface ParsedGoogleEmbedRequest {
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  /** The text parts of `content`. */
  readonly texts: readonly string[];
}

/** Reads a field written in camelCase or snake_case (the REST API accepts both). */
export function pickField(o: Readonly<Record<string, unknown>>, camel: string): unknown {
  const v = o[camel];
  return v !== undefined ? v : o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const fail = (error: string): ParseError => ({ error });
const PART_KINDS = ["text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"];

/** Validates one Content object; null when fine. */
function validateContent(c: unknown, loc: string): ParseError | null {
  if (!isJsonObject(c)) return fail(`${loc} must be an object`);
  const role = c["role"];
  if (role !== undefined && role !== "user" && role !== "model" && role !== "function") return fail(`${loc}.role must be "user" or "model"`);
  const parts = c["parts"];
  if (!Array.isArray(parts) || parts.length === 0) return fail(`${loc}.parts must be a non-empty array`);
  for (let i = 0; i < parts.length; i++) {
    const p: unknown = parts[i];
    if (!isJsonObject(p) || !PART_KINDS.some((k) => pickField(p, k) !== undefined)) return fail(`${loc}.parts[${i}] must contain one of text, inlineData, fileData, functionCall, functionResponse`);
    if (p["text"] !== undefined && typeof p["text"] !== "string") return fail(`${loc}.parts[${i}].text must be a string`);
    const fc = pickField(p, "functionCall");
    if (fc !== undefined && (!isJsonObject(fc) || typeof fc["name"] !== "string")) return fail(`${loc}.parts[${i}].functionCall.name is required`);
    const fr = pickField(p, "functionResponse");
    if (fr !== undefined && (!isJsonObject(fr) || typeof fr["name"] !== "string")) return fail(`${loc}.parts[${i}].functionResponse.name is required`);
  }
  return null;
}

/** Validates `generationConfig`; returns its max output and candidate count. */
function validateGenerationConfig(g: unknown): { max: number | null; candidates: number } | ParseError {
  if (g === undefined) return { max: null, candidates: 1 };
  if (!isJsonObject(g)) return fail("generationConfig must be an object");
  const max = pickField(g, "maxOutputTokens");
  if (max !== undefined && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) return fail("generationConfig.maxOutputTokens must be a positive integer");
  const n = pickField(g, "candidateCount");
  if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 1)) return fail("generationConfig.candidateCount must be a positive integer");
  const stops = pickField(g, "stopSequences");
  if (stops !== undefined && (!Array.isArray(stops) || !stops.every((s) => typeof s === "string"))) return fail("generationConfig.stopSequences must be an array of strings");
  for (const f of ["temperature", "topP", "topK"]) {
    const v = pickField(g, f);
    if (v !== undefined && typeof v !== "number") return fail(`generationConfig.${f} must be a number`);
  }
  return { max: typeof max === "number" ? max : null, candidates: typeof n === "number" ? n : 1 };
}

/**
 * Validates a Gemini generateContent body: a non-empty `contents` list of Content (role user or
 * model, non-empty parts of a known kind), optional `systemInstruction` Content (or string),
 * `tools` (list), `toolConfig` and `generationConfig` (positive integers, string stop sequences,
 * numeric sampling). camelCase and snake_case field names are both accepted.
 */
export function parseGoogleGenerateRequest(model: string, body: unknown, stream: boolean): ParsedGoogleRequest | ParseError {
  if (model.length === 0) return fail("model is required");
  if (!isJsonObject(body)) return fail("the request body must be a JSON object");
  const contents = body["contents"];
  if (contents === undefined || contents === null) return fail("contents is not specified");
  if (!Array.isArray(contents) || contents.length === 0) return fail("contents must be a non-empty array");
  for (let i = 0; i < contents.length; i++) {
    const err = validateContent(contents[i], `contents[${i}]`);
    if (err !== null) return err;
  }
  const system = pickField(body, "systemInstruction");
  if (system !== undefined && typeof system !== "string") {
    const err = validateContent(system, "systemInstruction");
    if (err !== null) return err;
  }
  const tools = body["tools"];
  if (tools !== undefined && !Array.isArray(tools)) return fail("tools must be an array");
  const toolConfig = pickField(body, "toolConfig");
  if (toolConfig !== undefined && !isJsonObject(toolConfig)) return fail("toolConfig must be an object");
  const gen = validateGenerationConfig(pickField(body, "generationConfig"));
  if ("error" in gen) return gen;
  return { body, model, contents: contents as Record<string, unknown>[], stream, requestedMaxOutputTokens: gen.max, candidateCount: gen.candidates };
}

/** Validates a countTokens body: `{contents}` or `{generateContentRequest: {...}}`, as a non-stream request. */
export function parseGoogleCountTokensRequest(model: string, body: unknown): ParsedGoogleRequest | ParseError {
  if (isJsonObject(body)) {
    const inner = pickField(body, "generateContentRequest");
    if (isJsonObject(inner)) return parseGoogleGenerateRequest(model, inner, false);
  }
  return parseGoogleGenerateRequest(model, body, false);
}

/** Validates an embedContent body: `content` with at least one text part. */
export function parseGoogleEmbedRequest(model: string, body: unknown): ParsedGoogleEmbedRequest | ParseError {
  if (model.length === 0) return fail("model is required");
  if (!isJsonObject(body)) return fail("the request body must be a JSON object");
  const content = body["content"];
  if (content === undefined) return fail("content is not specified");
  const err = validateContent(content, "content");
  if (err !== null) return err;
  const parts = isJsonObject(content) && Array.isArray(content["parts"]) ? content["parts"] : [];
  const texts = parts.flatMap((p) => (isJsonObject(p) && typeof p["text"] === "string" ? [p["text"]] : []));
  if (texts.length === 0) return fail("content must contain a text part");
  return { body, model, texts };
}

/**
 * Validates a batchEmbedContents body (what `@google/genai`'s `models.embedContent` sends to the
 * Gemini API): a non-empty `requests` list, each an embedContent request; `texts` holds them all.
 */
export function parseGoogleBatchEmbedRequest(model: string, body: unknown): ParsedGoogleEmbedRequest | ParseError {
  if (!isJsonObject(body)) return fail("the request body must be a JSON object");
  const requests = body["requests"];
  if (!Array.isArray(requests) || requests.length === 0) return fail("requests must be a non-empty array");
  const texts: string[] = [];
  for (let i = 0; i < requests.length; i++) {
    const one = parseGoogleEmbedRequest(model, requests[i]);
    if ("error" in one) return fail(`requests[${i}].${one.error}`);
    texts.push(...one.texts);
  }
  return { body, model, texts };
}

/** An embedContent bound: the UTF-8 bytes of its texts (and of `title`). */
export function estimateGoogleEmbedInputUpperBound(req: ParsedGoogleEmbedRequest): number {
  let total = 0;
  for (const t of req.texts) total += utf8Bytes(t);
  const title = req.body["title"];
  return total + (typeof title === "string" ? utf8Bytes(title) : 0);
}

/**
 * How a Gemini part counts: inline images by the model's image bound, inline text by its (base64)
 * bytes; inline audio, video and documents (PDF ...) and files by URI cannot be sized.
 */
export function classifyGooglePart(o: Record<string, unknown>): PartClass {
  const inline = pickField(o, "inlineData");
  if (isJsonObject(inline)) {
    const mime = String(pickField(inline, "mimeType") ?? "").toLowerCase();
    if (mime.startsWith("image/")) return "image";
    if (mime.startsWith("audio/")) return "audio";
    if (mime.startsWith("video/")) return "video";
    return mime.startsWith("text/") ? null : "document";
  }
  return pickField(o, "fileData") !== undefined ? "file" : null;
}

/** True for a tool entry that only declares functions (the others run on Google's side: search, URL context, code execution ...). */
function isFunctionTool(tool: unknown): boolean {
  return isJsonObject(tool) && Object.keys(tool).every((k) => k === "functionDeclarations" || k === "function_declarations");
}

/**
 * The bound of the prompt tokens Gemini will count, apart from images and unsizable parts (in
 * `attachments`): the bytes of every string in the contents and the system instruction, the JSON
 * of `tools`, `toolConfig` and the response schema, plus per-content and per-request overheads. A `cachedContent`
 * reference and server-side tools (their results are billed as prompt tokens) are unsizable parts.
 */
export function scanGoogleInput(req: ParsedGoogleRequest): InputScan {
  const p = INPUT_BOUND_PROFILES.google;
  const scan = newPartScan();
  let total = p.requestOverhead;
  req.contents.forEach((c, i) => {
    total += p.messageOverhead + boundJsonValue(c["parts"], classifyGooglePart, `contents[${i}].parts`, scan);
  });
  const system = pickField(req.body, "systemInstruction");
  if (system !== undefined) total += p.messageOverhead + boundJsonValue(system, classifyGooglePart, "systemInstruction", scan);
  const tools = req.body["tools"];
  if (Array.isArray(tools) && tools.length > 0) {
    let declared = 0;
    tools.forEach((t, i) => {
      const declarations = isJsonObject(t) ? pickField(t, "functionDeclarations") : undefined;
      declared += 1 + (Array.isArray(declarations) ? declarations.length : 0);
      if (!isFunctionTool(t)) scan.unbounded.push({ kind: "server_tool", path: `tools[${i}]` });
    });
    total += p.toolsOverhead + p.perToolOverhead * declared + boundJsonText(tools);
  }
  // A response schema is rendered into the prompt, as OpenAI's `response_format` is.
  const gen = pickField(req.body, "generationConfig");
  if (isJsonObject(gen)) total += boundJsonText(pickField(gen, "responseSchema")) + boundJsonText(pickField(gen, "responseJsonSchema"));
  const cached = pickField(req.body, "cachedContent");
  if (cached !== undefined && cached !== null && cached !== "") scan.unbounded.push({ kind: "cached_content", path: "cachedContent" });
  return { textTokens: total + boundJsonText(pickField(req.body, "toolConfig")), attachments: attachmentsOf(scan) };
}

/**
 * A bound of the prompt tokens Gemini will count with `imageTokens` per image (default: the
 * profile's; see its caveat for very large images); unsizable parts count 0 here, which is why
 * admission uses `scanGoogleInput`.
 */
export function estimateGoogleInputTokensUpperBound(req: ParsedGoogleRequest, imageTokens = INPUT_BOUND_PROFILES.google.imageTokens): number {
  const { textTokens, attachments } = scanGoogleInput(req);
  return textTokens + attachments.images * imageTokens;
}
