import { boundInputTokens, type ModelPolicy, type UnboundedPartKind } from "@tollgate/policy";
import { describe, expect, it } from "vitest";
import type { ChatProtocol } from "./chat-model.js";
import { parseInboundChatRequest, scanInboundChatInput } from "./protocol.js";
import { countTokens } from "./token-count.js";

const PDF = Buffer.from("%PDF-1.4 tiny").toString("base64");
const PNG = "iVBORw0KGgo=";
const QUESTION = "what is in this part? réponds en français";

/** A chat body of `protocol` whose user turn holds the question and `part`, plus top-level `extra`. */
function bodyOf(protocol: ChatProtocol, part: Record<string, unknown> | null, extra: Record<string, unknown> = {}): unknown {
  switch (protocol) {
    case "openai":
      return { model: "m", messages: [{ role: "user", content: [{ type: "text", text: QUESTION }, ...(part ? [part] : [])] }], ...extra };
    case "anthropic":
      return { model: "m", max_tokens: 10, messages: [{ role: "user", content: [{ type: "text", text: QUESTION }, ...(part ? [part] : [])] }], ...extra };
    case "google":
      return { contents: [{ role: "user", parts: [{ text: QUESTION }, ...(part ? [part] : [])] }], ...extra };
  }
}

type Expected = "text" | "image" | UnboundedPartKind;
type Row = [ChatProtocol, string, Record<string, unknown> | null, Record<string, unknown>, Expected, string];

const ROWS: Row[] = [
  ["openai", "text only", null, {}, "text", ""],
  ["openai", "an image by URL", { type: "image_url", image_url: { url: "https://example.test/cat.png" } }, {}, "image", ""],
  ["openai", "an inline image", { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }, {}, "image", ""],
  ["openai", "a file by id", { type: "file", file: { file_id: "file-abc" } }, {}, "file", "messages[0].content[1]"],
  ["openai", "an inline PDF file", { type: "file", file: { filename: "a.pdf", file_data: `data:application/pdf;base64,${PDF}` } }, {}, "document", "messages[0].content[1]"],
  ["openai", "inline audio", { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }, {}, "audio", "messages[0].content[1]"],
  ["openai", "web search", null, { web_search_options: {} }, "server_tool", "web_search_options"],
  ["openai", "function tools (counted as text)", null, { tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object" } } }] }, "text", ""],
  ["anthropic", "text only", null, {}, "text", ""],
  ["anthropic", "an inline image", { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } }, {}, "image", ""],
  ["anthropic", "an image by URL", { type: "image", source: { type: "url", url: "https://example.test/cat.png" } }, {}, "image", ""],
  ["anthropic", "an image by file id", { type: "image", source: { type: "file", file_id: "file_1" } }, {}, "file", "messages[0].content[1]"],
  ["anthropic", "a PDF by URL", { type: "document", source: { type: "url", url: "https://example.test/big.pdf" } }, {}, "document", "messages[0].content[1]"],
  ["anthropic", "an inline PDF", { type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF } }, {}, "document", "messages[0].content[1]"],
  ["anthropic", "a document by file id", { type: "document", source: { type: "file", file_id: "file_2" } }, {}, "file", "messages[0].content[1]"],
  ["anthropic", "a plain-text document (counted as text)", { type: "document", source: { type: "text", media_type: "text/plain", data: "the whole text" } }, {}, "text", ""],
  ["anthropic", "web search", null, { tools: [{ type: "web_search_20250305", name: "web_search" }] }, "server_tool", "tools[0]"],
  ["anthropic", "an MCP server", null, { mcp_servers: [{ type: "url", url: "https://mcp.example.test", name: "x" }] }, "server_tool", "mcp_servers[0]"],
  ["anthropic", "custom tools (counted as text)", null, { tools: [{ name: "lookup", input_schema: { type: "object" } }] }, "text", ""],
  ["google", "text only", null, {}, "text", ""],
  ["google", "an inline image", { inlineData: { mimeType: "image/png", data: PNG } }, {}, "image", ""],
  ["google", "a file by URI", { fileData: { mimeType: "image/png", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc" } }, {}, "file", "contents[0].parts[1]"],
  ["google", "inline audio", { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } }, {}, "audio", "contents[0].parts[1]"],
  ["google", "inline video", { inline_data: { mime_type: "video/mp4", data: "AAAA" } }, {}, "video", "contents[0].parts[1]"],
  ["google", "an inline PDF", { inlineData: { mimeType: "application/pdf", data: PDF } }, {}, "document", "contents[0].parts[1]"],
  ["google", "inline text (counted by its bytes)", { inlineData: { mimeType: "text/plain", data: Buffer.from("hello").toString("base64") } }, {}, "text", ""],
  ["google", "cached content", null, { cachedContent: "cachedContents/abc123" }, "cached_content", "cachedContent"],
  ["google", "Google Search grounding", null, { tools: [{ googleSearch: {} }] }, "server_tool", "tools[0]"],
  ["google", "URL context", null, { tools: [{ functionDeclarations: [{ name: "f" }] }, { urlContext: {} }] }, "server_tool", "tools[1]"],
  ["google", "function declarations (counted as text)", null, { tools: [{ functionDeclarations: [{ name: "lookup", parameters: { type: "object" } }] }] }, "text", ""],
];

const MODEL: ModelPolicy = { id: "mdl", organizationId: "org", providerAccountId: "pa", name: "m", upstreamModel: "m", price: null, maxOutputTokens: 100 };
const ACCOUNT = { name: "acct", provider: "OPENAI" as const };

describe.each(ROWS)("%s inbound with %s", (protocol, _name, part, extra, expected, path) => {
  const inbound = parseInboundChatRequest(protocol, bodyOf(protocol, part, extra), { model: "m" });
  if ("error" in inbound) throw new Error(inbound.error);
  const scan = scanInboundChatInput(inbound);

  it(expected === "text" || expected === "image" ? "is bounded from the body" : "is recorded as a part the gateway cannot size", () => {
    expect(scan.textTokens).toBeGreaterThanOrEqual(countTokens(QUESTION));
    expect(scan.attachments.images).toBe(expected === "image" ? 1 : 0);
    expect(scan.attachments.unbounded).toEqual(expected === "text" || expected === "image" ? [] : [{ kind: expected, path }]);
  });

  it(expected === "text" || expected === "image" ? "is admitted under a hard limit" : "is refused under a hard limit without a per-part bound, admitted with one", () => {
    const without = boundInputTokens(scan.textTokens, scan.attachments, [{ model: MODEL, account: ACCOUNT }], true);
    const withBound = boundInputTokens(scan.textTokens, scan.attachments, [{ model: { ...MODEL, maxInputTokensPerAttachment: 50_000, imageInputTokens: 3000 }, account: ACCOUNT }], true);
    if (expected === "text" || expected === "image") {
      expect(without).toEqual({ ok: true, tokens: scan.textTokens + (expected === "image" ? 1500 : 0) });
      expect(withBound).toEqual({ ok: true, tokens: scan.textTokens + (expected === "image" ? 3000 : 0) });
    } else {
      expect(without.ok).toBe(false);
      if (!without.ok) expect(without.message).toContain(`${path} is `);
      expect(withBound).toEqual({ ok: true, tokens: scan.textTokens + 50_000 });
    }
  });
});

describe("what the text bound counts", () => {
  const scanOf = (protocol: ChatProtocol, part: Record<string, unknown> | null, extra: Record<string, unknown> = {}) => {
    const inbound = parseInboundChatRequest(protocol, bodyOf(protocol, part, extra), { model: "m" });
    if ("error" in inbound) throw new Error(inbound.error);
    return scanInboundChatInput(inbound);
  };

  it("does not count an inline attachment's base64 bytes as text (the per-part bound replaces them)", () => {
    const big = "A".repeat(400_000);
    expect(scanOf("google", { inlineData: { mimeType: "video/mp4", data: big } }).textTokens).toBeLessThan(1000);
    expect(scanOf("openai", { type: "input_audio", input_audio: { data: big, format: "wav" } }).textTokens).toBeLessThan(1000);
  });

  it("counts every tool definition's JSON, on every protocol", () => {
    const description = "x".repeat(5000);
    expect(scanOf("openai", null, { tools: [{ type: "function", function: { name: "f", description, parameters: {} } }] }).textTokens).toBeGreaterThan(5000);
    expect(scanOf("anthropic", null, { tools: [{ name: "f", description, input_schema: {} }] }).textTokens).toBeGreaterThan(5000);
    expect(scanOf("google", null, { tools: [{ functionDeclarations: [{ name: "f", description }] }] }).textTokens).toBeGreaterThan(5000);
  });

  it("counts a structured-output schema as OpenAI's response_format is counted", () => {
    const schema = { type: "object", properties: { answer: { type: "string", description: "y".repeat(3000) } } };
    expect(scanOf("openai", null, { response_format: { type: "json_schema", json_schema: { name: "a", schema } } }).textTokens).toBeGreaterThan(3000);
    expect(scanOf("anthropic", null, { output_format: { type: "json_schema", schema } }).textTokens).toBeGreaterThan(3000);
    expect(scanOf("google", null, { generationConfig: { responseMimeType: "application/json", responseJsonSchema: schema } }).textTokens).toBeGreaterThan(3000);
    expect(scanOf("google", null, { generation_config: { response_schema: schema } }).textTokens).toBeGreaterThan(3000);
  });

  it("adds each Anthropic client built-in tool's hidden prompt (computer use is about 1,200 tokens)", () => {
    const plain = scanOf("anthropic", null).textTokens;
    const computer = scanOf("anthropic", null, { tools: [{ type: "computer_20250124", name: "computer", display_width_px: 1024, display_height_px: 768 }] });
    expect(computer.attachments.unbounded).toEqual([]);
    expect(computer.textTokens - plain).toBeGreaterThanOrEqual(2048);
  });
});
