/**
 * The network edge of `dane-smtp tlsa`: looking up the addresses of the --connect host and
 * fetching the chain each address serves, over STARTTLS (runSmtpSession) or implicit TLS.
 * I/O, so it is kept out of the pure modules beside it; grouping the served chains is here
 * too because it is what the CLI does with the results.
 */
import * as tls from 'node:tls';
import type { DnsAnswer, Resolver } from '../../dns/types.js';
import { answerFailed } from '../../core/rfc7672/answer.js';
import { runSmtpSession } from '../../smtp/session.js';
import type { ServedTls } from '../../smtp/types.js';
import { daneTlsClientOptions, servedChain } from '../../smtp/served-chain.js';
import { servedEntries, sha256Hex, type CertEntry } from './material.js';
import type { ServedSummary } from './render.js';

/** What connecting to one address gave: the served chain, or why there is none. */
export type Connected =
  | ({ ok: true; chain: Buffer[] } & ServedSummary)
  | { ok: false; error: string; address?: string };

export type TlsMode = 'starttls' | 'implicit';

/** --tls, else implicit TLS on the submissions port 465 (RFC 8314 §3.3) and STARTTLS elsewhere. */
export function tlsModeFor(port: number, given: TlsMode | undefined): TlsMode {
  return given ?? (port === 465 ? 'implicit' : 'starttls');
}

/** Implicit TLS (port 465): the chain the server sends in the handshake. */
function implicitTls(address: string, port: number, servername: string | undefined, timeoutMs: number): Promise<Connected> {
  return new Promise((resolve) => {
    let done = false;
    const sock = tls.connect({
      host: address,
      port,
      ...(servername ? { servername } : {}),
      // An empty trust store, so that the chain is only what was sent (served-chain.ts).
      ...daneTlsClientOptions(),
    });
    const finish = (r: Connected) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (r.ok) {
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      } else {
        sock.destroy();
      }
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, address, error: `timeout: TLS connection to ${address}:${port} took more than ${timeoutMs} ms` }), timeoutMs);
    sock.once('secureConnect', () => {
      const cipher = sock.getCipher();
      finish({
        ok: true,
        chain: servedChain(sock),
        address,
        port,
        tls: 'implicit',
        version: sock.getProtocol() ?? 'unknown',
        cipher: cipher?.standardName || cipher?.name || 'unknown',
      });
    });
    sock.on('error', (e) => finish({ ok: false, address, error: `TLS connection to ${address}:${port} failed: ${e.message}` }));
    sock.on('close', () => finish({ ok: false, address, error: `connection to ${address}:${port} closed before the TLS handshake completed` }));
  });
}

/** SMTP up to STARTTLS (runSmtpSession): the chain the server sends after it. */
async function starttls(address: string, port: number, servername: string | undefined, helo: string, timeoutMs: number): Promise<Connected> {
  let captured: ServedTls | undefined;
  const result = await runSmtpSession(
    {
      address,
      port,
      helo,
      timeoutMs,
      tls: 'required',
      ...(servername ? { servername } : {}),
      checkTls: (served) => {
        captured = served;
        return { ok: true };
      },
    },
    { kind: 'probe' },
  );
  const served = captured ?? result.served;
  if (served) return { ok: true, chain: served.chain, address, port, tls: 'starttls', version: served.version, cipher: served.cipher };
  return { ok: false, address, error: result.error?.message ?? 'no TLS handshake' };
}

function connectOne(address: string, port: number, mode: TlsMode, servername: string | undefined, helo: string, timeoutMs: number): Promise<Connected> {
  return mode === 'implicit' ? implicitTls(address, port, servername, timeoutMs) : starttls(address, port, servername, helo, timeoutMs);
}

/** At most this many connections at a time when a host name has several addresses. */
export const CONNECT_CONCURRENCY = 4;

/** Connects to every address (a few at a time, each with the timeout); results in address order. */
export async function connectAll(addresses: string[], port: number, mode: TlsMode, servername: string | undefined, helo: string, timeoutMs: number): Promise<Connected[]> {
  const results: Connected[] = new Array(addresses.length);
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < addresses.length) {
      const i = nextIndex++;
      const address = addresses[i]!;
      const r = await connectOne(address, port, mode, servername, helo, timeoutMs);
      results[i] = r.ok ? r : { ...r, address };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, addresses.length) }, worker));
  return results;
}

/** The addresses of the --connect host, where they came from, and what went wrong. */
export interface HostAddresses {
  addresses: string[];
  /** Where they came from, for humans: "127.0.0.1:53", "the system resolver", "given". */
  source: string;
  /** Failed lookups (or no address at all): each one is a failure of the check. */
  errors: string[];
  warnings: string[];
  /** The A and AAAA answers, when the addresses came from a DNS resolver. */
  dns?: { type: 'A' | 'AAAA'; status: string; proof: string; records: string[]; cnameChain: string[]; reason?: string }[];
  /** The A and AAAA answers themselves (the TLSA base domain is chosen from them). */
  answers?: DnsAnswer<string>[];
}

/** A DNS resolver for the --connect host's addresses; `validates`: its proofs are trusted (its AD bit, or it validates itself). */
export interface AddressResolver {
  resolver: Resolver;
  /** For humans: "127.0.0.1:53". */
  text: string;
  validates: boolean;
}

/**
 * The addresses of the --connect host: an address literal is used as it is; a name is
 * resolved (A, then AAAA, as plan.ts does) with `resolver` when one is configured, else with
 * the system resolver (`resolveHost`). `mtaWarnings`: warn when a sending MTA would not look
 * TLSA up at this name (RFC 7672 §2.2.2).
 */
export async function hostAddresses(
  spec: { host: string; isAddress: boolean },
  resolver: AddressResolver | undefined,
  resolveHost: (name: string) => Promise<string[]>,
  mtaWarnings = true,
): Promise<HostAddresses> {
  if (spec.isAddress) return { addresses: [spec.host], source: 'given', errors: [], warnings: [] };
  if (!resolver) {
    try {
      const addresses = [...new Set(await resolveHost(spec.host))];
      return { addresses, source: 'the system resolver', errors: addresses.length ? [] : [`cannot resolve ${spec.host}: no address`], warnings: [] };
    } catch (e) {
      return { addresses: [], source: 'the system resolver', errors: [`cannot resolve ${spec.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`], warnings: [] };
    }
  }
  const [a, aaaa] = await Promise.all([resolver.resolver.lookup(spec.host, 'A'), resolver.resolver.lookup(spec.host, 'AAAA')]);
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const x of [a, aaaa]) {
    if (answerFailed(x)) errors.push(`address lookup ${x.qname} ${x.qtype} failed (${x.proof}${x.reason ? `: ${x.reason}` : ''})`);
  }
  const addresses = [...new Set([...(a.status === 'data' ? a.records : []), ...(aaaa.status === 'data' ? aaaa.records : [])])];
  if (addresses.length === 0 && errors.length === 0) errors.push(`${spec.host} has no A or AAAA records (${a.status}, ${aaaa.status})`);
  if (mtaWarnings && addresses.length > 0 && resolver.validates) {
    const weak = [a, aaaa].filter((x) => x.status !== 'failed' && x.proof !== 'secure');
    if (weak.length) {
      warnings.push(`the ${weak.map((x) => x.qtype).join(' and ')} records of ${spec.host} are ${weak[0]!.proof}: a sending MTA does not look up TLSA for it (RFC 7672 §2.2.2)`);
    }
  }
  const expanded = a.records.length > 0 ? a.canonicalName : aaaa.canonicalName;
  if (mtaWarnings && addresses.length > 0 && expanded !== spec.host) {
    warnings.push(`${spec.host} is an alias of ${expanded}: a sending MTA looks for TLSA at ${expanded} first when the CNAME chain is secure (RFC 7672 §2.2.2)`);
  }
  const dns = [a, aaaa].map((x) => ({
    type: x.qtype as 'A' | 'AAAA',
    status: x.status,
    proof: x.proof,
    records: x.records,
    cnameChain: x.cnameChain,
    ...(x.reason ? { reason: x.reason } : {}),
  }));
  return { addresses, source: resolver.text, errors, warnings, dns, answers: [a, aaaa] };
}

/** Served chains grouped: addresses serving the same certificates (in the same order) together. */
export interface ServedGroup {
  addresses: string[];
  certs: CertEntry[];
  warnings: string[];
}

export function groupServed(results: Connected[]): ServedGroup[] {
  const groups = new Map<string, ServedGroup>();
  for (const r of results) {
    if (!r.ok) continue;
    const key = r.chain.map((d) => sha256Hex(d)).join(',');
    const g = groups.get(key);
    if (g) g.addresses.push(r.address);
    else {
      const { certs, warnings } = servedEntries(r.chain);
      groups.set(key, { addresses: [r.address], certs, warnings });
    }
  }
  return [...groups.values()];
}

/** One warning when the addresses do not all serve the same chain, naming who serves what. */
export function differenceWarning(host: string, groups: ServedGroup[]): string | undefined {
  if (groups.length < 2) return undefined;
  const keys = new Set(groups.map((g) => (g.certs[0] ? sha256Hex(g.certs[0].spki) : '')));
  const what = keys.size > 1 ? `${keys.size} different keys` : `${groups.length} different certificate chains (same key)`;
  const each = groups
    .map((g) => {
      const leaf = g.certs[0];
      return `${g.addresses.join(', ')}: ${leaf ? `${leaf.subject}, SPKI SHA-256 ${sha256Hex(leaf.spki).slice(0, 16)}…` : 'no parsable certificate'}`;
    })
    .join('; ');
  return `the addresses of ${host} serve ${what}: ${each}`;
}
