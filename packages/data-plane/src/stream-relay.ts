/**
 * Relaying an upstream chat stream to the client in the client's protocol, and settling it when it
 * ends: with the provider's usage when it reported one, else with the prompt as the reservation
 * counted it (or as the provider already reported it) and, for a stream that did not complete, the
 * output the admission held (`unreportedUsageOf`). When the client leaves mid-stream, the upstream
 * is still read (and discarded) until its usage arrives, for the upstream client's usage grace
 * (5 s by default), so hidden reasoning tokens are billed as the provider counts them.
 */
import type { ActualUsage, Admission } from "@tollgate/policy";
import { createSseSplitter, createStreamTranslator, type StreamTranslator, type StreamTranslatorOptions } from "@tollgate/providers";
import { countedUsageOf } from "./chat-counting.js";
import { streamErrorEvent } from "./protocol-error.js";
import { finish, type RequestContext, type RequestEnd } from "./request-context.js";
import type { ScrubbedExchange, UpstreamPathDeps } from "./upstream-exchange.js";
import { Outcome } from "./usage-record.js";

/** The error event that ends a stream cut after its 200 went out, by cause. */
const STREAM_ENDINGS = {
  timeout: { code: "upstream_timeout", status: 504, message: "the upstream provider timed out" },
  connection: { code: "upstream_error", status: 502, message: "the upstream stream was cut" },
  shutdown: { code: "overloaded", status: 503, message: "this gateway node is shutting down and ended the stream at its grace deadline; retry the request" },
} as const;

/** After a stream is ended at the shutdown deadline, the delay before it is settled (its last bytes go out first). */
const SHUTDOWN_SETTLE_DELAY_MS = 20;

/** What the relay needs of a stream transform: a protocol translator, or the OpenAI usage tap. */
export type RelayTransform = Pick<StreamTranslator, "push" | "end" | "usage" | "reportedInputTokens" | "reportedInputUsage" | "completionText">;

/** What a relayed stream records besides its usage. */
export type RelayEnd = Omit<RequestEnd, "usage" | "countedUsage" | "outcome" | "status" | "errorCode">;

/**
 * Streams the upstream's body through a translator (which also hides a usage chunk the client did
 * not ask for). A failure after the 200 went out becomes an error event in the client's protocol.
 * The admission is settled exactly once, whichever way the stream ends.
 */
export function relayTranslatedStream(
  deps: UpstreamPathDeps,
  ctx: RequestContext,
  admission: Admission,
  exchange: ScrubbedExchange,
  translation: StreamTranslatorOptions,
  end: RelayEnd,
): AsyncGenerator<Uint8Array> {
  const errorEvent = (code: string, message: string, status: number): string => streamErrorEvent(translation.to, code, message, status);
  return relayStream(deps, ctx, admission, exchange, createStreamTranslator(translation), errorEvent, end);
}

/**
 * Streams the upstream's body through `translator` (any `RelayTransform`) to the client, every
 * complete event through the exchange's credential scrubber (an upstream's mid-stream error may
 * echo the credential; forwarded and translated events alike); `errorEvent` renders a failure
 * after the 200 went out (code, message, HTTP status) in the client's stream shape. A client that
 * leaves returns this generator at a `yield`; the upstream is then read on for its usage (the
 * upstream client aborts it after its usage grace). Settles once, with the provider's usage when
 * it reported one, else `unfinishedUsageOf` (raised to the held output when unfinished, `finish`).
 */
export async function* relayStream(
  deps: UpstreamPathDeps,
  ctx: RequestContext,
  admission: Admission,
  exchange: ScrubbedExchange,
  translator: RelayTransform,
  errorEvent: (code: string, message: string, status: number) => string,
  end: RelayEnd,
): AsyncGenerator<Uint8Array> {
  let outcome = Outcome.CLIENT_ABORTED;
  let status = 200;
  let errorCode = "";
  // At the shutdown deadline the upstream body is discarded and the stream ends with an error event.
  let cutByShutdown = false;
  // Set once the upstream body ended or failed: nothing more can be read from it.
  let upstreamDone = false;
  const closed = deps.shutdown?.openStream(() => {
    cutByShutdown = true;
    exchange.finish();
  });
  // Read by hand, not with for-await: a client that leaves returns this generator at a `yield`,
  // and the upstream body must stay open to be read for its usage.
  const body = exchange.body[Symbol.asyncIterator]();
  try {
    const { scrubber } = exchange;
    for (;;) {
      const next = await body.next();
      if (next.done === true) break;
      const out = translator.push(next.value);
      if (out.length > 0) yield scrubber.scrubSseChunk(out);
      if (cutByShutdown) break;
    }
    upstreamDone = true;
    if (cutByShutdown) throw new Error("ended at the shutdown deadline");
    const tail = translator.end();
    outcome = Outcome.SUCCESS;
    if (tail.length > 0) yield scrubber.scrubSseChunk(tail);
  } catch (err) {
    upstreamDone = true;
    const failure = cutByShutdown ? "shutdown" : exchange.classify(err);
    if (failure !== "client_aborted") {
      outcome = Outcome.UPSTREAM_ERROR;
      const ending = STREAM_ENDINGS[failure];
      errorCode = ending.code;
      status = ending.status;
      yield Buffer.from(errorEvent(errorCode, ending.message, status));
    }
  } finally {
    // The client left mid-stream: read on (discarding) until the provider's usage, the body's end,
    // or the upstream client's usage grace aborts it.
    if (!upstreamDone && !cutByShutdown) await readForUsage(body, translator);
    exchange.finish();
    // At the shutdown deadline the client's stream ends first: settling may load the tokenizer,
    // which holds the event loop for a second. The gate tracks the settlement until `closed`.
    const settled = (cutByShutdown ? new Promise((resolve) => setTimeout(resolve, SHUTDOWN_SETTLE_DELAY_MS)) : Promise.resolve())
      .then(() =>
        finish(deps, ctx, admission, {
          ...end,
          usage: translator.usage(),
          countedUsage: () => unfinishedUsageOf(translator, ctx.promptTokens, outcome === Outcome.SUCCESS),
          outcome,
          status,
          errorCode,
        }),
      )
      .finally(() => closed?.());
    if (!cutByShutdown) await settled;
    else settled.catch((err: unknown) => deps.logger.error({ err }, "a stream ended at shutdown could not be settled"));
  }
}

/**
 * The counted usage of a stream that ended without its final usage: the prompt as the provider
 * already reported it at the start, with its split (cached reads, cache writes: billed at their own
 * prices, not as plain input), else its reported count, else `promptTokens` (as the reservation
 * counted it). The output is the text received, counted only for a stream that completed: an
 * unfinished one is billed the output its admission held (`finish`), which the text cannot exceed,
 * so the tokenizer (150 MB, a second of blocked event loop on first use) is not loaded for it.
 */
function unfinishedUsageOf(translator: RelayTransform, promptTokens: number, completed: boolean): ActualUsage {
  const counted = countedUsageOf(translator.reportedInputTokens() ?? promptTokens, completed ? translator.completionText() : "");
  const reported = translator.reportedInputUsage();
  return reported === null ? counted : { ...reported, outputTokens: counted.outputTokens };
}

/** Feeds the rest of an upstream body to the translator (output discarded) until it reports usage, ends or fails. */
async function readForUsage(body: AsyncIterator<Uint8Array>, translator: RelayTransform): Promise<void> {
  try {
    while (translator.usage() === null) {
      const next = await body.next();
      if (next.done === true) {
        translator.end();
        return;
      }
      translator.push(next.value);
    }
  } catch {
    // Cut, timed out, or aborted at the end of the grace: settled on what was seen.
  }
}

/**
 * Gemini's `:streamGenerateContent` without `alt=sse`: the same responses as one JSON array,
 * written element by element as they arrive (`[` first, `,` between, `]` at the end).
 */
export async function* sseToJsonArray(events: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const splitter = createSseSplitter();
  let first = true;
  const render = (data: string | null): string => {
    if (data === null || data.length === 0) return "";
    const prefix = first ? "[" : ",\n";
    first = false;
    return prefix + data;
  };
  for await (const chunk of events) {
    const text = splitter
      .push(chunk)
      .map((e) => render(e.data))
      .join("");
    if (text.length > 0) yield Buffer.from(text);
  }
  const tail = splitter
    .end()
    .map((e) => render(e.data))
    .join("");
  yield Buffer.from(`${tail}${first ? "[" : ""}]`);
}
