/**
 * Issue 8, row 2 and its "also seen" items, on a real control-plane process: an alias flood is
 * refused before it is parsed (anonymous: by the body limit; authenticated: by the parser's token
 * limit) while a concurrent admin operation is not delayed; introspection and field suggestions
 * only for authenticated callers; failed bearer tokens throttled per client address (429 with
 * Retry-After); NUL characters and out-of-range Decimals are BAD_USER_INPUT naming the field.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, spawnTollgate, waitForHttpOk, type RunningProcess } from "../support/processes.js";

interface GraphQLAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  readonly ms: number;
}

const dir = mkdtempSync(path.join(tmpdir(), "tollgate-sec-graphql-"));
const adminToken = randomBytes(24).toString("hex");
let cp: RunningProcess;
let port = 0;

/** POSTs a raw body to /graphql from `localAddress` (127.0.0.x: a distinct client address). */
function post(body: string, options: { token?: string; localAddress?: string; chunked?: boolean; agent?: Agent } = {}): Promise<GraphQLAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/graphql",
        method: "POST",
        localAddress: options.localAddress ?? "127.0.0.1",
        agent: options.agent,
        headers: {
          "content-type": "application/json",
          ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.chunked === true ? { "transfer-encoding": "chunked" } : { "content-length": Buffer.byteLength(body) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as GraphQLAnswer["body"], ms: performance.now() - started });
          } catch (e) {
            reject(new Error(`not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`, { cause: e }));
          }
        });
      },
    );
    req.on("error", reject);
    if (options.chunked === true) {
      for (let i = 0; i < body.length; i += 16_384) req.write(body.slice(i, i + 16_384));
      req.end();
    } else req.end(body);
  });
}

const gql = (query: string, variables: Record<string, unknown> = {}) => post(JSON.stringify({ query, variables }), { token: adminToken });
const anonymousGql = (query: string) => post(JSON.stringify({ query }));
const codeOf = (a: GraphQLAnswer): string | undefined => a.body.errors?.[0]?.extensions?.code;
const messageOf = (a: GraphQLAnswer): string => (a.body.errors ?? []).map((e) => e.message).join("; ");
const aliasFlood = (n: number): string => JSON.stringify({ query: `query { ${Array.from({ length: n }, (_, i) => `alias${i}: me`).join(" ")} }` });

beforeAll(async () => {
  port = await findFreePort();
  cp = spawnTollgate("control-plane", "control-plane", {
    TOLLGATE_DATA_DIR: path.join(dir, "cp"),
    TOLLGATE_ADMIN_TOKEN: adminToken,
    TOLLGATE_NODE_TOKEN: randomBytes(32).toString("hex"),
    TOLLGATE_MASTER_KEY: randomBytes(32).toString("base64"),
    CONTROL_PLANE_HTTP_PORT: String(port),
    CONTROL_PLANE_GRPC_PORT: String(await findFreePort()),
  });
  await waitForHttpOk(`http://127.0.0.1:${port}/readyz`);
  // One request first, so the timings below measure the refusals and not the first request's warm-up.
  await gql("{ me { kind } }");
});

afterAll(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("alias floods", () => {
  it.each([30_000, 60_000])("refuses %i anonymous aliases of `me` at once, and a concurrent admin operation is not delayed", async (n) => {
    const body = aliasFlood(n);
    expect(body.length).toBeGreaterThan(n === 30_000 ? 400_000 : 800_000);
    const [flood, chunked, admin] = await Promise.all([post(body), post(body, { chunked: true }), gql("{ me { kind } organizations { id } }")]);
    console.info(
      `${n} anonymous aliases (${Math.round(body.length / 1024)} KB): refused in ${flood.ms.toFixed(0)} ms (chunked: ${chunked.ms.toFixed(0)} ms); concurrent admin query ${admin.ms.toFixed(0)} ms`,
    );
    for (const refused of [flood, chunked]) {
      expect(refused.status).toBe(413);
      expect(codeOf(refused)).toBe("PAYLOAD_TOO_LARGE");
      expect(refused.ms).toBeLessThan(1_000);
    }
    expect(admin.body.errors).toBeUndefined();
    expect(admin.body.data?.me).toEqual({ kind: "PLATFORM_ADMIN" });
    expect(admin.ms).toBeLessThan(1_000);
  });

  it.each([30_000, 60_000])("refuses %i aliases from an authenticated caller in the parser, and a concurrent revokeVirtualKey is not delayed", async (n) => {
    const org = await gql(`mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }`, { i: { name: `flood ${n}`, slug: `flood-${n}` } });
    const orgId = (org.body.data?.createOrganization as { organization: { id: string } }).organization.id;
    const key = await gql(`mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id } } }`, { i: { organizationId: orgId, name: "victim", kind: "SERVICE" } });
    const keyId = (key.body.data?.createVirtualKey as { virtualKey: { id: string } }).virtualKey.id;
    const body = aliasFlood(n);
    const [flood, revoke] = await Promise.all([
      post(body, { token: adminToken }),
      gql(`mutation($i: RevokeVirtualKeyInput!) { revokeVirtualKey(input: $i) { virtualKey { status } } }`, { i: { id: keyId } }),
    ]);
    console.info(`${n} authenticated aliases: refused in ${flood.ms.toFixed(0)} ms; concurrent revokeVirtualKey ${revoke.ms.toFixed(0)} ms`);
    expect(flood.status).toBe(400);
    expect(codeOf(flood)).toBe("GRAPHQL_PARSE_FAILED");
    expect(messageOf(flood)).toMatch(/Document contains more \w+ 10000 tokens/);
    expect(flood.ms).toBeLessThan(1_000);
    expect(revoke.body.data?.revokeVirtualKey).toEqual({ virtualKey: { status: "REVOKED" } });
    expect(revoke.ms).toBeLessThan(1_000);
  });

  it("refuses more aliases than allowed, and batched requests, for authenticated callers too", async () => {
    const many = await gql(`{ ${Array.from({ length: 51 }, (_, i) => `a${i}: me { kind }`).join(" ")} }`);
    expect(messageOf(many)).toContain("Aliases limit of 50 exceeded");
    const batch = await post(JSON.stringify([{ query: "{ me { kind } }" }, { query: "{ me { kind } }" }]), { token: adminToken });
    expect(batch.status).toBe(400);
    expect(batch.body.data ?? null).toBeNull();
  });
});

describe("schema details", () => {
  it("answers introspection to authenticated callers only", async () => {
    const query = "{ __schema { queryType { name } } }";
    const anonymous = await anonymousGql(query);
    expect(anonymous.status).toBe(400);
    expect(codeOf(anonymous)).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(messageOf(anonymous)).toMatch(/introspection/i);
    const authed = await gql(query);
    expect(authed.body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });

  it("hides field suggestions from anonymous callers", async () => {
    const anonymous = await anonymousGql("{ organisations { id } }");
    expect(messageOf(anonymous)).toContain('Cannot query field "organisations"');
    expect(messageOf(anonymous)).not.toMatch(/Did you mean|"organizations"/);
    expect(messageOf(await gql("{ organisations { id } }"))).toContain('Did you mean "organizations"');
  });
});

describe("input validation", () => {
  let orgId = "";
  beforeAll(async () => {
    const org = await gql(`mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }`, { i: { name: "inputs", slug: "inputs" } });
    orgId = (org.body.data?.createOrganization as { organization: { id: string } }).organization.id;
  });
  const CREATE_KEY = `mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { virtualKey { id } } }`;

  it("answers a NUL character in a name, a list or JSON metadata, or metadata nested 5,000 deep, with BAD_USER_INPUT naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: "bad\u0000name" }, "input.name"],
      [{ name: "ok", allowedModels: ["gpt-4o", "x\u0000y"] }, "input.allowedModels[1]"],
      [{ name: "ok", metadata: { owner: { email: "a\u0000@b.c" } } }, "input.metadata.owner.email"],
      [{ name: "lone \uD800 surrogate" }, "input.name"],
    ];
    for (const [fields, field] of cases) {
      const r = await gql(CREATE_KEY, { i: { organizationId: orgId, kind: "SERVICE", ...fields } });
      expect(codeOf(r), field).toBe("BAD_USER_INPUT");
      expect(messageOf(r)).toContain(field);
    }
    const deep = `{"a":`.repeat(5_000) + `"x"` + "}".repeat(5_000);
    const nested = await post(`{"query":${JSON.stringify(CREATE_KEY)},"variables":{"i":{"organizationId":"${orgId}","name":"deep","kind":"SERVICE","metadata":${deep}}}}`, { token: adminToken });
    expect(codeOf(nested)).toBe("BAD_USER_INPUT");
    expect(messageOf(nested)).toMatch(/^input\.metadata\.a\.a.* is nested deeper than 40 levels/);
    const team = await gql(`mutation { createTeam(input: { organizationId: "${orgId}", name: "nul\\u0000team", slug: "nul-team" }) { team { id } } }`);
    expect(codeOf(team)).toBe("BAD_USER_INPUT");
    expect(messageOf(team)).toContain("input.name");
  });

  it("answers inexact or out-of-range Decimals with BAD_USER_INPUT naming the field", async () => {
    const rawCreate = (decimalJson: string) =>
      post(`{"query":${JSON.stringify(CREATE_KEY)},"variables":{"i":{"organizationId":"${orgId}","name":"dec","kind":"SERVICE","maxCostPerRequest":${decimalJson}}}}`, { token: adminToken });
    for (const decimal of ['"1e400"', "1e400", "9007199254740993", '"100000000000000000000"', "100000000000000000000", '"-1"', "123456789.1234567"]) {
      const r = await rawCreate(decimal);
      expect(codeOf(r), decimal).toBe("BAD_USER_INPUT");
      expect(messageOf(r), decimal).toContain("i.maxCostPerRequest");
    }
    const literal = await gql(`mutation { createVirtualKey(input: { organizationId: "${orgId}", name: "lit", kind: SERVICE, maxCostPerRequest: 100000000000000000000 }) { virtualKey { id } } }`);
    expect(codeOf(literal)).toBe("BAD_USER_INPUT");
    expect(messageOf(literal)).toMatch(/^input\.maxCostPerRequest: .*out of range/);
    expect(codeOf(await rawCreate('"2.50"'))).toBeUndefined();
  });
});

describe("failed bearer tokens", () => {
  it("answers 429 with Retry-After after 20 failures from one address; other addresses are not affected", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16, localAddress: "127.0.0.2" });
    const guesses = 3_000;
    const started = performance.now();
    const statuses: number[] = [];
    let lastRefusal: GraphQLAnswer | undefined;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < guesses) {
          const i = next++;
          const r = await post(JSON.stringify({ query: "{ me { kind } }" }), { token: `tg_api_guess${i}${randomBytes(16).toString("hex")}`, localAddress: "127.0.0.2", agent });
          statuses[i] = r.status;
          if (r.status === 429) lastRefusal = r;
        }
      }),
    );
    agent.destroy();
    const elapsed = performance.now() - started;
    const unauthenticated = statuses.filter((s) => s === 401).length;
    const limited = statuses.filter((s) => s === 429).length;
    console.info(`${guesses} bad-token guesses in ${elapsed.toFixed(0)} ms: ${unauthenticated} answered 401, ${limited} answered 429`);
    expect(unauthenticated).toBe(20);
    expect(limited).toBe(guesses - 20);
    expect(lastRefusal?.headers["retry-after"]).toMatch(/^\d+$/);
    expect(Number(lastRefusal?.headers["retry-after"])).toBeGreaterThan(200);
    expect(codeOf(lastRefusal as GraphQLAnswer)).toBe("RATE_LIMITED");
    // While locked out, even the right token from that address is refused (no oracle) ...
    const rightToken = await post(JSON.stringify({ query: "{ me { kind } }" }), { token: adminToken, localAddress: "127.0.0.2" });
    expect(rightToken.status).toBe(429);
    // ... and another address is served as usual.
    const elsewhere = await gql("{ me { kind } }");
    expect(elsewhere.body.data?.me).toEqual({ kind: "PLATFORM_ADMIN" });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_admin_auth_failures_total\{outcome="refused"\} 19/);
    expect(metrics).toMatch(/tollgate_admin_auth_failures_total\{outcome="locked_out"\} 1/);
  });
});
