/**
 * Network regressions of issue 8, on real processes: the policy channel under mutual TLS (a node
 * with the CA's client certificate gets its snapshot and serves; one with no certificate, another
 * CA's certificate, or plaintext is refused and the control plane logs it), provider base URLs and
 * webhook URLs at link-local / cloud-metadata addresses refused by GraphQL, budget-alert webhooks
 * signed the Standard Webhooks way, and a host name that resolves to a link-local address refused
 * at connect time. Every connection goes to loopback: the link-local cases are refused before a
 * socket exists, and the one resolver answer used is fe80::1 on the loopback interface.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LookupLike } from "@tollgate/policy";
import { createUpstreamClient, UpstreamCallError } from "@tollgate/data-plane";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../support/certificates.js";
import { GraphQLRequestError } from "../support/graphql.js";
import { eventually, findFreePort, spawnTollgate, type RunningProcess } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { chat, createKey, setupTenant, type Tenant } from "../support/tenant.js";

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let pki: TestPki;
let stack: Stack;
let tenant: Tenant;
let receiver: Server;
let receiverUrl = "";
const deliveries: Delivery[] = [];
const scratch = mkdtempSync(path.join(tmpdir(), "tollgate-net-"));

beforeAll(async () => {
  pki = createTestPki();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  stack = await startStack(1, {
    controlPlaneEnv: { TOLLGATE_GRPC_TLS_CERT: pki.serverCert, TOLLGATE_GRPC_TLS_KEY: pki.serverKey, TOLLGATE_GRPC_TLS_CA: pki.caCert, TOLLGATE_GRPC_MTLS: "true" },
    nodeEnv: () => ({ TOLLGATE_GRPC_TLS_CA: pki.caCert, TOLLGATE_GRPC_TLS_CLIENT_CERT: pki.clientCert, TOLLGATE_GRPC_TLS_CLIENT_KEY: pki.clientKey }),
  });
  tenant = await setupTenant(stack.gql, stack.mockUrl);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  pki?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function gqlError(query: string, variables: Record<string, unknown>): Promise<GraphQLRequestError> {
  try {
    await stack.gql(query, variables);
  } catch (e) {
    if (e instanceof GraphQLRequestError) return e;
    throw e;
  }
  throw new Error("the mutation was accepted");
}

describe("the policy channel under mutual TLS", () => {
  it("a node with a client certificate signed by the CA gets its snapshot and serves a request", async () => {
    expect(await (await fetch(`${stack.nodeUrls[0]}/readyz`)).json()).toMatchObject({ status: "ready", controlPlaneConnected: true });
    const key = await createKey(stack.gql, tenant.orgId, "tls-key");
    const result = await eventually(
      async () => {
        const r = await chat(stack.nodeUrls[0] as string, key.secret, "hello over TLS");
        return r.status === 200 ? r : undefined;
      },
      20_000,
      "the key to reach the node over the TLS channel",
    );
    expect(result.code).toBe("");
  });

  it.each<[string, (p: TestPki) => Record<string, string>]>([
    ["no client certificate", (p) => ({ TOLLGATE_GRPC_TLS_CA: p.caCert })],
    ["a client certificate from another CA", (p) => ({ TOLLGATE_GRPC_TLS_CA: p.caCert, TOLLGATE_GRPC_TLS_CLIENT_CERT: p.otherClientCert, TOLLGATE_GRPC_TLS_CLIENT_KEY: p.otherClientKey })],
    ["no TLS at all", () => ({})],
  ])("a node with %s is refused: it never becomes ready, and the control plane logs the refusal", async (_, tlsEnv) => {
    const port = await findFreePort();
    const logFrom = stack.controlPlane.output().length;
    const base = stack.nodeEnv(0);
    const node: RunningProcess = spawnTollgate("intruder", "data-plane", {
      PORT: String(port),
      NODE_ID: `intruder-${port}`,
      CONTROL_PLANE_URL: base.CONTROL_PLANE_URL as string,
      TOLLGATE_NODE_TOKEN: base.TOLLGATE_NODE_TOKEN as string,
      TOLLGATE_DATA_DIR: path.join(scratch, `intruder-${port}`),
      ...tlsEnv,
    });
    try {
      await node.waitForOutput(/is listening on/, 30_000);
      const refusal = await eventually(
        async () => {
          const lines = stack.controlPlane
            .output()
            .slice(logFrom)
            .split("\n")
            .filter((l) => l.includes("refused a gRPC connection"));
          return lines.length > 0 ? lines[0] : undefined;
        },
        20_000,
        "the control plane to log the refused node",
      );
      expect(refusal).toContain('"remote":"127.0.0.1"');
      await new Promise((r) => setTimeout(r, 1_500));
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(node.output()).toMatch(/policy stream error/);
    } finally {
      await node.stop();
    }
  });
});

describe("TLS settings are checked at start", () => {
  const token = "t".repeat(32);
  const cases: Array<{ command: string; env: (p: TestPki) => Record<string, string>; names: string }> = [
    { command: "control-plane", env: () => ({ TOLLGATE_GRPC_TLS_CERT: "/nonexistent/server.crt", TOLLGATE_GRPC_TLS_KEY: "/nonexistent/server.key" }), names: "TOLLGATE_GRPC_TLS_CERT" },
    { command: "control-plane", env: (p) => ({ TOLLGATE_GRPC_TLS_CERT: p.serverKey, TOLLGATE_GRPC_TLS_KEY: p.serverKey }), names: "TOLLGATE_GRPC_TLS_CERT" },
    { command: "control-plane", env: (p) => ({ TOLLGATE_GRPC_TLS_CERT: p.serverCert, TOLLGATE_GRPC_TLS_KEY: p.clientKey }), names: "TOLLGATE_GRPC_TLS_KEY" },
    { command: "control-plane", env: (p) => ({ TOLLGATE_GRPC_TLS_CERT: p.serverCert, TOLLGATE_GRPC_TLS_KEY: p.serverKey, TOLLGATE_GRPC_MTLS: "true" }), names: "TOLLGATE_GRPC_TLS_CA" },
    { command: "control-plane", env: () => ({ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "yes please" }), names: "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND" },
    { command: "data-plane", env: (p) => ({ TOLLGATE_GRPC_TLS_CLIENT_CERT: p.clientCert }), names: "TOLLGATE_GRPC_TLS_CLIENT_KEY" },
    { command: "data-plane", env: (p) => ({ TOLLGATE_GRPC_TLS_CA: p.dir }), names: "TOLLGATE_GRPC_TLS_CA" },
    { command: "data-plane", env: () => ({ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "2" }), names: "TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND" },
  ];
  it.each(cases)("$command with a bad $names exits 1 with one line naming it", async ({ command, env, names }) => {
    const proc = spawnTollgate(command, command, {
      TOLLGATE_DATA_DIR: path.join(scratch, "config"),
      TOLLGATE_NODE_TOKEN: token,
      PORT: "0",
      CONTROL_PLANE_HTTP_PORT: "0",
      CONTROL_PLANE_GRPC_PORT: "0",
      ...env(pki),
    });
    const code = await new Promise<number | null>((resolve) => proc.child.once("exit", (c) => resolve(c)));
    const lines = proc
      .output()
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(names);
    expect(proc.output()).not.toMatch(/\n\s+at /);
  });
});

describe("outbound addresses", () => {
  const createAccount = `mutation($input: CreateProviderAccountInput!) { createProviderAccount(input: $input) { providerAccount { id } } }`;
  const upsertAccount = `mutation($input: UpsertProviderAccountInput!) { upsertProviderAccount(input: $input) { providerAccount { id } } }`;

  it.each([
    "http://169.254.169.254/",
    "http://169.254.169.254./latest/meta-data/",
    "http://2852039166/",
    "http://0251.0376.0251.0376/",
    "http://0xa9fea9fe/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://metadata.google.internal/",
  ])("a provider account with baseUrl %s is refused with BAD_USER_INPUT naming baseUrl", async (baseUrl) => {
    for (const [mutation, name] of [
      [createAccount, "meta-create"],
      [upsertAccount, "meta-upsert"],
    ] as const) {
      const err = await gqlError(mutation, { input: { organizationId: tenant.orgId, name, provider: "OPENAI_COMPATIBLE", baseUrl, apiKey: "sk-meta-0123456789" } });
      expect(err.code).toBe("BAD_USER_INPUT");
      expect(err.errors[0]?.message).toMatch(/^baseUrl targets a link-local or cloud-metadata address/);
    }
  });

  it("a non-http(s) baseUrl is refused; a loopback one (the mock) was accepted", async () => {
    const err = await gqlError(createAccount, { input: { organizationId: tenant.orgId, name: "file", provider: "OPENAI_COMPATIBLE", baseUrl: "file:///etc/passwd", apiKey: "sk-0123456789" } });
    expect(err.code).toBe("BAD_USER_INPUT");
    expect(err.errors[0]?.message).toBe("baseUrl must be http:// or https://");
    expect(stack.mockUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });

  it("a webhook URL at a metadata address is refused with BAD_USER_INPUT naming webhookUrl", async () => {
    const err = await gqlError(`mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { webhookSecret } }`, { i: { id: tenant.orgId, webhookUrl: "http://[::ffff:a9fe:a9fe]/hook" } });
    expect(err.code).toBe("BAD_USER_INPUT");
    expect(err.errors[0]?.message).toMatch(/^webhookUrl targets a link-local or cloud-metadata address/);
  });

  it("an upstream host name that resolves to a link-local address is refused at connect time, before any socket (injected resolver)", async () => {
    const upstream = await findFreePort();
    const lookup: LookupLike = (_host, options, callback) => (options.all ? callback(null, [{ address: "fe80::1%lo", family: 6 }]) : callback(null, "fe80::1%lo", 6));
    const client = createUpstreamClient({ connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, totalMs: 2_000 }, { allowLinkLocal: false, lookup });
    try {
      const err = await client
        .send({ url: `http://metadata.rebind.test:${upstream}/v1/chat/completions`, headers: {}, body: "{}", clientSignal: new AbortController().signal })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamCallError);
      expect(err).toMatchObject({ failure: "connection", message: "upstream request failed: ERR_OUTBOUND_ADDRESS_BLOCKED" });
    } finally {
      await client.close();
    }
  });
});

describe("budget-alert webhooks", () => {
  it("are signed the Standard Webhooks way: the receiver verifies with standardwebhooks, and a replayed delivery fails", async () => {
    const set = await stack.gql<{ updateOrganization: { webhookSecret: string } }>(`mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { webhookSecret } }`, {
      i: { id: tenant.orgId, webhookUrl: receiverUrl },
    });
    const secret = set.updateOrganization.webhookSecret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    // The budget comes with the key (so the node charges it from the first request); setBudget then adds the alert threshold to it.
    const key = await createKey(stack.gql, tenant.orgId, "alerting", { budgets: [{ unit: "REQUESTS", window: "DAY", limit: 1, mode: "SOFT" }] });
    const budget = await stack.gql<{ setBudget: { budget: { id: string } } }>(`mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`, {
      i: { scope: "VIRTUAL_KEY", scopeId: key.id, unit: "REQUESTS", window: "DAY", limit: 1, mode: "SOFT", alertThresholds: [1.0] },
    });
    const listed = await stack.gql<{ virtualKey: { budgets: Array<{ id: string }> } }>(`query($id: ID!) { virtualKey(id: $id) { budgets { id } } }`, { id: key.id });
    expect(listed.virtualKey.budgets.map((b) => b.id)).toEqual([budget.setBudget.budget.id]);
    await eventually(async () => ((await chat(stack.nodeUrls[0] as string, key.secret, "spend")).status === 200 ? true : undefined), 20_000, "a request on the alerting key");
    const delivery = await eventually(async () => deliveries[0], 30_000, "the budget alert webhook");
    const event = new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>) as { type: string; id: string };
    expect(event.type).toBe("budget.threshold");
    expect(delivery.headers["webhook-id"]).toBe(event.id);
    const old = String(Math.floor(Date.now() / 1000) - 600);
    expect(() => new Webhook(secret).verify(delivery.body, { ...(delivery.headers as Record<string, string>), "webhook-timestamp": old })).toThrow();
    expect(delivery.headers["x-tollgate-signature"]).toBeUndefined();
  }, 90_000);
});

describe("each process applies its own outbound setting", () => {
  it("a link-local base URL allowed by the control plane's operator is still refused by a node that does not allow it, before connecting", async () => {
    await stack.restartControlPlane({ TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND: "true" });
    // fe80::1 without an interface: Linux refuses a link-local connect without a scope, so not even a regression could send a packet.
    const account = await stack.gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
      `mutation($input: CreateProviderAccountInput!) { createProviderAccount(input: $input) { providerAccount { id } } }`,
      { input: { organizationId: tenant.orgId, name: "link-local", provider: "OPENAI_COMPATIBLE", baseUrl: "http://[fe80::1]:9/v1", apiKey: "sk-link-local-0123456789" } },
    );
    await stack.gql(`mutation($input: CreateModelInput!) { createModel(input: $input) { model { id } } }`, {
      input: { providerAccountId: account.createProviderAccount.providerAccount.id, name: "link-local-model", inputPricePerMillion: "1.00", outputPricePerMillion: "2.00", maxOutputTokens: 100 },
    });
    const key = await createKey(stack.gql, tenant.orgId, "link-local-key");
    const answer = await eventually(
      async () => {
        const res = await fetch(`${stack.nodeUrls[0]}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
          body: JSON.stringify({ model: "link-local-model", messages: [{ role: "user", content: "hi" }], max_tokens: 5 }),
        });
        const body = (await res.json()) as { error?: { code?: string } };
        return res.status === 401 || res.status === 404 ? undefined : { status: res.status, code: body.error?.code };
      },
      30_000,
      "the node to know the key and the model",
    );
    expect(answer).toEqual({ status: 502, code: "upstream_error" });
    const attempts = (stack.nodes[0]?.output() ?? "").split("\n").filter((l) => l.includes("upstream attempt failed") && l.includes('"account":"link-local"'));
    expect(attempts.length).toBeGreaterThan(0);
    for (const line of attempts) expect(line).toContain("upstream request failed: ERR_OUTBOUND_ADDRESS_BLOCKED");
  }, 90_000);
});
