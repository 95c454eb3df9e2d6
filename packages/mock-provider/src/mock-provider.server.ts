/** The deterministic fake OpenAI upstream: node:http only, fast enough to be the benchmark's upstream. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { buildChatCompletion, buildStreamEvents, collectMessageTexts, findResetIndex, isObject, planChat, type StreamEvent } from "./chat-completion.js";
import { NO_DIRECTIVES, parseDirectives, type MockDirectives } from "./directives.js";
import { buildEmbeddingsResponse, normaliseEmbeddingInput } from "./embeddings.js";
import { buildErrorBody, describeStatus } from "./openai-error.js";

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
  /** When set, every request needs `Authorization: Bearer <apiKey>` (else 401). */
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

/** A running mock. */
export interface MockProvider {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `url + "/v1"`, as the OpenAI SDK's `baseURL`. */
  readonly baseUrl: string;
  /** The recorded requests, oldest first (at most the last 10,000). */
  requests(): RecordedRequest[];
  /** Forgets recorded requests and restarts the id counter. */
  reset(): void;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}

const MAX_RECORDS = 10_000;
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

/** Starts a mock OpenAI provider; resolves once it listens. */
export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  const now = opts.now ?? Date.now;
  const defaultTokens = opts.defaultCompletionTokens ?? 20;
  const chunkDelayMs = opts.chunkDelayMs ?? 0;
  const models = opts.models ?? DEFAULT_MODELS;
  const timers = new Set<NodeJS.Timeout>();
  let records: RecordedRequest[] = [];
  let counter = 0;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const writeStream = async (res: ServerResponse, events: readonly StreamEvent[], resetAfter: number | null, requestId: string): Promise<void> => {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": requestId });
    const destroyAfter = findResetIndex(events, resetAfter);
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event === undefined || res.destroyed) return;
      if (i === destroyAfter) {
        const socket = res.socket;
        res.write(event.data, () => socket?.destroy());
        return;
      }
      res.write(event.data);
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    }
    res.end();
  };

  const handleChat = async (res: ServerResponse, body: Record<string, unknown>, directives: MockDirectives, requestId: string, id: string): Promise<void> => {
    const messages = body["messages"];
    if (!Array.isArray(messages) || messages.length === 0) {
      sendJson(res, 400, buildErrorBody(400, "Missing required parameter: 'messages'."), requestId);
      return;
    }
    const plan = planChat(body, messages, directives, { id, created: Math.floor(now() / 1000), defaultCompletionTokens: defaultTokens });
    if (body["stream"] === true) {
      await writeStream(res, buildStreamEvents(plan), directives.resetAfter, requestId);
      return;
    }
    if (directives.resetAfter !== null) {
      res.socket?.destroy();
      return;
    }
    sendJson(res, 200, buildChatCompletion(plan), requestId);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> => {
    counter++;
    const requestId = `req_mock${counter}`;
    const path = req.url ?? "/";
    const parsed = parseBody(raw);
    records.push({ method: req.method ?? "GET", path, headers: req.headers, body: parsed.value, receivedAt: now() });
    if (records.length > MAX_RECORDS) records.splice(0, records.length - MAX_RECORDS);

    if (opts.apiKey !== undefined && opts.apiKey !== null && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      sendJson(res, 401, buildErrorBody(401, "Incorrect API key provided."), requestId);
      return;
    }
    const route = `${req.method ?? "GET"} ${path.split("?")[0] ?? ""}`;
    if (route === "GET /v1/models") {
      sendJson(res, 200, { object: "list", data: models.map((m) => ({ id: m, object: "model", created: 1_700_000_000, owned_by: "system" })) }, requestId);
      return;
    }
    if (route === "GET /healthz") {
      sendJson(res, 200, { ok: true }, requestId);
      return;
    }
    if (route !== "POST /v1/chat/completions" && route !== "POST /v1/embeddings") {
      sendJson(res, 404, buildErrorBody(404, `Unknown request URL: ${route}.`, "unknown_url"), requestId);
      return;
    }
    if (!parsed.json || !isObject(parsed.value)) {
      sendJson(res, 400, buildErrorBody(400, "We could not parse the JSON body of your request."), requestId);
      return;
    }
    const body = parsed.value;
    const isChat = route === "POST /v1/chat/completions";
    const input = isChat ? null : normaliseEmbeddingInput(body["input"]);
    const texts = isChat ? collectMessageTexts(Array.isArray(body["messages"]) ? body["messages"] : []) : (input ?? []).filter((x): x is string => typeof x === "string");
    const directives = texts.length > 0 ? parseDirectives(texts) : NO_DIRECTIVES;
    const latency = directives.latencyMs ?? opts.latencyMs ?? 0;
    if (latency > 0) await sleep(latency);
    if (directives.hang || res.destroyed) return;
    if (directives.status !== null) {
      sendJson(res, directives.status, buildErrorBody(directives.status, describeStatus(directives.status)), requestId);
      return;
    }
    if (isChat) {
      await handleChat(res, body, directives, requestId, `chatcmpl-mock${counter}`);
      return;
    }
    if (input === null) {
      sendJson(res, 400, buildErrorBody(400, "'input' must be a string, an array of strings or an array of token arrays."), requestId);
      return;
    }
    sendJson(res, 200, buildEmbeddingsResponse(body, input, directives), requestId);
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
