/**
 * Per-destination TLS policy in the syntax of Postfix's smtp_tls_policy_maps:
 *   destination  level  [attribute=value ...]
 * Destinations: `example.com`, `.example.com` (subdomains), `[mx.example.com]`,
 * `[mx.example.com]:587` (a fixed next hop, no MX lookup). Pure: text in, table out.
 */
import { parseMailDomain } from '../dns/names.js';

export const LEVELS = ['none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure'] as const;
export type Level = (typeof LEVELS)[number];

export interface Fingerprint {
  algorithm: 'sha256' | 'sha512';
  /** Lower-case hex without colons. */
  hex: string;
}

export interface PolicyEntry {
  level: Level;
  /** fingerprint: certificate or public-key digests; verify/secure: host-name patterns. */
  match: string[];
  fingerprints: Fingerprint[];
  /** Where it came from: "FILE:LINE", or "default". */
  source: string;
}

export type Destination =
  | { kind: 'domain'; domain: string }
  | { kind: 'subdomains'; suffix: string }
  | { kind: 'nexthop'; host: string; port?: number };

export interface PolicyTable {
  /** Exact domain → entry. */
  domains: Map<string, PolicyEntry>;
  /** `.suffix` entries, longest first. */
  suffixes: { suffix: string; entry: PolicyEntry }[];
  /** `[host]` or `[host]:port` → entry (key `host` or `host:port`). */
  nexthops: Map<string, PolicyEntry>;
}

export class PolicySyntaxError extends Error {
  override name = 'PolicySyntaxError';
}

export function emptyPolicyTable(): PolicyTable {
  return { domains: new Map(), suffixes: [], nexthops: new Map() };
}

export function parseDestination(text: string): Destination | undefined {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracket) {
    const host = parseMailDomain(bracket[1]!);
    if (!host) return undefined;
    if (bracket[2] === undefined) return { kind: 'nexthop', host };
    const port = Number(bracket[2]);
    if (port < 1 || port > 65535) return undefined;
    return { kind: 'nexthop', host, port };
  }
  if (text.startsWith('.')) {
    const suffix = parseMailDomain(text.slice(1));
    return suffix ? { kind: 'subdomains', suffix } : undefined;
  }
  const domain = parseMailDomain(text);
  return domain ? { kind: 'domain', domain } : undefined;
}

/** Postfix fingerprints: hex with or without colons; length says the digest (RFC 7671 §9 algorithms). */
function parseFingerprint(text: string): Fingerprint | undefined {
  const hex = text.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) return undefined;
  if (hex.length === 64) return { algorithm: 'sha256', hex };
  if (hex.length === 128) return { algorithm: 'sha512', hex };
  return undefined;
}

/** A host-name pattern for verify/secure: a name, `.suffix`, `nexthop`, `dot-nexthop` or `hostname`. */
function validMatchPattern(p: string): boolean {
  if (p === 'nexthop' || p === 'dot-nexthop' || p === 'hostname') return true;
  return parseMailDomain(p.startsWith('.') ? p.slice(1) : p) !== undefined;
}

function parseEntry(tokens: string[], source: string, where: string): PolicyEntry {
  const [levelText, ...attrs] = tokens;
  if (!levelText || !(LEVELS as readonly string[]).includes(levelText)) {
    throw new PolicySyntaxError(`${where}: unknown TLS level '${levelText ?? ''}' (one of ${LEVELS.join(', ')})`);
  }
  const level = levelText as Level;
  const entry: PolicyEntry = { level, match: [], fingerprints: [], source };
  for (const attr of attrs) {
    const eq = attr.indexOf('=');
    if (eq <= 0) throw new PolicySyntaxError(`${where}: expected attribute=value, found '${attr}'`);
    const name = attr.slice(0, eq);
    const value = attr.slice(eq + 1);
    if (name !== 'match') {
      // Postfix attributes we do not implement are refused rather than silently ignored.
      throw new PolicySyntaxError(`${where}: unsupported attribute '${name}' (only match= is supported)`);
    }
    if (level !== 'fingerprint' && level !== 'verify' && level !== 'secure') {
      throw new PolicySyntaxError(`${where}: match= is only for the fingerprint, verify and secure levels`);
    }
    // Postfix separates several values with ':' for host names and with '|' for
    // fingerprints (which contain colons); repeated attributes add more.
    const values = level === 'fingerprint' ? value.split('|') : value.split(/[:|]/);
    for (const v of values.filter(Boolean)) {
      if (level === 'fingerprint') {
        const fp = parseFingerprint(v);
        if (!fp) throw new PolicySyntaxError(`${where}: '${v}' is not a SHA-256 or SHA-512 fingerprint (hex, colons allowed)`);
        entry.fingerprints.push(fp);
      } else {
        if (!validMatchPattern(v)) throw new PolicySyntaxError(`${where}: '${v}' is not a host-name pattern`);
        entry.match.push(v.toLowerCase());
      }
    }
  }
  if (level === 'fingerprint' && entry.fingerprints.length === 0) {
    throw new PolicySyntaxError(`${where}: the fingerprint level needs match=FINGERPRINT`);
  }
  if ((level === 'verify' || level === 'secure') && entry.match.length === 0) {
    // Postfix defaults: verify matches the MX host name, secure the next-hop domain and its subdomains.
    entry.match = level === 'verify' ? ['hostname'] : ['nexthop', 'dot-nexthop'];
  }
  return entry;
}

/** Parse a whole table. Throws PolicySyntaxError naming FILE:LINE for the first bad line. */
export function parsePolicyTable(text: string, fileName: string): PolicyTable {
  const table = emptyPolicyTable();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${fileName}:${i + 1}`;
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const [destText, ...rest] = line.split(/\s+/);
    const dest = parseDestination(destText!);
    if (!dest) throw new PolicySyntaxError(`${where}: '${destText}' is not a destination (domain, .domain, [host] or [host]:port)`);
    if (rest.length === 0) throw new PolicySyntaxError(`${where}: no TLS level after '${destText}'`);
    const entry = parseEntry(rest, where, where);
    const key = dest.kind === 'domain' ? dest.domain : dest.kind === 'subdomains' ? `.${dest.suffix}` : `[${dest.host}]${dest.port ? `:${dest.port}` : ''}`;
    const dup = dest.kind === 'domain' ? table.domains.has(dest.domain) : dest.kind === 'subdomains' ? table.suffixes.some((s) => s.suffix === dest.suffix) : table.nexthops.has(`${dest.host}${dest.port ? `:${dest.port}` : ''}`);
    if (dup) throw new PolicySyntaxError(`${where}: '${key}' is listed twice`);
    if (dest.kind === 'domain') table.domains.set(dest.domain, entry);
    else if (dest.kind === 'subdomains') table.suffixes.push({ suffix: dest.suffix, entry });
    else table.nexthops.set(`${dest.host}${dest.port ? `:${dest.port}` : ''}`, entry);
  });
  table.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  return table;
}

/** The entry for a destination, or the default level (Postfix lookup order: exact, then parent suffixes). */
export function lookupPolicy(table: PolicyTable, dest: Destination, defaultLevel: Level): PolicyEntry {
  const fallback: PolicyEntry = { level: defaultLevel, match: defaultLevel === 'verify' ? ['hostname'] : defaultLevel === 'secure' ? ['nexthop', 'dot-nexthop'] : [], fingerprints: [], source: 'default' };
  if (dest.kind === 'nexthop') {
    return table.nexthops.get(`${dest.host}${dest.port ? `:${dest.port}` : ''}`) ?? table.nexthops.get(dest.host) ?? fallback;
  }
  const domain = dest.kind === 'domain' ? dest.domain : dest.suffix;
  const exact = table.domains.get(domain);
  if (exact) return exact;
  const sub = table.suffixes.find((s) => domain.endsWith(`.${s.suffix}`));
  return sub?.entry ?? fallback;
}
