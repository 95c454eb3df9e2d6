/**
 * Sound upper bounds of prompt tokens, protocol by protocol. The idea is the OpenAI one: a BPE or
 * SentencePiece token covers at least one UTF-8 byte, so the bytes of every string the model sees,
 * plus fixed overheads for roles, priming and tool headers, never undercount; images are counted
 * as a fixed number of tokens per image (see each profile's caveat).
 */
import type { InputAttachments, UnboundedPart, UnboundedPartKind } from "@tollgate/policy";
import { assertNever, type ChatMessage, type ChatPart, type ChatProtocol, type ChatRequest } from "./chat-model.js";
import { IMAGE_PART_TOKENS, MESSAGE_OVERHEAD_TOKENS, REQUEST_OVERHEAD_TOKENS, TOOLS_OVERHEAD_TOKENS, utf8Bytes } from "./openai/chat-request.js";
import { isJsonObject } from "./openai/usage.js";

/** The fixed costs an upstream adds around the text it is given. */
export interface InputBoundProfile {
  readonly requestOverhead: number;
  readonly messageOverhead: number;
  /** Added once when tools are declared (Anthropic's hidden tool-use system prompt is ~350). */
  readonly toolsOverhead: number;
  /** Added per declared tool (its rendered header). */
  readonly perToolOverhead: number;
  /**
   * Tokens per image. Anthropic scales images down to ~1600 tokens at most; Gemini counts 258 per
   * 768-px tile (1120 at Gemini 3's high media resolution), so very large images on Gemini 2.x can
   * exceed this constant: a documented gap, like OpenAI's gpt-4o-mini caveat.
   */
  readonly imageTokens: number;
}

/** The bound's constants per upstream protocol. */
export const INPUT_BOUND_PROFILES: Readonly<Record<ChatProtocol, InputBoundProfile>> = {
  openai: {
    requestOverhead: REQUEST_OVERHEAD_TOKENS,
    messageOverhead: MESSAGE_OVERHEAD_TOKENS,
    toolsOverhead: TOOLS_OVERHEAD_TOKENS,
    perToolOverhead: 16,
    imageTokens: IMAGE_PART_TOKENS,
  },
  anthropic: { requestOverhead: 16, messageOverhead: 8, toolsOverhead: 512, perToolOverhead: 16, imageTokens: 1600 },
  google: { requestOverhead: 16, messageOverhead: 8, toolsOverhead: 64, perToolOverhead: 16, imageTokens: 1600 },
};

/** How a sub-object of a request body counts: an image, a part the gateway cannot size, or by its strings (null). */
export type PartClass = "image" | UnboundedPartKind | null;

/** Classifies a JSON object met while bounding a body. */
export type PartClassifier = (o: Record<string, unknown>) => PartClass;

/** What a bound found besides text: images and unsizable parts (with their paths), filled while walking. */
export interface PartScan {
  images: number;
  readonly unbounded: UnboundedPart[];
}

/** A request body's bound: the tokens of its text (overheads included) and what it holds besides. */
export interface InputScan {
  readonly textTokens: number;
  readonly attachments: InputAttachments;
}

/** An empty scan. */
export function newPartScan(): PartScan {
  return { images: 0, unbounded: [] };
}

/** The scan as the decision core's `InputAttachments` (a copy). */
export function attachmentsOf(scan: PartScan): InputAttachments {
  return { images: scan.images, unbounded: [...scan.unbounded] };
}

/**
 * Bytes of every string inside a JSON value (keys excluded, numbers and booleans as text); a
 * sub-object that `classify` names counts 0 bytes and is recorded in `scan` (an image, or an
 * unsizable part with its path under `root`): the decision core bounds those with the model's
 * settings. The path is only spelled out for a recorded part (no string is built per node).
 */
export function boundJsonValue(v: unknown, classify: PartClassifier, root: string, scan: PartScan): number {
  return walkJson(v, classify, scan, root, []);
}

/** `root` followed by `[i]` for indexes and `.key` for keys. */
function spellPath(root: string, segments: readonly (string | number)[]): string {
  let path = root;
  for (const s of segments) path += typeof s === "number" ? `[${s}]` : `.${s}`;
  return path;
}

function walkJson(v: unknown, classify: PartClassifier, scan: PartScan, root: string, segments: (string | number)[]): number {
  if (typeof v === "string") return utf8Bytes(v);
  if (typeof v === "number" || typeof v === "boolean") return utf8Bytes(String(v));
  let total = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      segments.push(i);
      total += walkJson(v[i], classify, scan, root, segments);
      segments.pop();
    }
    return total;
  }
  if (!isJsonObject(v)) return 0;
  const kind = classify(v);
  if (kind === "image") scan.images += 1;
  else if (kind !== null) scan.unbounded.push({ kind, path: spellPath(root, segments) });
  else {
    for (const key of Object.keys(v)) {
      segments.push(key);
      total += walkJson(v[key], classify, scan, root, segments);
      segments.pop();
    }
  }
  return total;
}

/** Bytes of a value's JSON text, 0 when absent. */
export function boundJsonText(v: unknown): number {
  return v === undefined || v === null ? 0 : utf8Bytes(JSON.stringify(v));
}

/** Bound of some content parts. */
function boundParts(parts: readonly ChatPart[], imageTokens: number): number {
  let total = 0;
  for (const p of parts) total += p.type === "text" ? utf8Bytes(p.text) : imageTokens;
  return total;
}

/** Bound of one neutral message (without its overhead); `imageTokens` per image part. */
function boundMessage(m: ChatMessage, imageTokens: number): number {
  switch (m.role) {
    case "user":
      return boundParts(m.parts, imageTokens);
    case "assistant": {
      let total = boundParts(m.parts, imageTokens);
      for (const c of m.toolCalls) total += utf8Bytes(c.id) + utf8Bytes(c.name) + utf8Bytes(c.arguments);
      return total;
    }
    case "tool":
      return boundParts(m.parts, imageTokens) + utf8Bytes(m.toolCallId) + utf8Bytes(m.name ?? "");
    default:
      return assertNever(m);
  }
}

/**
 * A sound upper bound of the prompt tokens `upstream` will count for a neutral request (use it when
 * the gateway translates, since overheads are the upstream's): request overhead, per message
 * (system blocks included) its overhead and bytes, the JSON of each tool plus the tool overheads,
 * and the tool choice's JSON. Images count `imageTokens` each (default: the upstream profile's;
 * 0 when the decision core adds them with the model's setting, see `neutralAttachmentsOf`).
 */
export function estimateChatInputTokensUpperBound(req: ChatRequest, upstream: ChatProtocol, imageTokens?: number): number {
  const profile = INPUT_BOUND_PROFILES[upstream];
  const perImage = imageTokens ?? profile.imageTokens;
  let total = profile.requestOverhead;
  for (const s of req.system) total += profile.messageOverhead + utf8Bytes(s);
  for (const m of req.messages) total += profile.messageOverhead + boundMessage(m, perImage);
  if (req.tools.length > 0) total += profile.toolsOverhead;
  for (const t of req.tools) total += profile.perToolOverhead + boundJsonText(t);
  total += boundJsonText(req.toolChoice);
  return total;
}

/** The images of a neutral request (its only parts the text bound does not size). */
export function neutralAttachmentsOf(req: ChatRequest): InputAttachments {
  let images = 0;
  for (const m of req.messages) for (const p of m.parts) if (p.type === "image") images += 1;
  return { images, unbounded: [] };
}
