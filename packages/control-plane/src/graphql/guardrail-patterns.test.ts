/**
 * Guardrail patterns run on a linear-time engine: setGuardrails refuses, with BAD_USER_INPUT naming
 * the rule, what RE2 cannot express or what is too large, and stores nothing; the control plane's
 * `simulate` answers a catastrophic pattern (`(a+)+$` on "a"x40 + "b") in milliseconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, postGraphQL } from "../testing/graphql-client.js";
import { seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from "../testing/tenant-fixtures.js";
import { testDatabaseTargets, type TestDatabase } from "../testing/test-databases.js";

const SET = "mutation($i: SetGuardrailsInput!) { setGuardrails(input: $i) { guardrails { rules { name pattern } } } }";
const GET = "query($s: ID!) { guardrails(scope: ORGANIZATION, scopeId: $s) { rules { name } } }";
const SIMULATE = "query($i: SimulateInput!) { simulate(input: $i) { allowed status error { code message } checks { name passed detail } } }";

describe.each(testDatabaseTargets(process.env.DATABASE_URL))("guardrail patterns on $name", (target) => {
  let tdb: TestDatabase;
  let cp: TestControlPlane;
  let a: Tenant;

  beforeAll(async () => {
    tdb = await target.open();
    cp = await startTestControlPlane(tdb.db);
    a = await seedTenant(cp, "patterns");
  });

  afterAll(async () => {
    await cp?.close();
    await tdb?.dispose();
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["a backreference", { kind: "BLOCK_REGEX", pattern: "(\\w+) \\1" }, 'rule "doubled": backreferences (\\1, \\k<name>) are not supported'],
    ["a lookahead", { kind: "BLOCK_REGEX", pattern: "secret(?=:)" }, 'rule "doubled": lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported'],
    ["a lookbehind", { kind: "BLOCK_REGEX", pattern: "(?<!no )secret" }, 'rule "doubled": lookahead and lookbehind'],
    ["a pattern too large", { kind: "BLOCK_REGEX", pattern: "(?:[a-z]{1,40}\\d){25}" }, 'rule "doubled": the pattern is too large: it compiles to'],
    ["a repeat count over 1000", { kind: "BLOCK_REGEX", pattern: "x{5000}" }, 'rule "doubled": not a valid pattern (RE2 syntax): invalid repeat count'],
    ["too many keywords for one rule", { kind: "BLOCK_KEYWORDS", keywords: Array.from({ length: 300 }, (_, i) => `${i}-`.padEnd(12, "w")) }, 'rule "doubled": the keywords are too many or too long'],
  ])("setGuardrails refuses %s with BAD_USER_INPUT naming the rule, and keeps the rules it had", async (_, rule, message) => {
    await gql(cp.url, a.adminToken, SET, { i: { scope: "ORGANIZATION", scopeId: a.orgId, rules: [{ name: "kept", kind: "BLOCK_KEYWORDS", keywords: ["kept"] }] } });
    const res = await postGraphQL(cp.url, a.adminToken, SET, {
      i: {
        scope: "ORGANIZATION",
        scopeId: a.orgId,
        rules: [
          { name: "ok", kind: "BLOCK_REGEX", pattern: "fine" },
          { name: "doubled", ...rule },
        ],
      },
    });
    expect(errorCode(res)).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0]?.message).toContain(message);
    const now = await gql<{ guardrails: { rules: Array<{ name: string }> } }>(cp.url, a.adminToken, GET, { s: a.orgId });
    expect(now.guardrails.rules.map((r) => r.name)).toEqual(["kept"]);
  });

  it("simulate answers a catastrophic pattern at once, with the decision the data plane makes", async () => {
    await gql(cp.url, a.adminToken, SET, { i: { scope: "ORGANIZATION", scopeId: a.orgId, rules: [{ name: "redos", kind: "BLOCK_REGEX", pattern: "(a+)+$" }] } });
    const key = await gql<{ createVirtualKey: { secret: string } }>(cp.url, a.adminToken, "mutation($i: CreateVirtualKeyInput!) { createVirtualKey(input: $i) { secret } }", {
      i: { organizationId: a.orgId, name: "redos", kind: "SERVICE" },
    });
    const run = (content: string) =>
      gql<{ simulate: { allowed: boolean; status: number; error: { code: string; message: string } | null; checks: Array<{ name: string; passed: boolean }> } }>(cp.url, a.adminToken, SIMULATE, {
        i: { secret: key.createVirtualKey.secret, path: "/v1/chat/completions", body: { model: "chat-small", messages: [{ role: "user", content }], max_tokens: 8 } },
      });
    for (let i = 0; i < 100 && (await run("warm-up")).simulate.status === 401; i++) await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const hostile = await run(`${"a".repeat(40)}b`);
    const ms = performance.now() - started;
    expect(hostile.simulate.allowed).toBe(true);
    expect(hostile.simulate.checks.find((c) => c.name === "guardrail")).toMatchObject({ passed: true });
    expect(ms).toBeLessThan(1000);
    const matching = await run("aaaa");
    expect(matching.simulate).toMatchObject({ allowed: false, error: { code: "guardrail_blocked", message: 'blocked by guardrail "redos" of organization "patterns"' } });
  });
});
