/**
 * Per-destination TLS policy in the syntax of Postfix's smtp_tls_policy_maps:
 *   destination  level  [attribute=value ...]
 * Destinations: `example.com`, `.example.com` (subdomains), `[mx.example.com]`,
 * `[mx.example.com]:587` (a fixed next hop, no MX lookup), `[192.0.2.1]:25` (an address
 * literal: no MX, address or TLSA lookup). As in Postfix map files, a line
 * that starts with whitespace continues the previous one; attributes are separated by
 * whitespace or commas, `{ name = value }` is one attribute; level and attribute names are
 * case-insensitive. Pure: text in, table out.
 */
import { parseAddressLiteral, parseMailDomain } from '../dns/names.js';

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
  source: PolicySource;
}

/** Where a policy entry came from: "FILE:LINE" of the table, or the default level. */
export type PolicySource = 'default' | `${string}:${number}`;

export type Destination =
  | { kind: 'domain'; domain: string }
  | { kind: 'subdomains'; suffix: string }
  | { kind: 'nexthop'; host: string; port?: number };

export interface PolicyTable {
  /** Exact domain → entry. */
  domains: Map<string, PolicyEntry>;
  /** `.suffix` entries, longest first. */
  suffixes: { suffix: string; entry: PolicyEntry }[];
  /** `[host]` or `[host]:port` → entry (key `[host]` or `[host]:port`; host may be an IP address). */
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
    // A host name, or an IP address literal (no MX or TLSA lookup: DANE cannot apply).
    const host = parseMailDomain(bracket[1]!) ?? parseAddressLiteral(bracket[1]!);
    if (!host) return undefined;
    if (bracket[2] === undefined) return { kind: 'nexthop', host };
    const port = Number(bracket[2]);
    if (port < 1 || port > 65535) return undefined;
    return { kind: 'nexthop', host, port };
  }
  if (text.startsWith('.')) {
    // Postfix looks up every parent domain, `.com` included (smtp_tls_policy.c
    // tls_policy_lookup): a one-label suffix is a valid key.
    const suffix = parseMailDomain(text.slice(1)) ?? parseMailDomain(`x.${text.slice(1)}`)?.slice(2);
    return suffix ? { kind: 'subdomains', suffix } : undefined;
  }
  const domain = parseMailDomain(text);
  return domain ? { kind: 'domain', domain } : undefined;
}

/**
 * Postfix fingerprints: hex, "one ':' between bytes" allowed but not required (hex_decode_opt
 * HEX_DECODE_FLAG_ALLOW_COLON); the length says the digest (SHA-256 or SHA-512).
 */
function parseFingerprint(text: string): Fingerprint | undefined {
  if (!/^[0-9a-f]{2}(?::?[0-9a-f]{2})*$/i.test(text)) return undefined;
  const hex = text.replace(/:/g, '').toLowerCase();
  if (hex.length === 64) return { algorithm: 'sha256', hex };
  if (hex.length === 128) return { algorithm: 'sha512', hex };
  return undefined;
}

function fingerprintError(v: string): string {
  const digits = /^[0-9a-f:]+$/i.test(v) ? v.replace(/:/g, '').length : 0;
  // smtp_tls_fingerprint_digest was md5 before Postfix 3.6; sha1 was a common choice.
  const old = digits === 32 ? ' (an MD5 fingerprint: use SHA-256)' : digits === 40 ? ' (a SHA-1 fingerprint: use SHA-256)' : '';
  return `'${v}' is not a SHA-256 or SHA-512 fingerprint (hex, colons allowed)${old}`;
}

/** A host-name pattern for verify/secure: a name, `.suffix`, `nexthop`, `dot-nexthop` or `hostname`. */
function validMatchPattern(p: string): boolean {
  if (p === 'nexthop' || p === 'dot-nexthop' || p === 'hostname') return true;
  return parseMailDomain(p.startsWith('.') ? p.slice(1) : p) !== undefined;
}

/**
 * Postfix attributes that change what TLS is acceptable (protocols, ciphers, trust anchors,
 * TLSRPT/MTA-STS plugin data...): dane-smtp does not implement them, and ignoring one could
 * weaken what the operator asked for, so they are refused with FILE:LINE.
 */
const REFUSED_ATTRIBUTES = ['protocols', 'ciphers', 'exclude', 'tafile', 'servername', 'policy_type', 'policy_domain', 'policy_string', 'policy_ttl', 'policy_failure', 'mx_host_pattern'];

/**
 * Split a policy value as Postfix does (mystrtokq with CHARS_COMMA_SP and CHARS_BRACE):
 * tokens are separated by whitespace or commas; `{ name = value }` is one token.
 */
function tokenize(value: string, where: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (/[\s,]/.test(value[i]!)) {
      i++;
      continue;
    }
    let j = i;
    let depth = 0;
    for (; j < value.length && (depth > 0 || !/[\s,]/.test(value[j]!)); j++) {
      if (value[j] === '{') depth++;
      else if (value[j] === '}' && --depth < 0) throw new PolicySyntaxError(`${where}: unbalanced '}' in '${value.slice(i).split(/\s/)[0]}'`);
    }
    if (depth > 0) throw new PolicySyntaxError(`${where}: missing '}' after '${value.slice(i, i + 40)}'`);
    tokens.push(value.slice(i, j));
    i = j;
  }
  return tokens;
}

/** `name=value`, or `{ name = value }` (Postfix ≥ 3.?: extpar, whitespace normalised; split_nameval trims). */
function splitAttribute(token: string, where: string): { name: string; value: string } {
  let text = token;
  if (text.startsWith('{')) {
    if (!text.endsWith('}')) throw new PolicySyntaxError(`${where}: malformed attribute '${token}' (text after '}')`);
    text = text.slice(1, -1).replace(/\s+/g, ' ').trim();
  }
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq).trim();
  if (eq < 0 || !name || /\s/.test(name)) throw new PolicySyntaxError(`${where}: expected attribute=value, found '${token}'`);
  return { name: name.toLowerCase(), value: text.slice(eq + 1).trim() };
}

function parseEntry(tokens: string[], source: PolicySource, where: string): PolicyEntry {
  const [levelText, ...attrs] = tokens;
  // Postfix level names are case-insensitive (tls_level_lookup: name_code without STRICT_CASE).
  const levelName = levelText?.toLowerCase();
  if (!levelName || !(LEVELS as readonly string[]).includes(levelName)) {
    throw new PolicySyntaxError(`${where}: unknown TLS level '${levelText ?? ''}' (one of ${LEVELS.join(', ')})`);
  }
  const level = levelName as Level;
  const entry: PolicyEntry = { level, match: [], fingerprints: [], source };
  for (const attr of attrs) {
    // Attribute names are case-insensitive in Postfix (strcasecmp).
    const { name, value } = splitAttribute(attr, where);
    if (name === 'connection_reuse' || name === 'enable_rpk') {
      // Postfix ≥ 3.4 / ≥ 3.9: yes or no, anything else invalidates the entry. They change
      // nothing dane-smtp checks (one message per connection; a certificate is always
      // required, and its public-key fingerprint still matches), so they are accepted.
      if (!/^(yes|no)$/i.test(value)) throw new PolicySyntaxError(`${where}: ${name}= must be yes or no, not '${value}'`);
      continue;
    }
    if (name !== 'match') {
      const known = REFUSED_ATTRIBUTES.includes(name);
      throw new PolicySyntaxError(
        `${where}: unsupported attribute '${name}' (${known ? 'a Postfix attribute dane-smtp does not implement: refused rather than ignored' : 'not a Postfix policy attribute'}; supported: match=, connection_reuse=, enable_rpk=)`,
      );
    }
    if (level !== 'fingerprint' && level !== 'verify' && level !== 'secure') {
      throw new PolicySyntaxError(`${where}: match= is only for the fingerprint, verify and secure levels`);
    }
    // Postfix: "attribute has empty value" makes the entry invalid (never a default).
    if (!value) throw new PolicySyntaxError(`${where}: match= has an empty value`);
    // Postfix separates several values with ':' for host names and with '|' for
    // fingerprints (which contain colons); repeated attributes add more.
    const values = (level === 'fingerprint' ? value.split('|') : value.split(':')).filter(Boolean);
    if (values.length === 0) throw new PolicySyntaxError(`${where}: match=${value} names nothing`);
    for (const v of values) {
      if (level === 'fingerprint') {
        const fp = parseFingerprint(v);
        if (!fp) throw new PolicySyntaxError(`${where}: ${fingerprintError(v)}`);
        entry.fingerprints.push(fp);
      } else {
        // Strategies and names are case-insensitive (postconf(5) smtp_tls_verify_cert_match).
        const pattern = v.toLowerCase();
        if (!validMatchPattern(pattern)) throw new PolicySyntaxError(`${where}: '${v}' is not a host-name pattern`);
        entry.match.push(pattern);
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

/**
 * Logical lines as Postfix map files have them (readlline(3)): blank lines and lines whose
 * first non-whitespace character is `#` are ignored; a line that starts with whitespace
 * continues the previous logical line. `#` after text also starts a comment here (an
 * extension: in Postfix it would be part of the value and invalidate the entry).
 */
function logicalLines(text: string, fileName: string): { line: number; text: string; continued: boolean }[] {
  const out: { line: number; text: string; continued: boolean }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = raw.replace(/#.*$/, '');
    if (!body.trim()) return;
    if (/^\s/.test(body)) {
      const last = out[out.length - 1];
      if (!last) throw new PolicySyntaxError(`${fileName}:${i + 1}: a line that starts with whitespace continues the previous line, and there is none`);
      last.text += ` ${body.trim()}`;
      last.continued = true;
      return;
    }
    out.push({ line: i + 1, text: body.trim(), continued: false });
  });
  return out;
}

const nexthopKey = (host: string, port?: number): string => `[${host}]${port ? `:${port}` : ''}`;

/** Parse a whole table. Throws PolicySyntaxError naming FILE:LINE for the first bad line. */
export function parsePolicyTable(text: string, fileName: string): PolicyTable {
  const table = emptyPolicyTable();
  for (const { line: lineNo, text: line, continued } of logicalLines(text, fileName)) {
    const where: PolicySource = `${fileName}:${lineNo}`;
    const [destText, ...restText] = line.split(/\s+/);
    const dest = parseDestination(destText!);
    if (!dest) throw new PolicySyntaxError(`${where}: '${destText}' is not a destination (domain, .domain, [host] or [host]:port)`);
    const rest = tokenize(restText.join(' '), where);
    if (rest.length === 0) throw new PolicySyntaxError(`${where}: no TLS level after '${destText}'`);
    let entry: PolicyEntry;
    try {
      entry = parseEntry(rest, where, where);
    } catch (e) {
      if (e instanceof PolicySyntaxError && continued) {
        throw new PolicySyntaxError(`${e.message} (lines that start with whitespace continue this line, as in Postfix tables)`);
      }
      throw e;
    }
    const key = dest.kind === 'domain' ? dest.domain : dest.kind === 'subdomains' ? `.${dest.suffix}` : `[${dest.host}]${dest.port ? `:${dest.port}` : ''}`;
    const dup = dest.kind === 'domain' ? table.domains.has(dest.domain) : dest.kind === 'subdomains' ? table.suffixes.some((s) => s.suffix === dest.suffix) : table.nexthops.has(nexthopKey(dest.host, dest.port));
    // Postfix's postmap keeps the first of duplicate keys with a warning; here it is an error.
    if (dup) throw new PolicySyntaxError(`${where}: '${key}' is listed twice`);
    if (dest.kind === 'domain') table.domains.set(dest.domain, entry);
    else if (dest.kind === 'subdomains') table.suffixes.push({ suffix: dest.suffix, entry });
    else table.nexthops.set(nexthopKey(dest.host, dest.port), entry);
  }
  table.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  return table;
}

/**
 * The entry for a destination, or the default level. Postfix lookup order (smtp_tls_policy.c
 * tls_policy_lookup): a domain, then its parents `.parent`, nearest first; a fixed next hop
 * only by its verbatim key, `[host]` or `[host]:port` ("match only the corresponding
 * policy": `[host]:587` does not fall back to `[host]`, nor to the domain entries).
 */
export function lookupPolicy(table: PolicyTable, dest: Destination, defaultLevel: Level): PolicyEntry {
  const fallback: PolicyEntry = { level: defaultLevel, match: defaultLevel === 'verify' ? ['hostname'] : defaultLevel === 'secure' ? ['nexthop', 'dot-nexthop'] : [], fingerprints: [], source: 'default' };
  if (dest.kind === 'nexthop') return table.nexthops.get(nexthopKey(dest.host, dest.port)) ?? fallback;
  const domain = dest.kind === 'domain' ? dest.domain : dest.suffix;
  const exact = table.domains.get(domain);
  if (exact) return exact;
  const sub = table.suffixes.find((s) => domain.endsWith(`.${s.suffix}`));
  return sub?.entry ?? fallback;
}
