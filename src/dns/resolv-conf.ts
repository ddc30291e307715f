/**
 * Where the resolver is: /etc/resolv.conf (read here and nowhere else), `--resolver` specs,
 * address helpers.
 */
import { readFileSync } from 'node:fs';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { DaneSmtpError } from '../errors.js';

/** Splits off an IPv6 zone ("fe80::1%eth0" → ["fe80::1", "eth0"]). */
function splitZone(address: string): [string, string | undefined] {
  const i = address.indexOf('%');
  return i < 0 ? [address, undefined] : [address.slice(0, i), address.slice(i + 1)];
}

/** True for an IPv4 or IPv6 literal (IPv6 may carry a %zone). */
function isAddress(s: string): boolean {
  const [addr, zone] = splitZone(s);
  if (zone !== undefined) return isIPv6(addr) && /^[A-Za-z0-9_.-]{1,64}$/.test(zone);
  return isIP(addr) !== 0;
}

/** The 8 groups of an IPv6 literal (no zone), or undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let s = address.toLowerCase();
  const tail: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = m[2]!.split('.').map(Number);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const dbl = s.indexOf('::');
  let groups: number[];
  if (dbl >= 0) {
    const head = parse(s.slice(0, dbl));
    const rest = parse(s.slice(dbl + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = parse(s);
  }
  groups.push(...tail);
  return groups.length === 8 ? groups : undefined;
}

/** Canonical form for comparing addresses: IPv4 as is, IPv6 expanded lower-case without zone. */
export function canonicalAddress(address: string): string {
  const [addr] = splitZone(address);
  const g = ipv6Groups(addr);
  return g ? g.map((x) => x.toString(16).padStart(4, '0')).join(':') : addr;
}

/** 127.0.0.0/8 and ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3); IPv4-mapped 127/8 too. */
export function isLoopback(address: string): boolean {
  const [addr] = splitZone(address);
  if (isIPv4(addr)) return addr.startsWith('127.');
  const g = ipv6Groups(addr);
  if (!g) return false;
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true;
  // ::ffff:127.x.y.z (RFC 4291 §2.5.5.2)
  return g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff && g[6]! >> 8 === 127;
}

/**
 * The first usable `nameserver` of resolv.conf(5) content. Lines starting with '#' or ';'
 * are comments; text after the address is ignored; entries that are not IP addresses
 * (the resolver does not accept host names there either) are skipped.
 */
export function firstNameserver(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, value] = line.split(/[ \t]+/);
    if (keyword !== 'nameserver' || value === undefined) continue;
    const address = value.replace(/[#;].*$/, ''); // "nameserver 1.2.3.4#comment"
    if (isAddress(address)) return address;
  }
  return undefined;
}

/** The contents of /etc/resolv.conf ('' when it cannot be read). */
export function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The system's resolver: the first usable nameserver of resolv.conf (`text`, default the
 * file itself) on port 53, or undefined when there is none.
 */
export function systemResolverSpec(text: string = readResolvConf()): { address: string; port: number } | undefined {
  const ns = firstNameserver(text);
  return ns ? { address: ns, port: 53 } : undefined;
}

function usage(spec: string): DaneSmtpError {
  const shown = spec.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 80);
  return new DaneSmtpError(
    'USAGE',
    `invalid resolver "${shown}": expected an IP address, IP:PORT, [IPv6]:PORT or a bare IPv6 address (host names are not accepted)`,
  );
}

function parsePort(s: string, spec: string): number {
  if (!/^\d{1,5}$/.test(s)) throw usage(spec);
  const port = Number(s);
  if (port < 1 || port > 65535) throw usage(spec);
  return port;
}

/**
 * Parses a resolver given by the user: `IP`, `IP:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare
 * IPv6 address (which is never split at its last colon: "::1:53" is the address ::1:53).
 * Throws DaneSmtpError('USAGE') for anything else.
 */
export function parseResolverSpec(spec: string): { address: string; port: number } {
  if (typeof spec !== 'string') throw usage(String(spec));
  const s = spec.trim();
  if (s.length === 0 || s.length > 100) throw usage(spec);
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracket) {
    const address = bracket[1]!;
    if (!isAddress(address) || !isIPv6(splitZone(address)[0])) throw usage(spec);
    return { address, port: bracket[2] === undefined ? 53 : parsePort(bracket[2], spec) };
  }
  if (isAddress(s)) return { address: s, port: 53 };
  const v4 = /^([^:]+):([^:]*)$/.exec(s);
  if (v4 && isIPv4(v4[1]!)) return { address: v4[1]!, port: parsePort(v4[2]!, spec) };
  throw usage(spec);
}
