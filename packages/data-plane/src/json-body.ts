/**
 * Request bodies as JSON, refused with a message that says what was wrong before anything else
 * reads them: empty, not UTF-8, nested deeper than a limit (measured by one linear scan before
 * parsing, so no parser or later walk can overflow the stack), not JSON, or carrying a key that
 * could change an object's prototype (`__proto__`, `constructor.prototype`: refused, never
 * dropped silently, so what reaches the upstream is what the caller sent).
 */
import secureJson from "secure-json-parse";
import { GatewayError } from "./gateway-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest nesting of objects and arrays in JSON `text` (strings skipped, escapes honoured),
 * stopping early once it passes `limit`. Linear time, constant stack; malformed text is left to
 * the parser.
 */
export function measureJsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return deepest;
}

function refuse(message: string): GatewayError {
  return new GatewayError("invalid_request", message);
}

function refusePrototypeKey(key: string): GatewayError {
  return refuse(`the request body contains the key "${key}", which is refused: keys that could change an object's prototype are not accepted`);
}

/** secure-json-parse's message for a prototype key. */
const FORBIDDEN = "Object contains forbidden prototype property";
/** `constructor` as a key, possibly spelled with escapes (the scan runs only then). */
const SUSPECT_CONSTRUCTOR = /constructor|\\u/;

/**
 * Parses a request body as JSON with the checks above; throws a `GatewayError`
 * (`invalid_request`, 400) whose message names the problem.
 */
export function parseJsonBody(bytes: Buffer, maxDepth: number): unknown {
  if (bytes.length === 0) throw refuse("the request body is empty");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw refuse("the request body is not valid UTF-8");
  }
  if (text.trim() === "") throw refuse("the request body is empty");
  if (measureJsonDepth(text, maxDepth) > maxDepth) {
    throw refuse(`the request body nests objects and arrays deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    // secure-json-parse is JSON.parse plus a scan for `__proto__` keys (skipped when the text has none).
    value = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "ignore" });
  } catch (err) {
    if ((err as Error).message === FORBIDDEN) throw refusePrototypeKey("__proto__");
    throw refuse("the request body is not valid JSON");
  }
  if (SUSPECT_CONSTRUCTOR.test(text) && value !== null && typeof value === "object") {
    try {
      secureJson.scan(value, { protoAction: "ignore", constructorAction: "error" });
    } catch {
      throw refusePrototypeKey("constructor.prototype");
    }
  }
  return value;
}
