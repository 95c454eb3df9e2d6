/**
 * Removing the gateway's upstream credentials from anything an upstream sends back before it is
 * relayed: the credential as sent, its JSON-escaped, URL-encoded and base64 forms (any alignment,
 * so `base64("user:" + key)` too), and any run of at least `MIN_FRAGMENT_LENGTH` of its characters
 * (a provider's own masking such as `sk-abc12****wxyz` keeps a prefix). Pure and lazy: the forms
 * are computed on first use, so a request whose upstream never errs pays nothing.
 */

/** What replaces a credential, or a token holding a piece of one, in relayed text. */
export const REDACTED = "[redacted]";

/** Shortest secret acted on: shorter values would garble ordinary text and protect nothing. */
export const MIN_SECRET_LENGTH = 4;

/** Shortest run of a secret's characters that counts as a leaked piece of it. */
export const MIN_FRAGMENT_LENGTH = 8;

/** Deepest JSON nesting scrubbed value by value; deeper payloads are scrubbed as text. */
const MAX_JSON_DEPTH = 64;

/** Scrubs one request's credentials out of upstream text, JSON values and SSE chunks. */
export interface CredentialScrubber {
  /** A plain (decoded) string with every form and fragment of a credential replaced by `REDACTED`. */
  scrubText(text: string): string;
  /** A JSON value with every string (and key) scrubbed; the same value when nothing changed; null when nested deeper than 64. */
  scrubJson(value: unknown): unknown;
  /**
   * Complete SSE events with credentials removed: the bytes unchanged (same object) unless a
   * credential form or an `error` appears; then each `data:` payload is scrubbed as JSON
   * (re-serialized only when it changed) and other lines as text.
   */
  scrubSseChunk(chunk: Uint8Array): Uint8Array;
}

interface Forms {
  /** Exact forms, replaced where found. */
  readonly exact: readonly string[];
  /** Base64 cores: the whole base64 token around one is replaced. */
  readonly base64: readonly string[];
  /** Every form as bytes, for the stream fast path. */
  readonly bytes: readonly Buffer[];
  /** Every `MIN_FRAGMENT_LENGTH`-long piece of each secret. */
  readonly fragments: ReadonlySet<string>;
}

/** Runs of characters a credential or a masked echo of one is made of. */
const TOKEN_RUN = /[A-Za-z0-9_\-.~+/=*]{8,}/g;
const BASE64_CHAR = /[A-Za-z0-9+/=_-]/;
const ERROR_MARK = Buffer.from("error");

/** The part of `base64(pad + secret)` that is the same whatever the `pad` bytes are (`pad` of length `offset`). */
function base64Core(secret: Buffer, offset: number, url: boolean): string {
  const padded = Buffer.concat([Buffer.alloc(offset), secret]);
  const encoded = padded.toString(url ? "base64url" : "base64");
  const full = 4 * Math.floor(padded.length / 3);
  return encoded.slice(offset === 0 ? 0 : 4, full);
}

function computeForms(secrets: readonly string[]): Forms {
  const exact = new Set<string>();
  const base64 = new Set<string>();
  const fragments = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    const json = JSON.stringify(secret).slice(1, -1);
    const url = encodeURIComponent(secret);
    for (const form of [secret, json, json.replaceAll("/", "\\/"), url, url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())]) exact.add(form);
    const bytes = Buffer.from(secret, "utf8");
    for (const offset of [0, 1, 2]) {
      for (const urlSafe of [false, true]) {
        const core = base64Core(bytes, offset, urlSafe);
        if (core.length >= MIN_FRAGMENT_LENGTH) base64.add(core);
      }
    }
    for (let i = 0; i + MIN_FRAGMENT_LENGTH <= secret.length; i++) fragments.add(secret.slice(i, i + MIN_FRAGMENT_LENGTH));
  }
  // Longest first, so a form containing another is replaced whole.
  const byLength = (a: string, b: string): number => b.length - a.length;
  const exactList = [...exact].sort(byLength);
  const base64List = [...base64].sort(byLength);
  return { exact: exactList, base64: base64List, bytes: [...exactList, ...base64List].map((f) => Buffer.from(f, "utf8")), fragments };
}

/** `text` with each base64 token containing `core` replaced whole. */
function replaceBase64Tokens(text: string, core: string): string {
  let out = text;
  let at = out.indexOf(core);
  while (at >= 0) {
    let start = at;
    let end = at + core.length;
    while (start > 0 && BASE64_CHAR.test(out.charAt(start - 1))) start--;
    while (end < out.length && BASE64_CHAR.test(out.charAt(end))) end++;
    out = out.slice(0, start) + REDACTED + out.slice(end);
    at = out.indexOf(core, start + REDACTED.length);
  }
  return out;
}

/** True when `run` holds a piece of a secret. */
function holdsFragment(run: string, fragments: ReadonlySet<string>): boolean {
  for (let i = 0; i + MIN_FRAGMENT_LENGTH <= run.length; i++) {
    if (fragments.has(run.slice(i, i + MIN_FRAGMENT_LENGTH))) return true;
  }
  return false;
}

/** Creates a scrubber for `secrets` (credentials and any other value the gateway sent upstream). */
export function createCredentialScrubber(secrets: readonly string[]): CredentialScrubber {
  let forms: Forms | null = null;
  const formsOf = (): Forms => {
    forms ??= computeForms(secrets);
    return forms;
  };

  const scrubText = (text: string): string => {
    const f = formsOf();
    if (f.exact.length === 0) return text;
    let out = text;
    for (const form of f.exact) if (out.includes(form)) out = out.replaceAll(form, REDACTED);
    for (const core of f.base64) if (out.includes(core)) out = replaceBase64Tokens(out, core);
    if (f.fragments.size > 0) out = out.replace(TOKEN_RUN, (run) => (holdsFragment(run, f.fragments) ? REDACTED : run));
    return out;
  };

  /** The scrubbed value, or `undefined` when it nests deeper than `MAX_JSON_DEPTH`. */
  const scrubValue = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return scrubText(value);
    if (typeof value !== "object" || value === null) return value;
    if (depth > MAX_JSON_DEPTH) return undefined;
    let changed = false;
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      for (const item of value) {
        const next = scrubValue(item, depth + 1);
        if (next === undefined && item !== undefined) return undefined;
        changed ||= next !== item;
        items.push(next);
      }
      return changed ? items : value;
    }
    const entries: [string, unknown][] = [];
    for (const [key, item] of Object.entries(value)) {
      const nextKey = scrubText(key);
      const next = scrubValue(item, depth + 1);
      if (next === undefined && item !== undefined) return undefined;
      changed ||= next !== item || nextKey !== key;
      entries.push([nextKey, next]);
    }
    return changed ? Object.fromEntries(entries) : value;
  };

  const scrubJson = (value: unknown): unknown => {
    const scrubbed = scrubValue(value, 0);
    return scrubbed === undefined && value !== undefined ? null : scrubbed;
  };

  const scrubDataPayload = (payload: string): string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return scrubText(payload);
    }
    const scrubbed = scrubValue(parsed, 0);
    if (scrubbed === undefined) return scrubText(payload);
    return scrubbed === parsed ? payload : JSON.stringify(scrubbed);
  };

  const scrubLine = (line: string): string => {
    if (!line.startsWith("data:")) return scrubText(line);
    const prefix = line.charCodeAt(5) === 0x20 ? "data: " : "data:";
    return prefix + scrubDataPayload(line.slice(prefix.length));
  };

  const scrubSseChunk = (chunk: Uint8Array): Uint8Array => {
    const f = formsOf();
    if (f.exact.length === 0 || chunk.byteLength === 0) return chunk;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.indexOf(ERROR_MARK) < 0 && !f.bytes.some((b) => buf.indexOf(b) >= 0)) return chunk;
    const text = buf.toString("utf8");
    const parts = text.split(/(\r\n|\r|\n)/);
    const out = parts.map((part, i) => (i % 2 === 1 ? part : scrubLine(part))).join("");
    return out === text ? chunk : Buffer.from(out, "utf8");
  };

  return { scrubText, scrubJson, scrubSseChunk };
}
