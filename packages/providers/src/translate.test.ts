import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHAT_PROTOCOLS, type ChatProtocol, type ChatRequest, type ChatStreamEvent, type RenderContext, type StopReason } from "./chat-model.js";
import type { ProviderUsage } from "./openai/usage.js";
import { createChatStreamParser, inboundToNeutral, parseChatResponse, parseInboundChatRequest } from "./protocol.js";
import { createSseSplitter } from "./sse.js";
import { createStreamTranslator, translateRequest, translateResponse } from "./translate.js";

const load = (protocol: ChatProtocol, name: string): Buffer => readFileSync(new URL(`./${protocol}/fixtures/${name}`, import.meta.url));
const json = (protocol: ChatProtocol, name: string): unknown => JSON.parse(load(protocol, name).toString("utf8"));

const REQUEST_FIXTURE: Record<ChatProtocol, string> = { openai: "chat-request-tools.json", anthropic: "request-tools.json", google: "request-tools.json" };
const RESPONSE_FIXTURES: Record<"text" | "tool", Record<ChatProtocol, string>> = {
  text: { openai: "chat-completion.json", anthropic: "message-text.json", google: "generate-text.json" },
  tool: { openai: "chat-completion-tool-calls.json", anthropic: "message-tool-use.json", google: "generate-function-call.json" },
};
const STREAM_FIXTURES: Record<"text" | "tool", Record<ChatProtocol, string>> = {
  text: { openai: "chat-stream-usage.sse", anthropic: "stream-text.sse", google: "stream-text.sse" },
  tool: { openai: "chat-stream-tool-calls-usage.sse", anthropic: "stream-tool-use.sse", google: "stream-function-call.sse" },
};
const ctx: RenderContext = { requestId: "req_test1", model: null, nowMs: 1_750_000_000_000, includeUsage: true };
const PAIRS = CHAT_PROTOCOLS.flatMap((from) => CHAT_PROTOCOLS.map((to) => [from, to] as const));

/** The neutral request of an inbound body (Google's model comes from the path). */
function neutralOf(protocol: ChatProtocol, body: unknown, model = "m"): ChatRequest {
  const inbound = parseInboundChatRequest(protocol, body, { model, stream: false });
  if ("error" in inbound) throw new Error(inbound.error);
  const neutral = inboundToNeutral(inbound);
  if ("error" in neutral) throw new Error(neutral.error);
  return neutral;
}

/** A request without what legitimately differs across protocols (model, tool call ids). */
function comparable(req: ChatRequest): unknown {
  return {
    ...req,
    model: "*",
    messages: req.messages.map((m) =>
      m.role === "assistant"
        ? { ...m, toolCalls: m.toolCalls.map((c) => ({ ...c, id: "*", arguments: JSON.parse(c.arguments) as unknown })) }
        : m.role === "tool"
          ? { ...m, toolCallId: "*", name: null }
          : m,
    ),
  };
}

describe("translateRequest", () => {
  const canonical = comparable(neutralOf("openai", json("openai", REQUEST_FIXTURE.openai)));

  it.each(CHAT_PROTOCOLS)("parses the %s request fixture into the same neutral conversation", (p) => {
    expect(comparable(neutralOf(p, json(p, REQUEST_FIXTURE[p])))).toEqual(canonical);
  });

  it.each(PAIRS)("%s -> %s keeps system, images, tools, tool calls, tool results, stops and limits", (from, to) => {
    const t = translateRequest(from, to, json(from, REQUEST_FIXTURE[from]), { model: "gemini-2.5-flash", upstreamModel: "up-model", maxOutputTokens: 500 });
    if ("error" in t) throw new Error(t.error);
    expect(t.upstreamModel).toBe("up-model");
    const back = neutralOf(to, t.body, "up-model");
    expect(back.maxOutputTokens).toBe(500);
    expect(comparable({ ...back, maxOutputTokens: 1024 })).toEqual(canonical);
    if (to !== "google") expect(t.body["model"]).toBe("up-model");
  });

  it("keeps tool call ids across OpenAI and Anthropic and pairs Google function responses by name", () => {
    const toAnthropic = translateRequest("openai", "anthropic", json("openai", REQUEST_FIXTURE.openai));
    if ("error" in toAnthropic) throw new Error(toAnthropic.error);
    const messages = toAnthropic.body["messages"] as { role: string; content: unknown }[];
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(messages[2]?.content).toEqual([
      { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "15 degrees, light rain" },
      { type: "text", text: "Should I take an umbrella?" },
    ]);
    expect(toAnthropic.body["system"]).toBe("You are a concise weather assistant.");
    const fromGoogle = neutralOf("google", json("google", REQUEST_FIXTURE.google));
    const call = fromGoogle.messages[1];
    const result = fromGoogle.messages[2];
    expect(call?.role === "assistant" && result?.role === "tool" && call.toolCalls[0]?.id === result.toolCallId).toBe(true);
  });

  it("streams ask the OpenAI upstream for usage and pass-through keeps unknown fields", () => {
    const body = { model: "claude", max_tokens: 100, stream: true, metadata: { user_id: "u1" }, messages: [{ role: "user", content: "hi" }] };
    const same = translateRequest("anthropic", "anthropic", body, { upstreamModel: "claude-x", maxOutputTokens: 40 });
    if ("error" in same) throw new Error(same.error);
    expect(same.body).toEqual({ ...body, model: "claude-x", max_tokens: 40 });
    const toOpenAI = translateRequest("anthropic", "openai", body);
    if ("error" in toOpenAI) throw new Error(toOpenAI.error);
    expect(toOpenAI.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_tokens: 100 });
    const toGoogle = translateRequest("openai", "google", { model: "g", messages: [{ role: "user", content: "hi" }], response_format: { type: "json_object" } }, { maxOutputTokens: 7 });
    if ("error" in toGoogle) throw new Error(toGoogle.error);
    expect(toGoogle.body["generationConfig"]).toEqual({ maxOutputTokens: 7, responseMimeType: "application/json" });
  });

  it.each([
    ["openai", "anthropic", { model: "m", n: 2, messages: [{ role: "user", content: "x" }] }, "n > 1"],
    ["anthropic", "openai", { model: "m", max_tokens: 5, tools: [{ type: "web_search_20250305", name: "web_search" }], messages: [{ role: "user", content: "x" }] }, "server tool"],
    ["google", "openai", { contents: [{ parts: [{ text: "x" }] }], tools: [{ googleSearch: {} }] }, "Gemini tool"],
  ] as const)("refuses what %s cannot carry to %s", (from, to, body, what) => {
    const t = translateRequest(from, to, body, { model: "m" });
    expect("error" in t && t.error).toContain(what);
  });

  it("reports the inbound protocol's validation errors", () => {
    expect(translateRequest("anthropic", "openai", { model: "m", messages: [{ role: "user", content: "x" }] })).toEqual({ error: "max_tokens: Field required" });
  });
});

/** What a client sees in a response: text, tool calls, stop reason, usage. */
interface Summary {
  text: string;
  tools: { id: string; name: string; args: unknown }[];
  stop: StopReason | null;
  usage: ProviderUsage | null;
}

/** Summarises neutral stream events. */
function summarise(events: readonly ChatStreamEvent[]): Summary {
  const s: Summary = { text: "", tools: [], stop: null, usage: null };
  const args: string[] = [];
  for (const e of events) {
    if (e.type === "text") s.text += e.text;
    else if (e.type === "tool_call_start") {
      s.tools[e.index] = { id: e.id, name: e.name, args: null };
      args[e.index] = "";
    } else if (e.type === "tool_call_delta") args[e.index] = (args[e.index] ?? "") + e.arguments;
    else if (e.type === "stop") s.stop = e.reason;
    else if (e.type === "usage") s.usage = e.usage;
  }
  s.tools.forEach((t, i) => (t.args = JSON.parse(args[i] ?? "{}") as unknown));
  return s;
}

/** Parses a whole SSE body with a protocol's parser. */
function parseStream(protocol: ChatProtocol, bytes: Uint8Array): ChatStreamEvent[] {
  const splitter = createSseSplitter();
  const parser = createChatStreamParser(protocol);
  return [...splitter.push(bytes), ...splitter.end()].flatMap((e) => parser.parse(e));
}

/** Tool call ids do not survive Google (it has none): compare them only elsewhere. */
function withoutIds(s: Summary, keep: boolean): Summary {
  return keep ? s : { ...s, tools: s.tools.map((t) => ({ ...t, id: "*" })) };
}

describe("translateResponse", () => {
  for (const kind of ["text", "tool"] as const) {
    it.each(PAIRS)(`${kind}: %s -> %s keeps content, tool calls, stop reason and usage`, (from, to) => {
      const upstream = json(from, RESPONSE_FIXTURES[kind][from]);
      const out = translateResponse(from, to, upstream, ctx);
      const expected = parseChatResponse(from, upstream);
      const got = parseChatResponse(to, out);
      expect(expected).not.toBeNull();
      const keepIds = from !== "google" && to !== "google";
      const norm = (r: typeof got) => ({
        text: r?.parts,
        tools: r?.toolCalls.map((c) => ({ id: keepIds ? c.id : "*", name: c.name, args: JSON.parse(c.arguments) as unknown })),
        stop: r?.stopReason,
        usage: r?.usage,
      });
      expect(norm(got)).toEqual(norm(expected));
      expect(got?.stopReason).toBe(kind === "tool" ? "tool_calls" : "stop");
    });
  }

  it("renders ids, models and usage in each protocol's shape", () => {
    const anthropic = json("anthropic", "message-text.json");
    expect(translateResponse("anthropic", "openai", anthropic, { ...ctx, model: "public-name" })).toMatchObject({
      id: "msg_01XFDUDYJgAACzvnptvVoYEL",
      object: "chat.completion",
      created: 1_750_000_000,
      model: "public-name",
      usage: { prompt_tokens: 2048, completion_tokens: 11, total_tokens: 2059, prompt_tokens_details: { cached_tokens: 1920 } },
    });
    expect(translateResponse("google", "anthropic", json("google", "generate-text.json"), ctx)).toMatchObject({
      type: "message",
      stop_reason: "end_turn",
      usage: { input_tokens: 128, cache_read_input_tokens: 1920, output_tokens: 331 },
    });
    expect(translateResponse("openai", "google", json("openai", "chat-completion-tool-calls.json"), ctx)).toMatchObject({
      candidates: [
        {
          content: { role: "model", parts: [{ text: "I'll check the weather in Paris for you." }, { functionCall: { name: "get_weather", args: { city: "Paris, France", unit: "celsius" } } }] },
          finishReason: "STOP",
        },
      ],
      usageMetadata: { promptTokenCount: 472, candidatesTokenCount: 89, totalTokenCount: 561 },
    });
    expect(translateResponse("openai", "anthropic", { not: "a completion" }, ctx)).toBeNull();
  });
});

/** Feeds bytes to a translator in pieces of `size` bytes; returns everything it emitted. */
function pump(from: ChatProtocol, to: ChatProtocol, bytes: Buffer, size: number, includeUsage = true) {
  const t = createStreamTranslator({ from, to, ctx: { ...ctx, includeUsage } });
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(t.push(bytes.subarray(i, i + size)));
  out.push(t.end());
  return { translator: t, output: Buffer.concat(out) };
}

describe("stream and response fixtures parse to what they contain", () => {
  const weather = { name: "get_weather", args: { city: "Paris, France", unit: "celsius" } };
  const streams: [ChatProtocol, "text" | "tool", Partial<Summary>][] = [
    ["openai", "text", { text: load("openai", "chat-stream-text.txt").toString("utf8"), tools: [], stop: "stop", usage: { inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 21 } }],
    ["anthropic", "text", { text: "Bonjour! Voici un résumé : 東京は 🌸 «ça marche»", tools: [], stop: "stop", usage: { inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 21 } }],
    ["google", "text", { text: "Bonjour! Voici un résumé : 東京は 🌸 «ça marche»", tools: [], stop: "stop", usage: { inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 21 } }],
    ["openai", "tool", { text: "", tools: [{ id: "call_8fKqLmN2pR5sT7vX", ...weather }], stop: "tool_calls", usage: { inputTokens: 82, cachedInputTokens: 0, outputTokens: 18 } }],
    [
      "anthropic",
      "tool",
      {
        text: "I'll check the weather in Paris for you.",
        tools: [{ id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", ...weather }],
        stop: "tool_calls",
        usage: { inputTokens: 472, cachedInputTokens: 0, outputTokens: 89 },
      },
    ],
    [
      "google",
      "tool",
      { text: "I'll check the weather in Paris for you.", tools: [{ id: "call_0", ...weather }], stop: "tool_calls", usage: { inputTokens: 472, cachedInputTokens: 0, outputTokens: 89 } },
    ],
  ];
  it.each(streams)("%s %s stream", (p, kind, expected) => {
    expect(summarise(parseStream(p, load(p, STREAM_FIXTURES[kind][p])))).toEqual(expected);
  });

  it.each(CHAT_PROTOCOLS)("%s responses", (p) => {
    const text = parseChatResponse(p, json(p, RESPONSE_FIXTURES.text[p]));
    expect(text?.parts).toEqual([{ type: "text", text: "The capital of Australia is Canberra." }]);
    expect(text?.stopReason).toBe("stop");
    const tool = parseChatResponse(p, json(p, RESPONSE_FIXTURES.tool[p]));
    expect(tool?.toolCalls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as unknown }))).toEqual([weather]);
    expect(tool?.parts).toEqual([{ type: "text", text: "I'll check the weather in Paris for you." }]);
    expect(tool?.stopReason).toBe("tool_calls");
    expect(tool?.usage?.inputTokens).toBe(472);
  });
});

describe("createStreamTranslator", () => {
  for (const kind of ["text", "tool"] as const) {
    it.each(PAIRS)(`${kind}: %s -> %s streams text, tool calls, stop reason and usage`, (from, to) => {
      const upstream = load(from, STREAM_FIXTURES[kind][from]);
      const expected = summarise(parseStream(from, upstream));
      for (const size of [7, 4096]) {
        const { translator, output } = pump(from, to, upstream, size);
        const got = summarise(parseStream(to, output));
        const keepIds = from !== "google" && to !== "google";
        expect(withoutIds(got, keepIds)).toEqual(withoutIds(expected, keepIds));
        expect(translator.usage()).toEqual(expected.usage);
        expect(translator.stopReason()).toBe(kind === "tool" ? "tool_calls" : "stop");
        expect(translator.completed).toBe(true);
        if (from === to) expect(output.equals(upstream)).toBe(true);
      }
    });
  }

  it("captures completion text for counting and the usage of each protocol", () => {
    const { translator } = pump("anthropic", "google", load("anthropic", "stream-tool-use.sse"), 13);
    expect(translator.completionText()).toBe(`I'll check the weather in Paris for you.get_weather{"city": "Paris, France", "unit": "celsius"}`);
    expect(translator.usage()).toEqual({ inputTokens: 472, cachedInputTokens: 0, outputTokens: 89 });
    const g = pump("google", "openai", load("google", "stream-text.sse"), 4096).translator;
    expect(g.usage()).toEqual({ inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 21 });
  });

  it("hides the usage chunk from an OpenAI client that did not ask, whatever the upstream", () => {
    for (const from of CHAT_PROTOCOLS) {
      const { translator, output } = pump(from, "openai", load(from, STREAM_FIXTURES.text[from]), 64, false);
      expect(output.toString("utf8")).not.toContain('"usage"');
      expect(output.toString("utf8").trimEnd().endsWith("data: [DONE]")).toBe(true);
      expect(translator.usage()).not.toBeNull();
    }
  });

  it("does not close the client's stream when the upstream was cut before its stop", () => {
    const full = load("anthropic", "stream-text.sse").toString("utf8");
    const cut = Buffer.from(full.slice(0, full.indexOf("event: content_block_stop")), "utf8");
    for (const to of CHAT_PROTOCOLS) {
      const { translator, output } = pump("anthropic", to, cut, 50);
      expect(translator.completed).toBe(false);
      expect(translator.usage()).toBeNull();
      expect(translator.completionText()).toBe("Bonjour! Voici un résumé : 東京は 🌸 «ça marche»");
      const text = output.toString("utf8");
      expect(text).not.toMatch(/message_stop|\[DONE\]|finishReason/);
    }
  });

  it("keeps the prompt tokens an upstream reported before it was cut (Anthropic message_start, Gemini usageMetadata)", () => {
    for (const [from, marker] of [
      ["anthropic", "event: content_block_stop"],
      ["google", "STOP"],
    ] as const) {
      const full = load(from, STREAM_FIXTURES.text[from]).toString("utf8");
      const cut = Buffer.from(full.slice(0, full.lastIndexOf("data:", full.indexOf(marker))), "utf8");
      for (const to of CHAT_PROTOCOLS) {
        const { translator } = pump(from, to, cut, 50);
        expect(translator.usage()).toBeNull();
        expect(translator.reportedInputTokens()).toBe(1187);
        // The provider's split (1,024 cache reads) is kept, so a cut stream does not bill cache reads at the full input price.
        expect(translator.reportedInputUsage()).toEqual({ inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 0 });
      }
    }
    // The cached split of a cut Anthropic stream is kept from message_start.
    const cached =
      'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":10,"cache_read_input_tokens":90,"cache_creation_input_tokens":0,"output_tokens":1}}}\n\n';
    expect(pump("anthropic", "openai", Buffer.from(cached, "utf8"), 16).translator.reportedInputUsage()).toEqual({ inputTokens: 100, cachedInputTokens: 90, outputTokens: 0 });
    const openai = load("openai", STREAM_FIXTURES.text.openai).toString("utf8");
    const cutOpenAI = pump("openai", "anthropic", Buffer.from(openai.slice(0, openai.indexOf("data:", 200)), "utf8"), 50).translator;
    expect([cutOpenAI.usage(), cutOpenAI.reportedInputTokens(), cutOpenAI.reportedInputUsage()]).toEqual([null, null, null]);
    expect(pump("openai", "google", load("openai", STREAM_FIXTURES.text.openai), 64).translator.reportedInputTokens()).toBe(1187);
  });

  it("turns an upstream error event into the client's error event", () => {
    const err = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    const bytes = Buffer.concat([load("anthropic", "stream-text.sse").subarray(0, 400), Buffer.from(`\n\n${err}`)]);
    expect(pump("anthropic", "openai", bytes, 4096).output.toString()).toContain('data: {"error":{"message":"Overloaded"');
    expect(pump("anthropic", "google", bytes, 4096).output.toString()).toContain('"status":"INTERNAL"');
  });
});
