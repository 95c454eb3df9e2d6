/** Gemini generateContent requests to and from the neutral chat model. */
import { assertNever, parseJsonObject, type ChatMessage, type ChatPart, type ChatRequest, type ChatTool, type ChatToolChoice } from "../chat-model.js";
import type { ParseError } from "../openai/chat-request.js";
import { isJsonObject } from "../openai/usage.js";
import { pickField, type ParsedGoogleRequest } from "./generate-request.js";

const untranslatable = (what: string): ParseError => ({ error: `${what} cannot be translated to the upstream's protocol` });

/** JSON schema with Gemini's upper-case OpenAPI type names (`OBJECT`) lowered (`object`). */
export function normaliseSchemaTypes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normaliseSchemaTypes);
  if (!isJsonObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = k === "type" && typeof x === "string" ? x.toLowerCase() : normaliseSchemaTypes(x);
  return out;
}

/** The text of a function response: `{content: "..."}` unwraps to its string, else the JSON. */
function responseText(response: unknown): string {
  if (isJsonObject(response)) {
    const keys = Object.keys(response);
    if (keys.length === 1 && typeof response["content"] === "string") return response["content"];
  }
  return JSON.stringify(response ?? {});
}

/** A neutral part of a Gemini text/media part; null for other parts. */
function toPart(p: Record<string, unknown>): ChatPart | null {
  if (typeof p["text"] === "string") return { type: "text", text: p["text"] };
  const inline = pickField(p, "inlineData");
  if (isJsonObject(inline)) return { type: "image", source: { kind: "base64", mediaType: String(pickField(inline, "mimeType")), data: String(inline["data"]) } };
  const file = pickField(p, "fileData");
  if (isJsonObject(file)) {
    const mime = pickField(file, "mimeType");
    return { type: "image", source: { kind: "url", url: String(pickField(file, "fileUri")), mediaType: typeof mime === "string" ? mime : null } };
  }
  return null;
}

/** Converts the contents, pairing function responses with the calls they answer. */
function convertContents(contents: readonly Readonly<Record<string, unknown>>[]): ChatMessage[] | ParseError {
  const out: ChatMessage[] = [];
  let unanswered: { id: string; name: string }[] = [];
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i] ?? {};
    const parts = Array.isArray(c["parts"]) ? c["parts"].filter(isJsonObject) : [];
    if (c["role"] === "model") {
      const texts: ChatPart[] = [];
      const toolCalls: { id: string; name: string; arguments: string }[] = [];
      for (let j = 0; j < parts.length; j++) {
        const p = parts[j] ?? {};
        const fc = pickField(p, "functionCall");
        if (isJsonObject(fc)) {
          const id = typeof fc["id"] === "string" ? fc["id"] : `call_${i}_${j}`;
          toolCalls.push({ id, name: String(fc["name"]), arguments: JSON.stringify(fc["args"] ?? {}) });
        } else if (p["thought"] !== true) {
          const part = toPart(p);
          if (part === null) return untranslatable("a model part other than text or functionCall");
          texts.push(part);
        }
      }
      unanswered = toolCalls.map((t) => ({ id: t.id, name: t.name }));
      out.push({ role: "assistant", parts: texts, toolCalls });
      continue;
    }
    let pending: ChatPart[] = [];
    for (const p of parts) {
      const fr = pickField(p, "functionResponse");
      if (isJsonObject(fr)) {
        if (pending.length > 0) out.push({ role: "user", parts: pending });
        pending = [];
        const name = String(fr["name"]);
        const at = unanswered.findIndex((u) => u.name === name);
        const matched = at >= 0 ? unanswered.splice(at, 1)[0] : undefined;
        const id = typeof fr["id"] === "string" ? fr["id"] : (matched?.id ?? `call_${name}`);
        out.push({ role: "tool", toolCallId: id, name, parts: [{ type: "text", text: responseText(fr["response"]) }], isError: false });
        continue;
      }
      const part = toPart(p);
      if (part === null) return untranslatable("a user part other than text, media or functionResponse");
      pending.push(part);
    }
    if (pending.length > 0) out.push({ role: "user", parts: pending });
  }
  return out;
}

/** Neutral tools of Gemini `tools` (only function declarations translate). */
function convertTools(tools: unknown): ChatTool[] | ParseError {
  const out: ChatTool[] = [];
  for (const t of Array.isArray(tools) ? tools : []) {
    if (!isJsonObject(t)) continue;
    const decls = pickField(t, "functionDeclarations");
    if (!Array.isArray(decls)) return untranslatable(`the Gemini tool '${Object.keys(t).join(",")}'`);
    for (const d of decls) {
      if (!isJsonObject(d)) continue;
      const schema = pickField(d, "parametersJsonSchema") ?? d["parameters"];
      out.push({
        name: String(d["name"]),
        description: typeof d["description"] === "string" ? d["description"] : null,
        parameters: isJsonObject(schema) ? (normaliseSchemaTypes(schema) as Record<string, unknown>) : { type: "object", properties: {} },
      });
    }
  }
  return out;
}

/** Neutral tool choice of `toolConfig.functionCallingConfig`. */
function convertToolChoice(toolConfig: unknown): ChatToolChoice | null {
  const fcc = isJsonObject(toolConfig) ? pickField(toolConfig, "functionCallingConfig") : undefined;
  if (!isJsonObject(fcc)) return null;
  const allowed = pickField(fcc, "allowedFunctionNames");
  switch (fcc["mode"]) {
    case "AUTO":
      return { type: "auto" };
    case "NONE":
      return { type: "none" };
    case "ANY":
    case "VALIDATED":
      return Array.isArray(allowed) && allowed.length === 1 && typeof allowed[0] === "string" ? { type: "tool", name: allowed[0] } : { type: "required" };
    default:
      return null;
  }
}

/** A validated Gemini request as a neutral one; an error for what other protocols cannot express. */
export function googleRequestToNeutral(req: ParsedGoogleRequest): ChatRequest | ParseError {
  if (req.candidateCount > 1) return untranslatable("candidateCount > 1");
  const messages = convertContents(req.contents);
  if ("error" in messages) return messages;
  const tools = convertTools(req.body["tools"]);
  if ("error" in tools) return tools;
  const sys = pickField(req.body, "systemInstruction");
  const sysParts = isJsonObject(sys) && Array.isArray(sys["parts"]) ? sys["parts"] : [];
  const system = typeof sys === "string" ? [sys] : sysParts.flatMap((p) => (isJsonObject(p) && typeof p["text"] === "string" ? [p["text"]] : []));
  const g = pickField(req.body, "generationConfig");
  const gen = isJsonObject(g) ? g : {};
  const num = (f: string): number | null => {
    const v = pickField(gen, f);
    return typeof v === "number" ? v : null;
  };
  const stops = pickField(gen, "stopSequences");
  return {
    model: req.model,
    system,
    messages,
    tools,
    toolChoice: convertToolChoice(pickField(req.body, "toolConfig")),
    stopSequences: Array.isArray(stops) ? stops.filter((s): s is string => typeof s === "string") : [],
    temperature: num("temperature"),
    topP: num("topP"),
    maxOutputTokens: req.requestedMaxOutputTokens,
    jsonOutput: pickField(gen, "responseMimeType") === "application/json",
    stream: req.stream,
  };
}

/** A Gemini part of a neutral part. */
function fromPart(p: ChatPart): Record<string, unknown> {
  if (p.type === "text") return { text: p.text };
  const s = p.source;
  if (s.kind === "base64") return { inlineData: { mimeType: s.mediaType, data: s.data } };
  return { fileData: { mimeType: s.mediaType ?? "image/jpeg", fileUri: s.url } };
}

/** The role and parts a neutral message contributes (`names` maps tool call ids to names). */
function contentOf(m: ChatMessage, names: Map<string, string>): { role: "user" | "model"; parts: Record<string, unknown>[] } {
  switch (m.role) {
    case "user":
      return { role: "user", parts: m.parts.map(fromPart) };
    case "assistant": {
      for (const c of m.toolCalls) names.set(c.id, c.name);
      const texts = m.parts.filter((p) => p.type !== "text" || p.text.length > 0).map(fromPart);
      return { role: "model", parts: [...texts, ...m.toolCalls.map((c) => ({ functionCall: { name: c.name, args: parseJsonObject(c.arguments) ?? {} } }))] };
    }
    case "tool": {
      const text = m.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
      const parsed = parseJsonObject(text);
      const response = parsed !== null && text.trim().startsWith("{") ? parsed : { content: text };
      return { role: "user", parts: [{ functionResponse: { name: m.name ?? names.get(m.toolCallId) ?? m.toolCallId, response } }] };
    }
    default:
      return assertNever(m);
  }
}

/**
 * The Gemini generateContent body of a neutral request (the model and streaming go in the URL):
 * consecutive same-role turns merged, tool results as `functionResponse` parts named after their
 * call, tools as `functionDeclarations` with `parametersJsonSchema`, tool choice as
 * `functionCallingConfig`, and `generationConfig` (output limit, stops, sampling, JSON mime type).
 */
export function neutralToGoogleRequest(req: ChatRequest): Record<string, unknown> {
  const names = new Map<string, string>();
  const contents: { role: "user" | "model"; parts: Record<string, unknown>[] }[] = [];
  for (const m of req.messages) {
    const c = contentOf(m, names);
    const last = contents.at(-1);
    if (last !== undefined && last.role === c.role) last.parts.push(...c.parts);
    else contents.push(c);
  }
  const body: Record<string, unknown> = { contents: contents.filter((c) => c.parts.length > 0) };
  if (req.system.length > 0) body["systemInstruction"] = { parts: req.system.map((text) => ({ text })) };
  if (req.tools.length > 0) {
    const functionDeclarations = req.tools.map((t) => ({ name: t.name, ...(t.description === null ? {} : { description: t.description }), parametersJsonSchema: t.parameters }));
    body["tools"] = [{ functionDeclarations }];
  }
  const choice = req.toolChoice;
  if (choice !== null) {
    const mode = choice.type === "auto" ? "AUTO" : choice.type === "none" ? "NONE" : "ANY";
    body["toolConfig"] = { functionCallingConfig: { mode, ...(choice.type === "tool" ? { allowedFunctionNames: [choice.name] } : {}) } };
  }
  const gen: Record<string, unknown> = {};
  if (req.maxOutputTokens !== null) gen["maxOutputTokens"] = req.maxOutputTokens;
  if (req.stopSequences.length > 0) gen["stopSequences"] = [...req.stopSequences];
  if (req.temperature !== null) gen["temperature"] = req.temperature;
  if (req.topP !== null) gen["topP"] = req.topP;
  if (req.jsonOutput) gen["responseMimeType"] = "application/json";
  if (Object.keys(gen).length > 0) body["generationConfig"] = gen;
  return body;
}
