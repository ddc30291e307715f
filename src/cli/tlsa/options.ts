/**
 * The options of `dane-smtp tlsa`, checked without touching a file or the network: each
 * mistake is one USAGE error (exit 64, one line), in the order a reader meets them.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { DaneSmtpError } from '../../errors.js';
import { DEFAULT_PARAMS, parseHostName, parseMatchingType, parseRecordSpecs, parseSelector, parseUsage, type TlsaParams } from '../../tools/tlsa/records.js';
import type { TlsMode } from '../../tools/tlsa/connect.js';
import { timeoutOption } from '../options.js';

/** The options as commander gives them. */
export interface TlsaOptions {
  connect?: string;
  sni?: string;
  tls?: string;
  host?: string;
  port?: string;
  usage?: string;
  selector?: string;
  mtype?: string;
  record?: string[];
  verify?: boolean;
  resolver?: string;
  trustAnchor?: string;
  validate?: boolean;
  next?: string;
  rrset?: string;
  helo?: string;
  timeout: string;
  json?: boolean;
}

export function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

export function portOption(value: string, what: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw usage(`${what} must be a port from 1 to 65535, not '${value}'`);
  return Number(value);
}

/** --connect, parsed: `isAddress` when it names one address rather than a host name. */
export type ConnectSpec = { host: string; port?: number; isAddress: boolean };

/** `HOST[:PORT]`, `[IPv6]:PORT`, a bare IPv6 address. */
export function parseConnectSpec(spec: string): ConnectSpec {
  const s = spec.trim();
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracket) {
    if (isIP(bracket[1]!) !== 6) throw usage(`--connect: '${spec}' is not [IPv6]:PORT`);
    return { host: bracket[1]!, isAddress: true, ...(bracket[2] !== undefined ? { port: portOption(bracket[2], '--connect port') } : {}) };
  }
  if (isIP(s) !== 0) return { host: s, isAddress: true };
  const m = /^([^:]+)(?::(.*))?$/.exec(s);
  if (!m) throw usage(`--connect must be HOST[:PORT], [IPv6]:PORT or an IP address, not '${spec}'`);
  const port = m[2] !== undefined ? portOption(m[2], '--connect port') : undefined;
  if (isIP(m[1]!) === 4) return { host: m[1]!, isAddress: true, ...(port ? { port } : {}) };
  return { host: parseHostName(m[1]!, '--connect host'), isAddress: false, ...(port ? { port } : {}) };
}

/** --record U S M (repeatable), or --usage/--selector/--mtype; --record may swallow FILE. */
function recordParams(o: TlsaOptions, positional: string | undefined): { params: TlsaParams[]; file: string | undefined } {
  let file = positional;
  if (o.record) {
    if (o.usage !== undefined || o.selector !== undefined || o.mtype !== undefined) {
      throw usage('give either --record U S M or --usage/--selector/--mtype, not both');
    }
    const { params, rest } = parseRecordSpecs(o.record);
    if (rest.length > 1 || (rest.length === 1 && file !== undefined)) throw usage(`--record: unexpected '${rest.join(' ')}'`);
    if (rest.length === 1) file = rest[0];
    return { params, file };
  }
  return {
    params: [
      {
        usage: o.usage !== undefined ? parseUsage(o.usage) : DEFAULT_PARAMS.usage,
        selector: o.selector !== undefined ? parseSelector(o.selector) : DEFAULT_PARAMS.selector,
        matchingType: o.mtype !== undefined ? parseMatchingType(o.mtype) : DEFAULT_PARAMS.matchingType,
      },
    ],
    file,
  };
}

function defaultHelo(): string {
  const h = hostname();
  return /^[A-Za-z0-9.-]{1,253}$/.test(h) ? h : 'localhost';
}

/** The options that need no file, checked. */
export interface CheckedOptions {
  params: TlsaParams[];
  /** FILE ('-': standard input). */
  file: string | undefined;
  timeoutMs: number;
  connect: ConnectSpec | undefined;
  tlsMode: TlsMode | undefined;
  helo: string;
}

/** Every rule between the options (which go together, which exclude each other). */
export function checkOptions(positional: string | undefined, o: TlsaOptions): CheckedOptions {
  const { params, file } = recordParams(o, positional);
  // The same rule and message as check, send and scan (options.ts).
  const timeoutMs = timeoutOption(o.timeout);
  const connect = o.connect !== undefined ? parseConnectSpec(o.connect) : undefined;
  if (o.verify && !connect) throw usage('--verify checks a live server: give --connect HOST[:PORT]');
  if (o.verify && file !== undefined) throw usage('--verify checks what the server sends: give --connect without a FILE');
  if (o.verify && o.rrset !== undefined) throw usage('--verify looks the RRset up in DNS: give either --verify or --rrset');
  if (o.rrset !== undefined && o.next === undefined) throw usage('--rrset is for rollover checks: give --next FILE too');
  if (o.next !== undefined && !o.verify && o.rrset === undefined) throw usage('--next needs the published RRset: give --verify (with --connect) or --rrset FILE');
  if (o.next !== undefined && file !== undefined && connect) throw usage('--next compares with one current key: give either FILE or --connect');
  if (!o.verify && o.resolver !== undefined && !connect) throw usage('--resolver is used with --verify or --connect');
  if (!o.verify && (o.trustAnchor !== undefined || o.validate)) throw usage('--trust-anchor and --validate are used with --verify');
  if (!connect && file === undefined) throw usage('give a certificate, chain or key FILE (or - for standard input), or --connect HOST[:PORT]');
  if (!connect && (o.sni !== undefined || o.tls !== undefined || o.helo !== undefined)) throw usage('--sni, --tls and --helo are used with --connect');
  if (o.verify && params.length !== 1) throw usage('--record with several records is for generating records');
  const tlsMode = o.tls === undefined ? undefined : o.tls === 'starttls' || o.tls === 'implicit' ? o.tls : undefined;
  if (o.tls !== undefined && !tlsMode) throw usage(`--tls must be starttls or implicit, not '${o.tls}'`);
  const helo = o.helo ?? defaultHelo();
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(helo) && !/^\[[0-9a-fA-F:.]+\]$/.test(helo)) throw usage(`--helo must be a host name or address literal, not '${helo}'`);
  if ([file, o.next, o.rrset].filter((x) => x === '-').length > 1) throw usage('only one of FILE, --next and --rrset can be standard input (-)');
  return { params, file, timeoutMs, connect, tlsMode, helo };
}
