/**
 * The connector of upstream calls: before a socket is opened, an IP-literal host and every
 * address a host name resolves to are checked against the outbound address rules, so a provider
 * base URL that points (or is re-pointed by DNS) at a link-local or cloud-metadata address is
 * refused before any packet is sent. The cost is one check per new connection, none per request.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { guardLookup, refuseLiteralHost, type LookupLike } from "@tollgate/policy";
import { buildConnector } from "undici";

/** What upstream connections may reach. */
export interface OutboundRules {
  /** Link-local / cloud-metadata addresses allowed (TOLLGATE_ALLOW_LINK_LOCAL_OUTBOUND). */
  readonly allowLinkLocal: boolean;
  /** Resolver (default `dns.lookup`; tests inject one). */
  readonly lookup?: LookupLike;
}

const systemLookup: LookupLike = (hostname, options, callback) =>
  dnsLookup(hostname, { all: options.all === true, family: options.family as number | undefined, hints: options.hints }, (err, address, family) =>
    callback(err, address as string | LookupAddress[], family),
  );

/**
 * Wraps `inner` (the connector that opens sockets) so an IP-literal link-local / metadata host is
 * refused without calling it: no socket, no packet.
 */
export function guardConnector(inner: buildConnector.connector, allowLinkLocal: boolean): buildConnector.connector {
  return (options, callback) => {
    const refused = refuseLiteralHost(options.hostname, allowLinkLocal);
    if (refused !== null) return callback(refused, null);
    return inner(options, callback);
  };
}

/** An undici connector that enforces `rules` before connecting (connect timeout `timeoutMs`): literal hosts here, resolved names in the lookup. */
export function buildGuardedConnector(timeoutMs: number, rules: OutboundRules): buildConnector.connector {
  const lookup = guardLookup(rules.lookup ?? systemLookup, rules.allowLinkLocal) as unknown as LookupFunction;
  return guardConnector(buildConnector({ timeout: timeoutMs, lookup }), rules.allowLinkLocal);
}
