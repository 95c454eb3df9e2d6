/** Gemini `streamGenerateContent?alt=sse` streams (one full response per `data:`) to and from neutral events. */
import { assertNever, type ChatStreamEvent, type ChatStreamParser, type ChatStreamRenderer, type RenderContext, type StopReason } from "../chat-model.js";
import { readSseJson } from "../anthropic/messages-stream.js";
import type { SseEvent } from "../sse.js";
import { isJsonObject, type ProviderUsage } from "../openai/usage.js";
import { pickField } from "./generate-request.js";
import { firstCandidate, googleFinishToNeutral, neutralStopToGoogle, readGoogleUsage, renderGoogleParts, renderGoogleUsage } from "./generate-response.js";

/**
 * A parser of an upstream Gemini stream: the first chunk -> start (prompt tokens when reported),
 * text parts -> text (thoughts -> reasoning), each whole functionCall -> tool_call_start + one
 * tool_call_delta with its JSON args, finishReason -> stop, and usage once the finish was seen
 * (the counts are cumulative; the last one wins). Gemini sends no end marker.
 */
export function createGoogleStreamParser(): ChatStreamParser {
  let started = false;
  let tools = 0;
  let finished = false;

  return {
    parse(event: SseEvent): ChatStreamEvent[] {
      const d = readSseJson(event);
      if (d === null) return [];
      const out: ChatStreamEvent[] = [];
      if (isJsonObject(d["error"])) {
        const message = d["error"]["message"];
        return [{ type: "error", message: typeof message === "string" ? message : "upstream stream error" }];
      }
      const usage = readGoogleUsage(pickField(d, "usageMetadata"));
      if (!started) {
        started = true;
        const id = pickField(d, "responseId");
        const model = pickField(d, "modelVersion");
        out.push({
          type: "start",
          id: typeof id === "string" ? id : "",
          model: typeof model === "string" ? model : "",
          inputTokens: usage?.inputTokens ?? null,
          ...(usage === null ? {} : { inputUsage: usage }),
        });
      }
      const cand = firstCandidate(d);
      for (const p of cand?.parts ?? []) {
        const fc = pickField(p, "functionCall");
        if (isJsonObject(fc)) {
          const index = tools++;
          out.push({ type: "tool_call_start", index, id: typeof fc["id"] === "string" ? fc["id"] : `call_${index}`, name: String(fc["name"]) });
          out.push({ type: "tool_call_delta", index, arguments: JSON.stringify(fc["args"] ?? {}) });
        } else if (typeof p["text"] === "string" && p["text"].length > 0) {
          out.push({ type: p["thought"] === true ? "reasoning" : "text", text: p["text"] });
        }
      }
      if (cand !== null && typeof cand.finishReason === "string" && cand.finishReason.length > 0) {
        finished = true;
        out.push({ type: "stop", reason: googleFinishToNeutral(cand.finishReason, tools > 0) });
      }
      if (finished && usage !== null) out.push({ type: "usage", usage });
      return out;
    },
  };
}

/** One Gemini SSE event (Gemini ends events with CRLF CRLF). */
function sse(data: Record<string, unknown>): string {
  return `data: ${JSON.stringify(data)}\r\n\r\n`;
}

/**
 * A renderer of neutral events as a Gemini stream for an inbound Google client: one chunk per text
 * delta, each tool call as a whole `functionCall` part once its arguments are complete, and a final
 * chunk with finishReason and usageMetadata (after the usage, on `end`, or on `finish()`).
 */
export function createGoogleStreamRenderer(ctx: RenderContext): ChatStreamRenderer {
  let id = ctx.requestId;
  let model = ctx.model ?? "";
  const pending = new Map<number, { id: string; name: string; args: string }>();
  let stopReason: StopReason | null = null;
  let usage: ProviderUsage | null = null;
  let finished = false;

  const chunk = (parts: Record<string, unknown>[], extra: Record<string, unknown> = {}, meta?: Record<string, unknown>): string => {
    const candidate = { content: { role: "model", parts }, index: 0, ...extra };
    return sse({ candidates: [candidate], ...(meta === undefined ? {} : { usageMetadata: meta }), modelVersion: model, responseId: id });
  };
  const flushTools = (): string => {
    if (pending.size === 0) return "";
    const calls = [...pending.values()].map((c) => ({ id: c.id, name: c.name, arguments: c.args }));
    pending.clear();
    return chunk(renderGoogleParts([], calls));
  };
  const final = (reason: StopReason): string => {
    finished = true;
    return flushTools() + chunk([{ text: "" }], { finishReason: neutralStopToGoogle(reason) }, renderGoogleUsage(usage));
  };

  return {
    render(e: ChatStreamEvent): string {
      if (finished) return "";
      switch (e.type) {
        case "start":
          if (e.id.length > 0) id = e.id;
          if (ctx.model === null) model = e.model;
          return "";
        case "text":
          return e.text.length === 0 ? "" : flushTools() + chunk([{ text: e.text }]);
        case "reasoning":
          return "";
        case "tool_call_start":
          pending.set(e.index, { id: e.id, name: e.name, args: "" });
          return "";
        case "tool_call_delta": {
          const call = pending.get(e.index);
          if (call !== undefined) call.args += e.arguments;
          return "";
        }
        case "stop":
          stopReason = e.reason;
          return flushTools();
        case "usage":
          usage = e.usage;
          return stopReason === null ? "" : final(stopReason);
        case "error":
          finished = true;
          return sse({ error: { code: 500, message: e.message, status: "INTERNAL" } });
        case "end":
          return final(stopReason ?? "stop");
        default:
          return assertNever(e);
      }
    },
    finish: () => (finished || stopReason === null ? "" : final(stopReason)),
  };
}
