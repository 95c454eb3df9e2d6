import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OutboundAddressError, type LookupLike } from "@tollgate/policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardConnector } from "./outbound-connector.js";
import { createUpstreamClient, UpstreamCallError } from "./upstream.client.js";

// Safety: a resolver answer that slipped through would be fe80::1 on the loopback interface (it
// never leaves the machine); literal addresses are checked against a connector that opens nothing.
describe("upstream connections are checked at connect time", () => {
  let server: Server;
  let port = 0;
  let hits = 0;
  const lookup: LookupLike = (hostname, options, callback) => {
    const address = hostname === "rebind.test" ? "fe80::1%lo" : "127.0.0.1";
    const family = address.includes(":") ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const timeouts = { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 5_000 };

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      res.setHeader("content-type", "application/json").end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = async (host: string): Promise<number | UpstreamCallError> => {
    const client = createUpstreamClient(timeouts, { allowLinkLocal: false, lookup });
    try {
      const exchange = await client.send({ url: `http://${host}:${port}/v1/chat/completions`, headers: {}, body: "{}", clientSignal: new AbortController().signal });
      for await (const _chunk of exchange.body) void _chunk;
      exchange.finish();
      return exchange.status;
    } catch (e) {
      return e as UpstreamCallError;
    } finally {
      await client.close();
    }
  };

  it("a self-hosted upstream whose name resolves to loopback/private is reached", async () => {
    expect(await send("vllm.test")).toBe(200);
  });

  it("an upstream whose name resolves to a link-local address fails as a connection error, before any socket", async () => {
    const before = hits;
    const err = await send("rebind.test");
    expect(err).toBeInstanceOf(UpstreamCallError);
    expect(err).toMatchObject({ failure: "connection", message: "upstream request failed: ERR_OUTBOUND_ADDRESS_BLOCKED" });
    expect(hits).toBe(before);
  });

  it.each(["169.254.169.254", "[fe80::1]", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]"])("the literal host %s never reaches the socket connector", (hostname) => {
    let opened = 0;
    let refused: unknown = null;
    guardConnector(() => {
      opened += 1;
    }, false)({ hostname, host: hostname, protocol: "https:", port: "443" }, (...args) => {
      refused = args[0];
    });
    expect(refused).toBeInstanceOf(OutboundAddressError);
    expect(opened).toBe(0);
  });

  it("with TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND the literal goes to the socket connector", () => {
    let opened = 0;
    guardConnector(() => {
      opened += 1;
    }, true)({ hostname: "169.254.169.254", host: "169.254.169.254", protocol: "http:", port: "80" }, () => undefined);
    expect(opened).toBe(1);
  });
});
