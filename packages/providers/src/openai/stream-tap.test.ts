import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createOpenAIStreamTap, type OpenAIStreamTap } from "./stream-tap.js";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** Feeds `bytes` in pieces cut at `cuts`, returns everything forwarded. */
function feed(tap: OpenAIStreamTap, bytes: Buffer, cuts: number[]): Buffer {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(tap.push(bytes.subarray(from, cut)));
    from = cut;
  }
  out.push(tap.end());
  return Buffer.concat(out);
}

const USAGE = { inputTokens: 1187, cachedInputTokens: 1024, outputTokens: 21 };
const TOOL_USAGE = { inputTokens: 82, cachedInputTokens: 0, outputTokens: 18 };

describe("createOpenAIStreamTap", () => {
  const withUsage = fixture("chat-stream-usage.sse");
  const plain = fixture("chat-stream-plain.sse");
  const text = fixture("chat-stream-text.txt").toString("utf8");

  it("at every byte boundary: hides forced usage, captures it, rebuilds the text, forwards [DONE]", () => {
    for (let cut = 0; cut <= withUsage.length; cut++) {
      const tap = createOpenAIStreamTap({ clientWantsUsage: false });
      const out = feed(tap, withUsage, [cut]);
      expect(out.equals(plain)).toBe(true);
      expect(tap.usage()).toEqual(USAGE);
      expect(tap.completionText()).toBe(text);
      expect(tap.sawDone).toBe(true);
    }
  });

  it("at every byte boundary: forwards the stream unchanged when the client asked for usage", () => {
    for (let cut = 0; cut <= withUsage.length; cut++) {
      const tap = createOpenAIStreamTap({ clientWantsUsage: true });
      expect(feed(tap, withUsage, [cut]).equals(withUsage)).toBe(true);
      expect(tap.usage()).toEqual(USAGE);
    }
  });

  it("byte by byte and in three-way splits, with tool calls and a field after usage", () => {
    const tools = fixture("chat-stream-tool-calls-usage.sse");
    const toolsPlain = fixture("chat-stream-tool-calls-plain.sse");
    const oneByOne = createOpenAIStreamTap({ clientWantsUsage: false });
    expect(
      feed(
        oneByOne,
        tools,
        Array.from({ length: tools.length - 1 }, (_, i) => i + 1),
      ).equals(toolsPlain),
    ).toBe(true);
    expect(oneByOne.usage()).toEqual(TOOL_USAGE);
    expect(oneByOne.completionText()).toBe('get_weather{"city":"Paris, France","unit":"celsius"}');
    for (let a = 0; a < tools.length; a += 97) {
      for (let b = a; b < tools.length; b += 131) {
        const tap = createOpenAIStreamTap({ clientWantsUsage: false });
        expect(feed(tap, tools, [a, b]).equals(toolsPlain)).toBe(true);
      }
    }
  });

  it("passes an upstream stream without usage through untouched and reports no usage", () => {
    const tap = createOpenAIStreamTap({ clientWantsUsage: false });
    expect(feed(tap, plain, [100, 2000]).equals(plain)).toBe(true);
    expect(tap.usage()).toBeNull();
    expect(tap.completionText()).toBe(text);
  });

  it("handles CRLF line ends, comments, a choices:[] chunk without usage, and a cut stream", () => {
    const crlf = Buffer.from(
      [
        ": keep-alive",
        "",
        'data: {"id":"a","choices":[],"prompt_filter_results":[{"prompt_index":0}],"usage":null}',
        "",
        'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}',
        "",
        'data: {"id":"a","choices":[{"index":0,"delta":{"content":" there"}}], "usage" : null , "x":1}',
        "",
        "",
      ].join("\r\n"),
    );
    const tap = createOpenAIStreamTap({ clientWantsUsage: false });
    const out = feed(tap, crlf, [3, 60, 61, 150]).toString("utf8");
    expect(out).toBe(
      [
        ": keep-alive",
        "",
        'data: {"id":"a","choices":[],"prompt_filter_results":[{"prompt_index":0}]}',
        "",
        'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hi"}}]}',
        "",
        'data: {"id":"a","choices":[{"index":0,"delta":{"content":" there"}}] , "x":1}',
        "",
        "",
      ].join("\r\n"),
    );
    expect(tap.completionText()).toBe("Hi there");
    expect(tap.sawDone).toBe(false);
    expect(tap.usage()).toBeNull();
  });

  it("flushes a final event that lacks its blank line and keeps per-choice text apart", () => {
    const body =
      'data: {"choices":[{"index":1,"delta":{"content":"B"}},{"index":0,"delta":{"content":"A"}}]}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n' +
      "data: [DONE]";
    const tap = createOpenAIStreamTap({ clientWantsUsage: false });
    const out = feed(tap, Buffer.from(body), [10]).toString("utf8");
    expect(out).toBe('data: {"choices":[{"index":1,"delta":{"content":"B"}},{"index":0,"delta":{"content":"A"}}]}\n\ndata: [DONE]');
    expect(tap.sawDone).toBe(true);
    expect(tap.usage()).toEqual({ inputTokens: 5, cachedInputTokens: 0, outputTokens: 2 });
    expect(tap.completionText()).toBe("A\nB");
  });
});
