/**
 * A byte-level Server-Sent Events splitter: finds event boundaries (a blank line, with LF, CRLF or
 * CR line ends) across arbitrary chunk boundaries, including inside multi-byte UTF-8 characters.
 */

/** One complete event: its exact bytes (terminating blank line included) and its data payload. */
export interface SseEvent {
  readonly raw: Buffer;
  /** The `data:` lines joined by "\n" (one leading space stripped per line); null when none. */
  readonly data: string | null;
  /** The event's text, decoded from `raw`. */
  readonly text: string;
}

/** Incremental splitter: feed bytes, get complete events. */
export interface SseSplitter {
  /** Adds bytes; returns the events they completed. */
  push(chunk: Uint8Array): SseEvent[];
  /** Flushes the tail: a trailing event without its blank line is returned too. */
  end(): SseEvent[];
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** Decodes one event's bytes into an `SseEvent`. */
export function parseSseEvent(raw: Buffer): SseEvent {
  const text = raw.toString("utf8");
  const data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.startsWith("data:")) data.push(line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5));
  }
  return { raw, text, data: data.length > 0 ? data.join("\n") : null };
}

/** Creates a splitter with its own buffer. */
export function createSseSplitter(): SseSplitter {
  let pending: Buffer = EMPTY;
  let scanFrom = 0;
  let lineEnded = false;

  const scan = (final: boolean): SseEvent[] => {
    const events: SseEvent[] = [];
    const buf = pending;
    let start = 0;
    let i = scanFrom;
    for (; i < buf.length; i++) {
      const b = buf[i];
      if (b !== LF && b !== CR) {
        lineEnded = false;
        continue;
      }
      if (b === CR) {
        if (i + 1 >= buf.length && !final) break;
        if (buf[i + 1] === LF) i++;
      }
      if (lineEnded) {
        events.push(parseSseEvent(buf.subarray(start, i + 1)));
        start = i + 1;
        lineEnded = false;
      } else {
        lineEnded = true;
      }
    }
    pending = start === 0 ? buf : buf.subarray(start);
    scanFrom = i - start;
    return events;
  };

  return {
    push(chunk: Uint8Array): SseEvent[] {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      pending = pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([pending, bytes]);
      return scan(false);
    },
    end(): SseEvent[] {
      const events = scan(true);
      if (pending.length > 0) events.push(parseSseEvent(pending));
      pending = EMPTY;
      scanFrom = 0;
      lineEnded = false;
      return events;
    },
  };
}
