import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ChatProtocol, ChatRequest } from "../chat-model.js";
import { inboundToNeutral, parseChatResponse, parseInboundChatRequest } from "../protocol.js";
import { createSseSplitter } from "../sse.js";
import { translateStreamWith } from "../translate.js";
import { parseResponsesRequest, responsesRequestToNeutral } from "./responses-request.js";
import { createResponsesStreamRenderer, neutralToResponsesResponse, type ResponsesRenderContext } from "./responses-response.js";

const load = (protocol: ChatProtocol, name: string): Buffer => readFileSync(new URL(`../${protocol}/fixtures/${name}`, import.meta.url));
const json = (protocol: ChatProtocol, name: string): unknown => JSON.parse(load(protocol, name).toString("utf8"));

function neutralOfResponses(body: unknown): ChatRequest {
  const parsed = parseResponsesRequest(body);
  if ("error" in parsed) throw new Error(parsed.error);
  const neutral = responsesRequestToNeutral(parsed);
  if ("error" in neutral) throw new Error(neutral.error);
  return neutral;
}

const ctx: ResponsesRenderContext = { requestId: "req_abc123", model: "public-model", nowMs: 1_750_000_000_000, request: { model: "public-model", input: "x", max_output_tokens: 300 } };

/** The SSE events of a Responses stream: `{event, data}`. */
function eventsOf(bytes: Buffer): { event: string; data: Record<string, unknown> }[] {
  const splitter = createSseSplitter();
  const events = [...splitter.push(bytes), ...splitter.end()];
  return events.map((e) => ({ event: /^event: (.*)$/m.exec(e.text)?.[1] ?? "", data: JSON.parse(e.data ?? "{}") as Record<string, unknown> }));
}

describe("Responses API requests", () => {
  it("parses the tools fixture into the same neutral conversation as the Chat Completions fixture", () => {
    const chat = parseInboundChatRequest("openai", json("openai", "chat-request-tools.json"));
    if ("error" in chat) throw new Error(chat.error);
    const canonical = inboundToNeutral(chat) as ChatRequest;
    const fromResponses = neutralOfResponses(json("openai", "responses-request-tools.json"));
    // Responses has no stop sequences, and names the called tool on its result.
    expect({ ...fromResponses, stopSequences: canonical.stopSequences }).toEqual({
      ...canonical,
      messages: canonical.messages.map((m) => (m.role === "tool" ? { ...m, name: "get_weather" } : m)),
    });
  });

  it("takes a plain string input, developer/system messages, JSON format, tool_choice and stream", () => {
    expect(neutralOfResponses({ model: "m", input: "hi", max_output_tokens: 20 })).toMatchObject({
      system: [],
      messages: [{ role: "user", parts: [{ type: "text", text: "hi" }] }],
      maxOutputTokens: 20,
      stream: false,
      jsonOutput: false,
    });
    const n = neutralOfResponses({
      model: "m",
      stream: true,
      instructions: "A",
      text: { format: { type: "json_object" } },
      tool_choice: { type: "function", name: "f" },
      tools: [{ type: "function", name: "f" }],
      input: [
        { role: "developer", content: "B" },
        { type: "reasoning", id: "rs_1", summary: [] },
        { role: "user", content: [{ type: "input_text", text: "C" }] },
      ],
    });
    expect(n).toMatchObject({ system: ["A", "B"], stream: true, jsonOutput: true, toolChoice: { type: "tool", name: "f" }, tools: [{ name: "f", parameters: { type: "object", properties: {} } }] });
    expect(n.messages).toHaveLength(1);
  });

  it.each([
    [{ input: "x" }, "'model' is required"],
    [{ model: "m" }, "'input' is required"],
    [{ model: "m", input: [] }, "'input' must be a string or a non-empty array"],
    [{ model: "m", input: "x", max_output_tokens: 0 }, "'max_output_tokens' must be a positive integer"],
    [{ model: "m", input: "x", previous_response_id: "resp_1" }, "'previous_response_id' is not supported"],
  ])("refuses %j", (body, message) => {
    const parsed = parseResponsesRequest(body);
    expect("error" in parsed && parsed.error).toContain(message);
  });

  it.each([
    [{ model: "m", input: "x", tools: [{ type: "web_search_preview" }] }, "only function tools"],
    [{ model: "m", input: [{ type: "item_reference", id: "msg_1" }] }, "'item_reference' are not supported"],
    [{ model: "m", input: [{ role: "user", content: [{ type: "input_file", file_id: "file_1" }] }] }, "'input_file' is not supported"],
    [{ model: "m", input: [{ type: "reasoning", id: "rs_1", summary: [] }] }, "at least one message"],
  ])("refuses what it cannot carry: %j", (body, message) => {
    const parsed = parseResponsesRequest(body);
    if ("error" in parsed) throw new Error(parsed.error);
    const neutral = responsesRequestToNeutral(parsed);
    expect("error" in neutral && neutral.error).toContain(message);
  });
});

describe("Responses API answers", () => {
  it("renders a tool-using answer as a message and a function_call item with usage", () => {
    const neutral = parseChatResponse("anthropic", json("anthropic", "message-tool-use.json"));
    if (neutral === null) throw new Error("fixture did not parse");
    const res = neutralToResponsesResponse(neutral, ctx);
    expect(res).toMatchObject({
      id: "resp_abc123",
      object: "response",
      created_at: 1_750_000_000,
      status: "completed",
      model: "public-model",
      max_output_tokens: 300,
      output: [
        { type: "message", id: "msg_abc123", role: "assistant", status: "completed", content: [{ type: "output_text", text: "I'll check the weather in Paris for you.", annotations: [] }] },
        { type: "function_call", call_id: "toolu_01A09q90qw90lq917835lq9", name: "get_weather", status: "completed" },
      ],
      usage: { input_tokens: 472, output_tokens: 89, total_tokens: 561, input_tokens_details: { cached_tokens: 0 } },
    });
    const call = (res["output"] as Record<string, unknown>[])[1]!;
    expect(JSON.parse(call["arguments"] as string)).toEqual({ city: "Paris, France", unit: "celsius" });
  });

  it("marks a length stop as incomplete (max_output_tokens)", () => {
    const res = neutralToResponsesResponse({ id: "x", model: "m", parts: [{ type: "text", text: "abc" }], toolCalls: [], reasoning: "", stopReason: "length", usage: null }, ctx);
    expect(res).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage: { input_tokens: 0, output_tokens: 0 } });
  });

  it.each([
    ["anthropic", "stream-tool-use.sse"],
    ["google", "stream-function-call.sse"],
    ["openai", "chat-stream-tool-calls-usage.sse"],
  ] as const)("streams a %s upstream as Responses events ending in response.completed with usage", (from, fixture) => {
    const upstream = load(from, fixture);
    for (const size of [9, 4096]) {
      const t = translateStreamWith(from, createResponsesStreamRenderer(ctx));
      const out: Uint8Array[] = [];
      for (let i = 0; i < upstream.length; i += size) out.push(t.push(upstream.subarray(i, i + size)));
      out.push(t.end());
      const events = eventsOf(Buffer.concat(out));
      expect(events[0]).toMatchObject({ event: "response.created", data: { type: "response.created", response: { id: "resp_abc123", status: "in_progress", output: [] } } });
      expect(events.map((e) => e.data["sequence_number"])).toEqual(events.map((_, i) => i));
      for (const e of events) expect(e.data["type"]).toBe(e.event);
      const done = events.at(-1)!;
      expect(done.event).toBe("response.completed");
      const response = done.data["response"] as { output: Record<string, unknown>[]; usage: Record<string, unknown>; status: string };
      expect(response.usage).toEqual({
        input_tokens: t.usage()!.inputTokens,
        input_tokens_details: { cached_tokens: t.usage()!.cachedInputTokens },
        output_tokens: t.usage()!.outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: t.usage()!.inputTokens + t.usage()!.outputTokens,
      });
      const call = response.output.find((o) => o["type"] === "function_call")!;
      expect(call).toMatchObject({ name: "get_weather", status: "completed" });
      expect(JSON.parse(call["arguments"] as string)).toMatchObject({ city: "Paris, France" });
      const argDeltas = events
        .filter((e) => e.event === "response.function_call_arguments.delta")
        .map((e) => e.data["delta"])
        .join("");
      expect(argDeltas).toBe(call["arguments"]);
      const text = events
        .filter((e) => e.event === "response.output_text.delta")
        .map((e) => e.data["delta"])
        .join("");
      const message = response.output.find((o) => o["type"] === "message");
      if (text.length > 0) expect((message?.["content"] as { text: string }[])[0]!.text).toBe(text);
      const added = events.filter((e) => e.event === "response.output_item.added").length;
      expect(events.filter((e) => e.event === "response.output_item.done")).toHaveLength(added);
    }
  });

  it("does not complete a cut stream, and turns an upstream error into an error event", () => {
    const full = load("anthropic", "stream-text.sse").toString("utf8");
    const t = translateStreamWith("anthropic", createResponsesStreamRenderer(ctx));
    const cut = eventsOf(Buffer.from(t.push(Buffer.from(full.slice(0, full.indexOf("event: content_block_stop"))))));
    expect(cut.map((e) => e.event)).not.toContain("response.completed");
    expect(cut.filter((e) => e.event === "response.output_text.delta").length).toBeGreaterThan(0);
    const e = translateStreamWith("anthropic", createResponsesStreamRenderer(ctx));
    const err = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    const events = eventsOf(Buffer.from(e.push(Buffer.from(err))));
    expect(events.at(-1)).toMatchObject({ event: "error", data: { type: "error", code: "upstream_error", message: "Overloaded" } });
  });
});
