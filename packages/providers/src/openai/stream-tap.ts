/**
 * A pass-through processor for OpenAI chat completion streams: forwards the upstream's SSE bytes,
 * captures the usage chunk and the generated text, and hides what the gateway added for itself.
 */
import { createSseSplitter, type SseEvent } from "../sse.js";
import { collectGeneratedText, extractOpenAIUsage, isJsonObject, type ProviderUsage } from "./usage.js";

/** Options of `createOpenAIStreamTap`. */
export interface OpenAIStreamTapOptions {
  /** The client itself asked for `stream_options.include_usage`; false = hide the usage the gateway forced. */
  readonly clientWantsUsage: boolean;
}

/** A stream tap; one per upstream response. */
export interface OpenAIStreamTap {
  /** Feeds upstream bytes; returns the bytes to forward to the client now (complete events only). */
  push(chunk: Uint8Array): Uint8Array;
  /** Ends the stream; returns whatever remained (a trailing event without its blank line). */
  end(): Uint8Array;
  /** The usage the upstream reported (the last usage object seen), null when none arrived. */
  usage(): ProviderUsage | null;
  /** Generated text so far (content, refusal, tool call names and arguments), choices joined by "\n". */
  completionText(): string;
  /** True once `data: [DONE]` went through. */
  readonly sawDone: boolean;
}

const DONE = "[DONE]";
const USAGE_NULL_TAIL = ',"usage":null}';
const USAGE_NULL_PATTERN = /,\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,/g;

/** The chunk's JSON without its top-level `"usage": null`, keeping the upstream's bytes when possible. */
function stripUsageNull(json: string, parsed: Record<string, unknown>): string {
  const trimmed = json.trimEnd();
  if (trimmed.endsWith(USAGE_NULL_TAIL)) return trimmed.slice(0, -USAGE_NULL_TAIL.length) + "}";
  const rest: Record<string, unknown> = { ...parsed };
  delete rest["usage"];
  const expected = JSON.stringify(rest);
  const matches = json.match(USAGE_NULL_PATTERN);
  if (matches !== null && matches.length === 1) {
    const candidate = json.replace(USAGE_NULL_PATTERN, "");
    try {
      if (JSON.stringify(JSON.parse(candidate)) === expected) return candidate;
    } catch {
      // fall through to re-serialisation
    }
  }
  return expected;
}

/** Replaces the single data payload of an event, keeping its other lines and terminators. */
function rewriteEventData(event: SseEvent, data: string, newData: string): Buffer {
  const at = event.text.indexOf(data);
  if (at < 0 || data.includes("\n")) return Buffer.from(`data: ${newData}\n\n`, "utf8");
  return Buffer.from(event.text.slice(0, at) + newData + event.text.slice(at + data.length), "utf8");
}

/**
 * Creates a tap. Events are forwarded byte for byte, except when the client did not ask for usage:
 * the usage-only chunk (`choices: []` with a `usage` object) is dropped and `"usage": null` is
 * removed from the other chunks, so the client sees what the upstream sends without
 * `stream_options`. Non-JSON data, comments and `data: [DONE]` pass unchanged.
 */
export function createOpenAIStreamTap(opts: OpenAIStreamTapOptions): OpenAIStreamTap {
  const splitter = createSseSplitter();
  const texts = new Map<number, string>();
  let captured: ProviderUsage | null = null;
  let done = false;

  const collect = (choices: unknown): void => {
    if (!Array.isArray(choices)) return;
    for (const choice of choices) {
      if (!isJsonObject(choice)) continue;
      const piece = collectGeneratedText(choice["delta"]);
      if (piece.length === 0) continue;
      const index = typeof choice["index"] === "number" && Number.isInteger(choice["index"]) ? choice["index"] : 0;
      texts.set(index, (texts.get(index) ?? "") + piece);
    }
  };

  /** The bytes to forward for one event (possibly none). */
  const process = (event: SseEvent): Buffer | null => {
    const data = event.data;
    if (data === null) return event.raw;
    if (data.trim() === DONE) {
      done = true;
      return event.raw;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return event.raw;
    }
    if (!isJsonObject(parsed)) return event.raw;
    collect(parsed["choices"]);
    const usage = parsed["usage"];
    if (isJsonObject(usage)) captured = extractOpenAIUsage(parsed) ?? captured;
    if (opts.clientWantsUsage || !("usage" in parsed)) return event.raw;
    const choices = parsed["choices"];
    if (isJsonObject(usage) && Array.isArray(choices) && choices.length === 0) return null;
    if (usage !== null) return event.raw;
    return rewriteEventData(event, data, stripUsageNull(data, parsed));
  };

  const run = (events: SseEvent[]): Uint8Array => {
    if (events.length === 1) {
      const only = events[0];
      return only === undefined ? new Uint8Array(0) : (process(only) ?? new Uint8Array(0));
    }
    const out: Buffer[] = [];
    for (const event of events) {
      const bytes = process(event);
      if (bytes !== null) out.push(bytes);
    }
    return out.length === 0 ? new Uint8Array(0) : Buffer.concat(out);
  };

  return {
    push: (chunk) => run(splitter.push(chunk)),
    end: () => run(splitter.end()),
    usage: () => captured,
    completionText: () =>
      [...texts.entries()]
        .sort((a, b) => a[0] - b[0])
        .map((e) => e[1])
        .join("\n"),
    get sawDone() {
      return done;
    },
  };
}
