/**
 * Which outbound addresses the gateway may call (provider base URLs, webhooks). Link-local and
 * cloud-metadata addresses are refused unless the operator allows them: 169.254.0.0/16,
 * fe80::/10 and fd00:ec2::254, also when disguised (IPv4-mapped, -compatible, NAT64 and 6to4
 * IPv6, decimal/octal/hex and short IPv4 forms, a trailing dot). Private and loopback addresses
 * stay allowed (self-hosted models, a local mock). Pure: no DNS here; the apps call
 * `findBlockedAddress` on what their resolver returned, before connecting.
 */

/** Host names that resolve to a cloud metadata service (refused without a lookup). */
const METADATA_HOST_NAMES = new Set(["metadata.google.internal", "metadata.goog"]);

/** An outbound URL that may not be called, with a reason for the caller. */
export interface OutboundRefusal {
  readonly ok: false;
  /** Lowercase sentence without the field name, e.g. `must be http:// or https://`. */
  readonly reason: string;
}

/** The result of checking an outbound URL. */
export type OutboundUrlCheck = { readonly ok: true; readonly url: URL } | OutboundRefusal;

const IPV4_PART = /^(?:0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/i;

function parsePart(part: string): number {
  if (/^0x/i.test(part)) return part.length === 2 ? 0 : Number.parseInt(part.slice(2), 16);
  if (part.length > 1 && part.startsWith("0")) return Number.parseInt(part.slice(1), 8);
  return Number(part);
}

/**
 * The four bytes of an IPv4 address written in any form `inet_aton` and URL parsers accept
 * (`169.254.169.254`, `2852039166`, `0251.0376.0251.0376`, `0xa9.0xfe.43518`, a trailing dot);
 * null when `host` is not such an address.
 */
export function parseIpv4(host: string): [number, number, number, number] | null {
  const parts = host.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (parts.length === 0 || parts.length > 4 || !parts.every((p) => IPV4_PART.test(p))) return null;
  const values = parts.map(parsePart);
  const last = values.pop() as number;
  if (values.some((v) => v > 255)) return null;
  const lastBytes = 4 - values.length;
  if (last >= 256 ** lastBytes) return null;
  let n = 0;
  for (const v of values) n = n * 256 + v;
  n = n * 256 ** lastBytes + last;
  return [Math.floor(n / 2 ** 24) % 256, Math.floor(n / 2 ** 16) % 256, Math.floor(n / 2 ** 8) % 256, n % 256];
}

/** The eight 16-bit groups of an IPv6 address (brackets and a `%zone` allowed); null when not one. */
export function parseIpv6(host: string): number[] | null {
  let s = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":") || !/^[0-9a-f:.]+$/i.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (text: string): number[] | null => {
    if (text === "") return [];
    const out: number[] = [];
    const items = text.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as string;
      if (i === items.length - 1 && item.includes(".")) {
        if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(item)) return null;
        const v4 = item.split(".").map(Number);
        if (v4.some((b) => b > 255)) return null;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (/^[0-9a-f]{1,4}$/i.test(item)) out.push(Number.parseInt(item, 16));
      else return null;
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  if (head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

const isLinkLocalV4 = (b: readonly number[]): boolean => b[0] === 169 && b[1] === 254;

function embeddedV4(g: readonly number[]): number[] | null {
  const v4 = (hi: number, lo: number): number[] => [hi >> 8, hi & 255, lo >> 8, lo & 255];
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return v4(g[6] as number, g[7] as number); // ::ffff:a.b.c.d, ::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6] as number, g[7] as number); // NAT64 64:ff9b::/96
  if (g[0] === 0x2002) return v4(g[1] as number, g[2] as number); // 6to4 2002:AABB:CCDD::/48
  return null;
}

/**
 * True when `address` (an IP literal in any notation above) is link-local or a cloud metadata
 * address: 169.254.0.0/16, fe80::/10, fd00:ec2::254, or an IPv6 form embedding 169.254.x.x.
 * False for anything else, including host names (resolve them first).
 */
export function isLinkLocalAddress(address: string): boolean {
  const v4 = parseIpv4(address);
  if (v4 !== null) return isLinkLocalV4(v4);
  const g = parseIpv6(address);
  if (g === null) return false;
  if (((g[0] as number) & 0xffc0) === 0xfe80) return true;
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return true;
  const inner = embeddedV4(g);
  return inner !== null && isLinkLocalV4(inner);
}

/** The first of `addresses` (resolver answers) that may not be called, or null when all may. */
export function findBlockedAddress(addresses: readonly string[], allowLinkLocal: boolean): string | null {
  if (allowLinkLocal) return null;
  return addresses.find((a) => isLinkLocalAddress(a)) ?? null;
}

/** True when a host name (not an address) is a well-known cloud metadata name. */
export function isMetadataHostName(host: string): boolean {
  return METADATA_HOST_NAMES.has(host.toLowerCase().replace(/\.+$/, ""));
}

/**
 * Checks a URL the gateway will call: http(s) only, and no link-local / metadata host unless
 * `allowLinkLocal`. Host names are checked again where they are resolved (at connect time).
 */
export function checkOutboundUrl(raw: string, allowLinkLocal: boolean): OutboundUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, reason: "must be http:// or https://" };
  if (allowLinkLocal) return { ok: true, url };
  const host = url.hostname;
  if (isLinkLocalAddress(host) || isMetadataHostName(host)) {
    return { ok: false, reason: `targets a link-local or cloud-metadata address (${host}), which is refused unless the operator allows it` };
  }
  return { ok: true, url };
}

/** One resolver answer. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Options a socket passes to its lookup function (`all` under Happy Eyeballs). */
export interface LookupOptions {
  readonly all?: boolean;
  readonly family?: number | string;
  readonly hints?: number;
}

/** The callback of a `dns.lookup`-shaped function: one address, or all of them with `all`. */
export type LookupCallback = (err: Error | null, address: string | ResolvedAddress[], family?: number) => void;

/** A `dns.lookup`-shaped function, as `net.connect({ lookup })` calls it. */
export type LookupLike = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/** The error of a connection refused because its host resolved to a blocked address. */
export class OutboundAddressError extends Error {
  override readonly name = "OutboundAddressError";
  readonly code = "ERR_OUTBOUND_ADDRESS_BLOCKED";
  /** `host` resolved to (or is) `address`, a link-local / cloud-metadata address. */
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`refused to connect to ${host}: it resolves to the link-local or cloud-metadata address ${address}`);
  }
}

/**
 * Wraps a resolver so a connection never starts towards a link-local / metadata address (DNS
 * rebinding): every address the name resolves to is checked (all of them, so a mixed answer
 * cannot slip one through), and the caller receives exactly the answer that was checked.
 */
export function guardLookup(base: LookupLike, allowLinkLocal: boolean): LookupLike {
  if (allowLinkLocal) return base;
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true }, (err, answer) => {
      if (err) return callback(err, options.all ? [] : "");
      const all = typeof answer === "string" ? [{ address: answer, family: answer.includes(":") ? 6 : 4 }] : answer;
      const blocked = findBlockedAddress(
        all.map((a) => a.address),
        false,
      );
      if (blocked !== null) return callback(new OutboundAddressError(hostname, blocked), options.all ? [] : "");
      if (options.all) return callback(null, all);
      const first = all[0];
      if (first === undefined) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
      callback(null, first.address, first.family);
    });
  };
}

/**
 * The refusal of a connection to `hostname` as a URL gives it (an IPv6 literal in brackets) when
 * it is itself a link-local / metadata address; null for allowed addresses and for host names
 * (their answers are checked by `guardLookup`).
 */
export function refuseLiteralHost(hostname: string, allowLinkLocal: boolean): OutboundAddressError | null {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  const blocked = findBlockedAddress([host], allowLinkLocal);
  return blocked === null ? null : new OutboundAddressError(host, blocked);
}
