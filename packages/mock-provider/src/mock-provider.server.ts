/** The deterministic fake upstream (OpenAI, Anthropic and Gemini shapes): node:http only, fast enough to be the benchmark's upstream. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { countPromptTokensOf, findResetIndex, isObject, planCompletion, type CompletionInput, type StreamEvent } from "./chat-completion.js";
import { NO_DIRECTIVES, parseDirectives, type MockDirectives } from "./directives.js";
import { buildEmbeddingsResponse, embedItem, normaliseEmbeddingInput } from "./embeddings.js";
import { buildGeminiStreamArray } from "./gemini-content.js";
import { CHAT_ADAPTERS, isAuthorized, matchRoute, protocolOfPath, receivedCredential, type MockRoute } from "./mock-routes.js";
import { buildErrorBody, describeStatus } from "./openai-error.js";
import { buildEchoError, buildEchoStreamEvent, buildProtocolError, type MockProtocol } from "./protocol-error.js";

/** Options of `startMockProvider`. */
export interface MockProviderOptions {
  /** Port to listen on; 0 (default) = a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Tokens per completion unless a directive says otherwise (default 20). */
  readonly defaultCompletionTokens?: number;
  /** Delay before every answer (default 0). */
  readonly latencyMs?: number;
  /** Delay between stream chunks (default 0). */
  readonly chunkDelayMs?: number;
  /** When set, every request needs the key as its protocol's SDKs send it (Bearer; Anthropic also `x-api-key`; Google `x-goog-api-key` or `?key=`), else 401. */
  readonly apiKey?: string | null;
  /** Ids listed by `GET /v1/models`. */
  readonly models?: readonly string[];
  /** Clock in epoch ms (default Date.now), for `created`. */
  readonly now?: () => number;
}

/** One request the mock received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path with its query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw text when it was not JSON; null when empty. */
  readonly body: unknown;
  readonly receivedAt: number;
}

/** Behaviour scripted on the server for every request until cleared; it wins over the request's directives. */
export type MockFault = Partial<Pick<MockDirectives, "status" | "hang" | "latencyMs" | "resetAfter" | "chunkDelayMs">>;

/** A running mock. */
export interface MockProvider {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `url + "/v1"`, as the OpenAI SDK's `baseURL` (the Anthropic and Google SDKs take `url`). */
  readonly baseUrl: string;
  /** The recorded requests, oldest first (at most the last 10,000). */
  requests(): RecordedRequest[];
  /** Forgets recorded requests, restarts the id counter and clears a scripted fault. */
  reset(): void;
  /** Scripts every following request (e.g. `{ status: 500 }`, `{ hang: true }`); null clears it. */
  setFault(fault: MockFault | null): void;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}

const MAX_RECORDS = 10_000;
const UNAUTHORIZED_MESSAGE: Readonly<Record<MockProtocol, string>> = {
  openai: "Incorrect API key provided.",
  anthropic: "invalid x-api-key",
  google: "API key not valid. Please pass a valid API key.",
};

/** The text parts of one Gemini embedContent request; null when there are none. */
function readGeminiEmbedTexts(body: unknown): string[] | null {
  const content = isObject(body) ? body["content"] : null;
  const parts = isObject(content) && Array.isArray(content["parts"]) ? content["parts"] : [];
  const texts = parts.flatMap((p) => (isObject(p) && typeof p["text"] === "string" ? [p["text"]] : []));
  return texts.length > 0 ? texts : null;
}

/** The texts of each request of an embedContent (one item) or batchEmbedContents body; null when malformed. */
function readGeminiEmbedItems(body: Record<string, unknown>, batch: boolean): string[][] | null {
  const requests = batch ? body["requests"] : [body];
  if (!Array.isArray(requests) || requests.length === 0) return null;
  const items = requests.map(readGeminiEmbedTexts);
  return items.every((x): x is string[] => x !== null) ? items : null;
}
const DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];

/** Sends a JSON body. */
function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-request-id": requestId,
  });
  res.end(text);
}

/** Parses a body: JSON value, raw text when not JSON, null when empty. */
function parseBody(raw: Buffer): { readonly value: unknown; readonly json: boolean } {
  if (raw.length === 0) return { value: null, json: false };
  const text = raw.toString("utf8");
  try {
    return { value: JSON.parse(text) as unknown, json: true };
  } catch {
    return { value: text, json: false };
  }
}

/** Starts a mock provider speaking OpenAI, Anthropic and Gemini; resolves once it listens. */
export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  const now = opts.now ?? Date.now;
  const defaultTokens = opts.defaultCompletionTokens ?? 20;
  const chunkDelayMs = opts.chunkDelayMs ?? 0;
  const models = opts.models ?? DEFAULT_MODELS;
  const timers = new Set<NodeJS.Timeout>();
  let records: RecordedRequest[] = [];
  let counter = 0;
  let fault: MockFault | null = null;
  /** The request's directives under the scripted fault (the fault's fields win). */
  const scripted = (d: MockDirectives): MockDirectives => {
    if (fault === null) return d;
    const out: { -readonly [K in keyof MockDirectives]: MockDirectives[K] } = { ...d };
    if (fault.status !== undefined) out.status = fault.status;
    if (fault.hang !== undefined) out.hang = fault.hang;
    if (fault.latencyMs !== undefined) out.latencyMs = fault.latencyMs;
    if (fault.resetAfter !== undefined) out.resetAfter = fault.resetAfter;
    if (fault.chunkDelayMs !== undefined) out.chunkDelayMs = fault.chunkDelayMs;
    return out;
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  /** Writes SSE events; `echo` (an error event) goes out after the first content event instead of the rest. */
  const writeStream = async (res: ServerResponse, events: readonly StreamEvent[], directives: MockDirectives, requestId: string, echo: string | null = null): Promise<void> => {
    const { resetAfter } = directives;
    const delayMs = directives.chunkDelayMs ?? chunkDelayMs;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": requestId });
    const destroyAfter = findResetIndex(events, resetAfter);
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event === undefined || res.destroyed) return;
      if (echo !== null && event.isContent) {
        res.end(event.data + echo);
        return;
      }
      if (i === destroyAfter) {
        const socket = res.socket;
        res.write(event.data, () => socket?.destroy());
        return;
      }
      res.write(event.data);
      if (delayMs > 0 && i < events.length - 1) await sleep(delayMs);
    }
    res.end();
  };

  const sendError = (res: ServerResponse, protocol: MockProtocol, status: number, message: string, requestId: string): void => {
    sendJson(res, status, buildProtocolError(protocol, status, message), requestId);
  };

  /** Chat in any protocol, after directives: plan the answer, then JSON, SSE, or a JSON array (Google without alt=sse). */
  const handleChat = async (
    res: ServerResponse,
    route: Extract<MockRoute, { kind: "chat" }>,
    input: CompletionInput,
    directives: MockDirectives,
    requestId: string,
    body: Record<string, unknown>,
    credential: string | null,
  ): Promise<void> => {
    const adapter = CHAT_ADAPTERS[route.protocol];
    const plan = planCompletion(input, directives, { id: `${adapter.idPrefix}${counter}`, created: Math.floor(now() / 1000), defaultCompletionTokens: defaultTokens });
    const stream = route.stream ?? body["stream"] === true;
    if (stream && route.sse) {
      const echo = directives.echoKey === 200 && credential !== null ? buildEchoStreamEvent(route.protocol, credential) : null;
      await writeStream(res, adapter.buildStream(plan), directives, requestId, echo);
      return;
    }
    if (directives.resetAfter !== null) {
      res.socket?.destroy();
      return;
    }
    sendJson(res, 200, stream ? buildGeminiStreamArray(plan) : adapter.buildJson(plan), requestId);
  };

  /** Latency, hang, an echoed credential and scripted status, shared by every POST route; false = nothing more to answer. */
  const applyDirectives = async (res: ServerResponse, protocol: MockProtocol, directives: MockDirectives, requestId: string, credential: string | null): Promise<boolean> => {
    const latency = directives.latencyMs ?? opts.latencyMs ?? 0;
    if (latency > 0) await sleep(latency);
    if (directives.hang || res.destroyed) return false;
    if (directives.echoKey !== null && directives.echoKey !== 200 && credential !== null) {
      sendJson(res, directives.echoKey, buildEchoError(protocol, directives.echoKey, credential), requestId);
      return false;
    }
    if (directives.status !== null) {
      sendError(res, protocol, directives.status, describeStatus(directives.status), requestId);
      return false;
    }
    return true;
  };

  /** OpenAI embeddings, Gemini embedContent and batchEmbedContents. */
  const handleEmbeddings = async (
    res: ServerResponse,
    route: Extract<MockRoute, { kind: "embeddings" | "embed_content" }>,
    body: Record<string, unknown>,
    requestId: string,
    credential: string | null,
  ): Promise<void> => {
    if (route.kind === "embeddings") {
      const input = normaliseEmbeddingInput(body["input"]);
      const texts = (input ?? []).filter((x): x is string => typeof x === "string");
      const directives = scripted(texts.length > 0 ? parseDirectives(texts) : NO_DIRECTIVES);
      if (!(await applyDirectives(res, "openai", directives, requestId, credential))) return;
      if (input === null) sendError(res, "openai", 400, "'input' must be a string, an array of strings or an array of token arrays.", requestId);
      else sendJson(res, 200, buildEmbeddingsResponse(body, input, directives), requestId);
      return;
    }
    const items = readGeminiEmbedItems(body, route.batch);
    const directives = scripted(items === null ? NO_DIRECTIVES : parseDirectives(items.flat()));
    if (!(await applyDirectives(res, "google", directives, requestId, credential))) return;
    if (items === null) sendError(res, "google", 400, "* EmbedContentRequest.content: contents is not specified", requestId);
    else if (route.batch) sendJson(res, 200, { embeddings: items.map((t) => ({ values: embedItem(t.join("")) })) }, requestId);
    else sendJson(res, 200, { embedding: { values: embedItem((items[0] ?? []).join("")) } }, requestId);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> => {
    counter++;
    const requestId = `req_mock${counter}`;
    const path = req.url ?? "/";
    const method = req.method ?? "GET";
    const parsed = parseBody(raw);
    records.push({ method, path, headers: req.headers, body: parsed.value, receivedAt: now() });
    if (records.length > MAX_RECORDS) records.splice(0, records.length - MAX_RECORDS);

    const pathname = new URL(path, "http://mock").pathname;
    const protocol = protocolOfPath(pathname);
    if (opts.apiKey !== undefined && opts.apiKey !== null && !isAuthorized(protocol, req.headers, path, opts.apiKey)) {
      sendError(res, protocol, 401, UNAUTHORIZED_MESSAGE[protocol], requestId);
      return;
    }
    const route = matchRoute(method, path);
    if (route === null) {
      const message = `Unknown request URL: ${method} ${pathname}.`;
      sendJson(res, 404, protocol === "openai" ? buildErrorBody(404, message, "unknown_url") : buildProtocolError(protocol, 404, message), requestId);
      return;
    }
    if (route.kind === "models") {
      sendJson(res, 200, { object: "list", data: models.map((m) => ({ id: m, object: "model", created: 1_700_000_000, owned_by: "system" })) }, requestId);
      return;
    }
    if (route.kind === "azure_no_version") {
      sendJson(res, 404, { error: { code: "404", message: "Resource not found" } }, requestId);
      return;
    }
    if (route.kind === "healthz") {
      sendJson(res, 200, { ok: true }, requestId);
      return;
    }
    if (!parsed.json || !isObject(parsed.value)) {
      sendError(res, protocol, 400, "We could not parse the JSON body of your request.", requestId);
      return;
    }
    const body = parsed.value;
    const credential = receivedCredential(req.headers, path);
    if (route.kind === "embeddings" || route.kind === "embed_content") {
      await handleEmbeddings(res, route, body, requestId, credential);
      return;
    }
    const input = CHAT_ADAPTERS[route.protocol].read(body, route.model, route.kind === "count_tokens");
    const directives = scripted("error" in input || input.texts.length === 0 ? NO_DIRECTIVES : parseDirectives(input.texts));
    if (!(await applyDirectives(res, protocol, directives, requestId, credential))) return;
    if ("error" in input) {
      sendError(res, protocol, 400, input.error, requestId);
      return;
    }
    if (route.kind === "count_tokens") {
      const promptTokens = directives.promptTokens ?? countPromptTokensOf(input.texts, input.messageCount);
      sendJson(res, 200, route.protocol === "anthropic" ? { input_tokens: promptTokens } : { totalTokens: promptTokens }, requestId);
      return;
    }
    await handleChat(res, route, input, directives, requestId, body, credential);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks)).catch(() => {
        if (!res.headersSent) sendJson(res, 500, buildErrorBody(500, "mock provider failure"), "req_mock_error");
        else res.destroy();
      });
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    requests: () => [...records],
    reset: () => {
      records = [];
      counter = 0;
      fault = null;
    },
    setFault: (f) => {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
