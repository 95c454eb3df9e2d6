import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { AuthFailureThrottle } from "./auth-throttle.js";
import { bearerTokenOf, createGraphQLGate, sendGraphQLError } from "./graphql-gate.js";

const GOOD = "tg_api_good-token-0123456789";

async function gatedApp(clock: { t: number }): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 1024 * 1024 });
  const throttle = new AuthFailureThrottle({ limit: 3, windowMs: 60_000, lockoutMs: 120_000, maxAddresses: 100, now: () => clock.t });
  const gate = createGraphQLGate({ authenticate: async (t) => (t === GOOD ? { kind: "platformAdmin" } : null), throttle, anonymousMaxBodyBytes: 1024 });
  app.setErrorHandler((error, _req, reply) =>
    sendGraphQLError(reply, (error as { statusCode?: number }).statusCode ?? 500, "PAYLOAD_TOO_LARGE", error instanceof Error ? error.message : String(error)),
  );
  app.post("/graphql", { onRequest: gate.onRequest, preParsing: gate.preParsing }, async (req) => ({ actor: gate.actorOf(req)?.kind ?? null, bytes: JSON.stringify(req.body).length }));
  return app;
}

describe("the GraphQL gate", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  const body = (size: number): string => JSON.stringify({ query: `{ me { kind } }${" ".repeat(size)}` });

  it("lets a small anonymous request through and refuses a large one before reading it, declared or chunked", async () => {
    app = await gatedApp({ t: 0 });
    const small = await app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json" }, payload: body(100) });
    expect(small.json()).toMatchObject({ actor: null });
    const declared = await app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json" }, payload: body(5_000) });
    expect(declared.statusCode).toBe(413);
    expect(declared.json()).toEqual({ errors: [{ message: expect.stringContaining("1024 bytes"), extensions: { code: "PAYLOAD_TOO_LARGE" } }] });
    const chunked = await app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json" }, payload: Readable.from([body(600), body(600)]) });
    expect(chunked.statusCode).toBe(413);
  });

  it("resolves a good token before the body is read, and then allows the authenticated body limit", async () => {
    app = await gatedApp({ t: 0 });
    const r = await app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json", authorization: `Bearer ${GOOD}` }, payload: body(50_000) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ actor: "platformAdmin" });
  });

  it("answers a wrong or malformed token 401, and locks the address out with 429 + Retry-After at the limit of wrong ones", async () => {
    const clock = { t: 0 };
    const server = await gatedApp(clock);
    app = server;
    const send = (authorization: string, remoteAddress = "203.0.113.9") =>
      server.inject({ method: "POST", url: "/graphql", remoteAddress, headers: { "content-type": "application/json", authorization }, payload: body(10) });
    const wrong = await send("Bearer nope");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().errors[0].extensions.code).toBe("UNAUTHENTICATED");
    for (let i = 0; i < 5; i++) expect((await send("Basic Zm9vOmJhcg==")).json().errors[0].message).toContain("malformed Authorization header");
    expect((await send("Bearer again")).statusCode).toBe(401);
    expect((await send("Bearer third")).statusCode).toBe(401);
    const locked = await send(`Bearer ${GOOD}`);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers["retry-after"]).toBe("120");
    expect(locked.json().errors[0].extensions.code).toBe("RATE_LIMITED");
    expect((await send(`Bearer ${GOOD}`, "203.0.113.10")).statusCode).toBe(200);
    clock.t += 120_000;
    expect((await send(`Bearer ${GOOD}`)).statusCode).toBe(200);
  });
});

describe("bearerTokenOf", () => {
  it.each<[string | undefined, string | null | undefined]>([
    [undefined, undefined],
    ["Bearer abc", "abc"],
    ["bearer  abc ", "abc"],
    ["Bearer", null],
    ["Bearer a b", null],
    ["Basic abc", null],
    ["", null],
  ])("%j -> %j", (header, token) => {
    expect(bearerTokenOf(header)).toBe(token);
  });
});
