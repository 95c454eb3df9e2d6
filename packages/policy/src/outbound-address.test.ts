import { describe, expect, it } from "vitest";
import {
  checkOutboundUrl,
  findBlockedAddress,
  guardLookup,
  isLinkLocalAddress,
  OutboundAddressError,
  parseIpv4,
  parseIpv6,
  refuseLiteralHost,
  type LookupLike,
  type ResolvedAddress,
} from "./outbound-address.js";

/** Every way a caller may spell the AWS/GCP/Azure metadata endpoint (or another link-local host). */
const DISGUISED_METADATA_URLS = [
  "http://169.254.169.254/",
  "http://169.254.169.254/latest/meta-data/",
  "https://169.254.169.254:443/v1",
  "http://169.254.169.254./",
  "http://2852039166/",
  "http://0xa9fea9fe/",
  "http://0xA9.0xFE.0xA9.0xFE/",
  "http://0251.0376.0251.0376/",
  "http://0251.0376.43518/",
  "http://169.16689662/",
  "http://169.254.43518/",
  "http://0x0a9.254.169.254/",
  "http://[::ffff:169.254.169.254]/",
  "http://[::ffff:a9fe:a9fe]/",
  "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
  "http://[::169.254.169.254]/",
  "http://[64:ff9b::169.254.169.254]/",
  "http://[2002:a9fe:a9fe::1]/",
  "http://[fd00:ec2::254]/",
  "http://[FD00:0EC2:0:0:0:0:0:254]/",
  "http://[fe80::1]/",
  "http://[fe80::a9fe:a9fe]:8080/",
  "http://[febf:ffff::1]/",
  "http://169.254.170.2/v2/credentials",
  "http://169.254.0.1/",
  "http://metadata.google.internal/computeMetadata/v1/",
  "http://METADATA.GOOGLE.INTERNAL./",
  "http://user:pass@169.254.169.254/",
];

const ALLOWED_URLS = [
  "http://127.0.0.1:4010/v1",
  "http://localhost:8000/v1",
  "http://[::1]:8000/v1",
  "http://10.0.0.5:8000/v1",
  "http://192.168.1.20/v1",
  "http://172.16.3.4/v1",
  "http://[fd12:3456::1]/v1",
  "http://[fec0::1]/v1",
  "http://169.253.255.255/",
  "http://169.255.0.1/",
  "https://api.openai.com/v1",
  "https://169.254.example.com/v1",
  "http://vllm.internal:8000/v1",
];

describe("outbound URL rules", () => {
  it.each(DISGUISED_METADATA_URLS)("refuses %s", (url) => {
    const r = checkOutboundUrl(url, false);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/link-local or cloud-metadata/);
  });

  it.each(ALLOWED_URLS)("allows %s (loopback, private, public, names)", (url) => {
    expect(checkOutboundUrl(url, false).ok).toBe(true);
  });

  it.each(DISGUISED_METADATA_URLS)("allows %s when the operator allows link-local", (url) => {
    expect(checkOutboundUrl(url, true).ok).toBe(true);
  });

  it.each(["file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:25/", "javascript:alert(1)", "data:text/plain,hi", "ws://127.0.0.1/"])(
    "refuses the non-http(s) scheme of %s, even when link-local is allowed",
    (url) => {
      for (const allow of [false, true]) expect(checkOutboundUrl(url, allow)).toEqual({ ok: false, reason: "must be http:// or https://" });
    },
  );

  it.each(["not a url", "http://", "http://[::ffff:169.254.169.254/", ""])("refuses %j as not a URL", (url) => {
    expect(checkOutboundUrl(url, false)).toEqual({ ok: false, reason: "is not a URL" });
  });
});

describe("address classification (resolver answers, raw host strings)", () => {
  it.each([
    "169.254.169.254",
    "169.254.169.254.",
    "2852039166",
    "0xa9fea9fe",
    "0251.0376.0251.0376",
    "169.254.0.0",
    "169.254.255.255",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "[::ffff:a9fe:a9fe]",
    "fe80::1",
    "fe80::1%eth0",
    "fe80::1%2",
    "FE80::ABCD",
    "febf::1",
    "fd00:ec2::254",
    "fd00:ec2:0::254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:1::",
  ])("%s is link-local / metadata", (a) => {
    expect(isLinkLocalAddress(a)).toBe(true);
    expect(findBlockedAddress(["127.0.0.1", a], false)).toBe(a);
    expect(findBlockedAddress(["127.0.0.1", a], true)).toBeNull();
  });

  it.each([
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "10.1.2.3",
    "192.168.0.1",
    "172.31.255.255",
    "0.0.0.0",
    "::1",
    "::",
    "fd00:ec2::253",
    "fd00::254",
    "fec0::1",
    "fe7f::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "169.253.1.1",
    "169.255.1.1",
    "api.openai.com",
    "256.1.1.1",
    "1.2.3.4.5",
    "08.1.1.1",
    "",
  ])("%s is not", (a) => {
    expect(isLinkLocalAddress(a)).toBe(false);
  });

  it("parses IPv4 the way inet_aton does", () => {
    expect(parseIpv4("2852039166")).toEqual([169, 254, 169, 254]);
    expect(parseIpv4("0251.0376.0251.0376")).toEqual([169, 254, 169, 254]);
    expect(parseIpv4("169.254.43518")).toEqual([169, 254, 169, 254]);
    expect(parseIpv4("169.16689662")).toEqual([169, 254, 169, 254]);
    expect(parseIpv4("0x.0.0.0")).toEqual([0, 0, 0, 0]);
    expect(parseIpv4("4294967296")).toBeNull();
    expect(parseIpv4("1.2.3.256")).toBeNull();
    expect(parseIpv4("1..2.3")).toBeNull();
    expect(parseIpv4("example.com")).toBeNull();
  });

  it("parses IPv6 with compression, embedded IPv4, brackets and zones", () => {
    expect(parseIpv6("::ffff:169.254.169.254")).toEqual([0, 0, 0, 0, 0, 0xffff, 0xa9fe, 0xa9fe]);
    expect(parseIpv6("[fe80::1%eth0]")).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1::2::3")).toBeNull();
    expect(parseIpv6("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIpv6("::ffff:300.1.1.1")).toBeNull();
    expect(parseIpv6("12345::")).toBeNull();
    expect(parseIpv6("169.254.169.254")).toBeNull();
  });
});

describe("guardLookup (connect-time DNS check)", () => {
  const resolver =
    (answers: Record<string, ResolvedAddress[]>): LookupLike =>
    (hostname, options, callback) => {
      const all = answers[hostname];
      if (all === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "");
      if (options.all) return callback(null, all);
      callback(null, all[0]?.address ?? "", all[0]?.family);
    };
  const dns = resolver({
    "rebind.test": [{ address: "169.254.169.254", family: 4 }],
    "mixed.test": [
      { address: "10.0.0.7", family: 4 },
      { address: "fe80::1", family: 6 },
    ],
    "mapped.test": [{ address: "::ffff:169.254.169.254", family: 6 }],
    "vllm.test": [
      { address: "10.0.0.7", family: 4 },
      { address: "fd12::7", family: 6 },
    ],
  });
  const run = (lookup: LookupLike, host: string, all: boolean) =>
    new Promise<{ err: Error | null; address: string | ResolvedAddress[]; family?: number }>((resolve) => lookup(host, { all }, (err, address, family) => resolve({ err, address, family })));

  it.each([
    ["rebind.test", "169.254.169.254"],
    ["mixed.test", "fe80::1"],
    ["mapped.test", "::ffff:169.254.169.254"],
  ])("refuses %s (resolves to %s) whether one or all answers are asked for", async (host, address) => {
    for (const all of [false, true]) {
      const r = await run(guardLookup(dns, false), host, all);
      expect(r.err).toBeInstanceOf(OutboundAddressError);
      expect(r.err).toMatchObject({ code: "ERR_OUTBOUND_ADDRESS_BLOCKED", host, address });
    }
  });

  it("passes private answers through unchanged, one or all", async () => {
    expect(await run(guardLookup(dns, false), "vllm.test", false)).toEqual({ err: null, address: "10.0.0.7", family: 4 });
    expect(await run(guardLookup(dns, false), "vllm.test", true)).toMatchObject({
      err: null,
      address: [
        { address: "10.0.0.7", family: 4 },
        { address: "fd12::7", family: 6 },
      ],
    });
  });

  it("passes resolver errors through, and allows everything when the operator allows link-local", async () => {
    expect((await run(guardLookup(dns, false), "nowhere.test", false)).err).toMatchObject({ code: "ENOTFOUND" });
    expect(await run(guardLookup(dns, true), "rebind.test", false)).toEqual({ err: null, address: "169.254.169.254", family: 4 });
  });
});

describe("refuseLiteralHost (connect-time check of the URL's host)", () => {
  it.each(["169.254.169.254", "[fe80::1]", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]"])("refuses %s", (host) => {
    expect(refuseLiteralHost(host, false)).toBeInstanceOf(OutboundAddressError);
    expect(refuseLiteralHost(host, true)).toBeNull();
  });
  it.each(["127.0.0.1", "[::1]", "10.0.0.1", "api.openai.com", "169.254.example.com"])("lets %s through", (host) => {
    expect(refuseLiteralHost(host, false)).toBeNull();
  });
});
