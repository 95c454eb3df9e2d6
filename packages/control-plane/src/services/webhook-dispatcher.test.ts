import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OutboundAddressError, type LookupLike } from "@tollgate/policy";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWebhookSecret, requireWebhookSecret } from "./organization-settings.service.js";
import { createGuardedAgent, guardConnector, signWebhook, webhookSigningKey } from "./webhook-dispatcher.js";

const BODY = JSON.stringify({ type: "budget.threshold", id: "alrt_1", threshold: 0.5 });

describe("Standard Webhooks signatures", () => {
  it("verify with the standardwebhooks package, using the secret the API showed", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const headers = signWebhook(secret, "alrt_1", Date.now(), BODY);
    expect(headers["webhook-id"]).toBe("alrt_1");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it("a captured delivery replayed later fails (its timestamp is signed and too old)", () => {
    const secret = generateWebhookSecret();
    const captured = signWebhook(secret, "alrt_1", Date.now() - 10 * 60_000, BODY);
    expect(() => new Webhook(secret).verify(BODY, captured)).toThrow("Message timestamp too old");
    const freshTimestamp = { ...captured, "webhook-timestamp": String(Math.floor(Date.now() / 1000)) };
    expect(() => new Webhook(secret).verify(BODY, freshTimestamp)).toThrow("No matching signature found");
  });

  it("a changed body, id, or another secret fails", () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook(secret, "alrt_1", Date.now(), BODY);
    expect(() => new Webhook(secret).verify(BODY.replace("0.5", "0.9"), headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secret).verify(BODY, { ...headers, "webhook-id": "alrt_2" })).toThrow(WebhookVerificationError);
    expect(() => new Webhook(generateWebhookSecret()).verify(BODY, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secret).verify(BODY, { ...headers, "webhook-signature": "" })).toThrow("Missing required headers");
  });

  it("secrets stored before Standard Webhooks keep working (base64url whsec_ decodes to its key; another admin-chosen string signs with its bytes)", () => {
    const key = randomBytes(32);
    const legacy = `whsec_${key.toString("base64url")}`;
    expect(webhookSigningKey(legacy).equals(key)).toBe(true);
    const headers = signWebhook(legacy, "alrt_1", Date.now(), BODY);
    expect(new Webhook(`whsec_${key.toString("base64")}`).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    const chosen = "my-own-webhook-secret-1234";
    expect(webhookSigningKey(chosen).toString("utf8")).toBe(chosen);
    expect(new Webhook(`whsec_${Buffer.from(chosen).toString("base64")}`).verify(BODY, signWebhook(chosen, "alrt_1", Date.now(), BODY))).toBeTruthy();
  });

  it.each([
    "whsec_short",
    "sixteen-chars-or-more-but-not-whsec",
    "whsec_" + "A".repeat(20),
    `whsec_${randomBytes(65).toString("base64")}`,
    `whsec_${randomBytes(32).toString("base64url")}_`,
    `whsec_${randomBytes(32).toString("base64")}\n`,
  ])("an admin-chosen secret %j is refused unless whsec_ + base64 of 24-64 bytes", (secret) => {
    expect(() => requireWebhookSecret(secret)).toThrow("webhookSecret must be whsec_");
  });

  it("an admin-chosen whsec_ secret is accepted", () => {
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    expect(requireWebhookSecret(secret)).toBe(secret);
  });
});

describe("webhook connections (connect-time address check)", () => {
  // Safety: a resolver answer that slipped through would be fe80::1 on the loopback interface
  // (never leaves the machine); literal addresses are checked against a connector that never opens sockets.
  let server: Server;
  let port = 0;
  let hits = 0;
  const lookups: string[] = [];
  const lookup: LookupLike = (hostname, options, callback) => {
    lookups.push(hostname);
    const address = hostname === "rebind.test" ? "fe80::1%lo" : "127.0.0.1";
    const family = address.includes(":") ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (origin: string): Promise<unknown> => {
    const agent = createGuardedAgent(false, lookup, 2_000);
    try {
      const res = await agent.request({ origin, path: "/hook", method: "POST", body: "{}" });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (e) {
      return e;
    } finally {
      await agent.close();
    }
  };

  it("a host that resolves to loopback is reached", async () => {
    expect(await post(`http://hooks.test:${port}`)).toEqual({ status: 200, body: "ok" });
    expect(lookups).toContain("hooks.test");
  });

  it("a host that resolves to a link-local address is refused before connecting (DNS rebinding)", async () => {
    const before = hits;
    const err = await post(`http://rebind.test:${port}`);
    expect(err).toBeInstanceOf(Error);
    const cause = (err as Error).cause ?? err;
    expect(cause).toBeInstanceOf(OutboundAddressError);
    expect(cause).toMatchObject({ host: "rebind.test", address: "fe80::1%lo" });
    expect(hits).toBe(before);
  });

  it.each(["169.254.169.254", "[fe80::1]", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]"])("the literal host %s never reaches the socket connector", (hostname) => {
    let opened = 0;
    const connect = guardConnector(() => {
      opened += 1;
    }, false);
    let refused: unknown = null;
    connect({ hostname, host: hostname, protocol: "http:", port: "80" }, (...args) => {
      refused = args[0];
    });
    expect(refused).toBeInstanceOf(OutboundAddressError);
    expect(opened).toBe(0);
  });

  it("loopback and private literals, and link-local ones when allowed, go to the socket connector", () => {
    let opened = 0;
    const inner = (): void => {
      opened += 1;
    };
    for (const hostname of ["127.0.0.1", "[::1]", "10.0.0.1"]) guardConnector(inner, false)({ hostname, host: hostname, protocol: "http:", port: "80" }, () => undefined);
    guardConnector(inner, true)({ hostname: "169.254.169.254", host: "169.254.169.254", protocol: "http:", port: "80" }, () => undefined);
    expect(opened).toBe(4);
  });
});
