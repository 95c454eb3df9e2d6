import { describe, expect, it } from "vitest";
import { createCredentialScrubber, REDACTED } from "./credential-scrubber.js";

const KEY = "sk-proj-Zq8xW3rT5yU7iO9pA1sD2fG4hJ6kL0mN";
const scrubber = createCredentialScrubber([KEY]);

/** True when no 8-character piece of KEY is left in `text`. */
function holdsNoPiece(text: string): boolean {
  for (let i = 0; i + 8 <= KEY.length; i++) if (text.includes(KEY.slice(i, i + 8))) return false;
  return true;
}

describe("scrubText", () => {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  it.each([
    ["the key as sent", `Incorrect API key provided: ${KEY}.`, "Incorrect API key provided: [redacted]."],
    ["a Bearer header echoed", `header was "Bearer ${KEY}"`, 'header was "Bearer [redacted]"'],
    ["URL-encoded", `url ?key=${encodeURIComponent(`${KEY}/+`)}`, null],
    ["base64 of user:key", `basic ${b64(`user:${KEY}`)} refused`, `basic ${REDACTED} refused`],
    ["base64 at offset 1", `x ${b64(`a${KEY}`)} y`, `x ${REDACTED} y`],
    ["base64 at offset 2", `x ${b64(`ab${KEY}`)} y`, `x ${REDACTED} y`],
    ["base64url", `x ${Buffer.from(`u:${KEY}`).toString("base64url")} y`, `x ${REDACTED} y`],
    ["a provider's masked echo (prefix kept)", `Incorrect API key provided: ${KEY.slice(0, 12)}****************${KEY.slice(-4)}. See docs.`, `Incorrect API key provided: ${REDACTED} See docs.`],
    ["a piece in the middle of a word", `token=abc${KEY.slice(10, 22)}xyz`, REDACTED],
    ["the key twice", `${KEY} and ${KEY}`, `${REDACTED} and ${REDACTED}`],
  ])("removes %s and keeps the reason", (_name, input, expected) => {
    const out = scrubber.scrubText(input);
    expect(holdsNoPiece(out)).toBe(true);
    expect(out).not.toContain(b64(`user:${KEY}`).slice(8, 24));
    if (expected !== null) expect(out).toBe(expected);
  });

  it("removes a URL-encoded key with reserved characters", () => {
    const odd = "k3y/with+plus=and/slash&amp";
    const s = createCredentialScrubber([odd]);
    expect(s.scrubText(`sent ${encodeURIComponent(odd)} and ${encodeURIComponent(odd).toLowerCase()}`)).toBe(`sent ${REDACTED} and ${REDACTED}`);
  });

  it("removes the JSON-escaped form of a key with quotes and backslashes", () => {
    const odd = 'ab"cd\\ef/gh12';
    const s = createCredentialScrubber([odd]);
    const escaped = JSON.stringify(odd).slice(1, -1);
    expect(s.scrubText(`raw ${odd} json ${escaped} php ${escaped.replaceAll("/", "\\/")}`)).toBe(`raw ${REDACTED} json ${REDACTED} php ${REDACTED}`);
  });

  it("leaves ordinary text, short secrets and other keys alone", () => {
    const text = "This model's maximum context length is 128000 tokens. Please reduce the length of the messages.";
    expect(scrubber.scrubText(text)).toBe(text);
    expect(createCredentialScrubber(["abc", ""]).scrubText("abc abcabc")).toBe("abc abcabc");
    expect(scrubber.scrubText("another key sk-live-00000000000000")).toBe("another key sk-live-00000000000000");
    // A public prefix as long as a fragment ("sk-proj-") counts as a piece: over-redaction is the safe side.
    expect(scrubber.scrubText("keys look like sk-proj-...")).toBe(`keys look like ${REDACTED}`);
  });

  it("scrubs every secret it was given (credential and header values)", () => {
    const s = createCredentialScrubber([KEY, "azure-api-key-value-42"]);
    expect(s.scrubText(`a=${KEY} b=azure-api-key-value-42`)).toBe(`a=${REDACTED} b=${REDACTED}`);
  });
});

describe("scrubJson", () => {
  it("scrubs strings and keys at any depth and returns the same object when clean", () => {
    const dirty = { error: { message: `bad key ${KEY}`, param: [KEY, 1, null], [KEY]: true } };
    const out = scrubber.scrubJson(dirty);
    expect(JSON.stringify(out)).not.toContain(KEY.slice(0, 8));
    expect(out).toEqual({ error: { message: `bad key ${REDACTED}`, param: [REDACTED, 1, null], [REDACTED]: true } });
    const clean = { a: { b: ["c"] } };
    expect(scrubber.scrubJson(clean)).toBe(clean);
  });

  it("drops hostile nesting instead of overflowing the stack", () => {
    let deep: unknown = `x ${KEY}`;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(scrubber.scrubJson(deep)).toBeNull();
  });

  it("scrubs a deeply nested SSE payload as text", () => {
    const payload = `${"[".repeat(5_000)}"${KEY}"${"]".repeat(5_000)}`;
    const out = Buffer.from(scrubber.scrubSseChunk(Buffer.from(`data: ${payload}\n\n`))).toString("utf8");
    expect(out).not.toContain(KEY.slice(0, 8));
    expect(out).toContain(REDACTED);
  });
});

describe("scrubSseChunk", () => {
  it("returns the very same bytes when no credential or error is in them", () => {
    const chunk = Buffer.from('data: {"choices":[{"delta":{"content":"hello"}}]}\n\n');
    expect(scrubber.scrubSseChunk(chunk)).toBe(chunk);
  });

  it("scrubs a mid-stream error event, keeping valid JSON, the event name and the reason", () => {
    const events = `event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ${KEY.slice(0, 10)}***"}}\n\ndata: {"error":{"message":"Incorrect key \\n${KEY}"}}\r\n\r\n`;
    const out = Buffer.from(scrubber.scrubSseChunk(Buffer.from(events))).toString("utf8");
    expect(holdsNoPiece(out)).toBe(true);
    const [first, second] = out.split(/\n\n|\r\n\r\n/);
    expect(first?.startsWith("event: error\ndata: ")).toBe(true);
    expect(JSON.parse(first?.slice("event: error\ndata: ".length) ?? "")).toEqual({ type: "error", error: { type: "authentication_error", message: `invalid x-api-key ${REDACTED}` } });
    expect(JSON.parse(second?.slice("data: ".length) ?? "")).toEqual({ error: { message: `Incorrect key \n${REDACTED}` } });
    expect(out.endsWith("\r\n\r\n")).toBe(true);
  });

  it("scrubs a credential outside an error and in non-JSON data", () => {
    const out = Buffer.from(scrubber.scrubSseChunk(Buffer.from(`: ${KEY}\ndata: plain ${KEY}\n\n`))).toString("utf8");
    expect(out).toBe(`: ${REDACTED}\ndata: plain ${REDACTED}\n\n`);
  });
});
