/**
 * The live server of `dane-smtp tlsa --connect`: every address of the host (or the one
 * given) connected to, what each served, grouped by chain, and what could not be reached.
 */
import { connectAll, differenceWarning, groupServed, tlsModeFor, type Connected, type HostAddresses, type ServedGroup } from '../../tools/tlsa/connect.js';
import type { ServerDns } from './dns.js';
import type { ConnectSpec } from './options.js';
import { pushOnce, type TlsaSettings } from './settings.js';

/** What the addresses of the --connect host served. */
export interface LiveServer {
  connect: ConnectSpec;
  addrs: HostAddresses;
  /** One per address, in address order. */
  results: Connected[];
  /** Addresses that served the same chain, together. */
  groups: ServedGroup[];
}

/** Connects to every address of the host (or the one given) and groups what they served. */
export async function connectServer(s: TlsaSettings, connect: ConnectSpec, dns: ServerDns): Promise<LiveServer> {
  const results = await connectAll(dns.hostAddrs.addresses, s.connectPort, tlsModeFor(s.connectPort, s.tlsMode), dns.sni, s.helo, s.timeoutMs);
  const several = results.length > 1;
  const groups = groupServed(results);
  for (const g of groups) for (const w of g.warnings) pushOnce(s.warnings, several ? `${g.addresses.join(', ')}: ${w}` : w);
  const difference = differenceWarning(connect.host, groups);
  if (difference) s.warnings.push(difference);
  return { connect, addrs: dns.hostAddrs, results, groups };
}

/** The chains the addresses served, and what could not be reached (each one a failure). */
export interface Served {
  live: LiveServer;
  /** The groups with at least one parsable certificate (never empty). */
  groups: ServedGroup[];
  failures: string[];
}

/** What was served, or, when no address served a parsable certificate, the failures alone. */
export function servedBy(live: LiveServer): Served | { failures: string[] } {
  const failures: string[] = [...live.addrs.errors];
  for (const c of live.results) if (!c.ok) failures.push(c.error);
  for (const g of live.groups) if (g.certs.length === 0) failures.push(`${g.addresses.join(', ')}: the server sent no parsable certificate`);
  const groups = live.groups.filter((g) => g.certs.length > 0);
  return groups.length === 0 ? { failures } : { live, groups, failures };
}

/** "the server at HOST[:PORT]", with its addresses when they all serve the same chain. */
export function serverSource(s: TlsaSettings, groups: ServedGroup[]): string {
  const allAddresses = groups.flatMap((g) => g.addresses);
  return `the server at ${s.connectText}${allAddresses.length > 1 && groups.length === 1 ? ` (${allAddresses.length} addresses: ${allAddresses.join(', ')})` : ''}`;
}
