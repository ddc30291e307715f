/**
 * `dane-smtp tlsa`: generate TLSA records from a certificate, chain or key (or a live
 * server), check the published RRset against a live server (--verify), and check rollover
 * readiness (--next). The logic is in src/tools/tlsa/, connecting to the server in
 * src/tools/tlsa/connect.ts; this file checks the options, reads the files and standard
 * input, sets up DNS (src/dns/resolver-trust.ts, as check and send) and prints the reports.
 *
 * runTlsa: tlsaSettings (options → TlsaSettings), then without --connect
 * generateFromMaterial or rolloverFromMaterial; with --connect lookUpServer (DNS) and
 * connectServer (every address), then verifyServer, or fromLiveServer → generateFromServer,
 * generateFromMaterial or rolloverFromServer. Warnings are collected and printed at the end.
 *
 * `--connect HOST` checks every address of HOST (A, then AAAA), a few at a time: with
 * --verify they are looked up with the resolver that the TLSA RRset comes from (--resolver,
 * else the first nameserver of resolv.conf), so the tool sees what a sending MTA sees;
 * generating records uses --resolver when given, else the system resolver. An address
 * literal (`--connect 192.0.2.1:25`, `[2001:db8::1]:25`) is the one address used.
 *
 * `--verify --connect HOST` without --host looks TLSA up where a sending MTA would (RFC 7672
 * §2.2.2, plan.ts findTlsaBase, shared with check/send): at the CNAME-expanded name of HOST
 * first, then at HOST, when its address records are secure; at HOST only when the chain is
 * insecure but its first CNAME is secure; nowhere when the address records are insecure
 * (DANE does not apply: that is the verdict). The base found is the owner, the default SNI
 * and the DANE-TA reference identifier. --host (or --sni with an address) gives it instead.
 *
 * Exit codes: 0 records printed / authenticated / ready; 1 not authenticated or not ready
 * (with --verify: any address not authenticated, an address that cannot be connected to,
 * a failed address lookup, or DANE not applying to the host (insecure address records)
 * counts; --next: ready only when the RRset covers the key of every address and the next
 * key); 64 usage or input error (DaneSmtpError USAGE, printed
 * as one line by main.ts); 69 --connect failed while generating records (for any address:
 * the records of the other addresses are still printed).
 */
import { readFileSync, statSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { DaneSmtpError } from '../errors.js';
import { readResolvConf } from '../dns/resolv-conf.js';
import { probeValidation } from '../dns/probe.js';
import { anchorsBelowRootWarning, remoteResolverWarning, resolverFor, resolverTrust, trustedView, type ResolverTrust } from '../dns/resolver-trust.js';
import type { TrustAnchor } from '../dns/dnssec/index.js';
import type { DnsAnswer, Resolver, TlsaData } from '../dns/types.js';
import { MAX_INPUT_BYTES, describeMaterial, parseMaterial, type Material } from '../tools/tlsa/material.js';
import {
  DEFAULT_PARAMS,
  computeRecords,
  ownerName,
  parseHostName,
  parseMatchingType,
  parseRecordSpecs,
  parseSelector,
  parseUsage,
  parseRecordText,
  zoneLine,
  type ComputedRecord,
  type TlsaParams,
} from '../tools/tlsa/records.js';
import { parseZoneTlsa, type ZoneParse } from '../tools/tlsa/zone.js';
import { describeTlsaBase, verifyServed, type TlsaBaseReport, type VerifyReport } from '../tools/tlsa/verify.js';
import { answerFailed } from '../core/rfc7672/host.js';
import { findTlsaBase } from '../engine/host-plan.js';
import { analyzeRollover, rolloverAcross, type MultiRollover, type RolloverReport } from '../tools/tlsa/rollover.js';
import { hostPort, renderTlsaBase, renderGenerate, renderGenerateGroups, renderRollover, renderServer, renderTlsaHeader, renderMultiRollover, type ServedSummary } from '../tools/tlsa/render.js';
import { connectAll, differenceWarning, groupServed, hostAddresses, type AddressResolver, type Connected, type HostAddresses, type ServedGroup, type TlsMode } from '../tools/tlsa/connect.js';
import { COMMON_OPTIONS, TIMEOUT_HELP, resolverSpec, timeoutOption, trustAnchors } from './options.js';

export { CONNECT_CONCURRENCY, type Connected, type HostAddresses } from '../tools/tlsa/connect.js';

export const TLSA_EXIT = { OK: 0, FAILED: 1, USAGE: 64, UNAVAILABLE: 69 } as const;

/** Where the command reads and writes; tests replace parts of it. */
export interface TlsaIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  now: () => Date;
  /** Contents of /etc/resolv.conf ('' when absent). */
  resolvConf: () => string;
  /** System resolution of a --connect host name (generating records without --resolver). */
  resolveHost: (name: string) => Promise<string[]>;
}

const defaultIo: TlsaIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  now: () => new Date(),
  resolvConf: readResolvConf,
  resolveHost: async (name) => (await dnsLookup(name, { all: true })).map((a) => a.address),
};

interface TlsaOptions {
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

// ---------------------------------------------------------------- options and input files

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

function portOption(value: string, what: string): number {
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

function readInput(path: string, what: string): Buffer {
  try {
    if (path !== '-') {
      const st = statSync(path);
      if (!st.isFile()) throw usage(`${what} ${path}: not a regular file`);
      if (st.size > MAX_INPUT_BYTES) throw usage(`${what} ${path}: larger than ${MAX_INPUT_BYTES} bytes`);
    }
    return readFileSync(path === '-' ? 0 : path);
  } catch (e) {
    if (e instanceof DaneSmtpError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw usage(`cannot read ${what} ${path === '-' ? 'from standard input' : path}: ${code ?? (e as Error).message}`);
  }
}

function loadMaterial(path: string, what: string): Material {
  return parseMaterial(readInput(path, what), inputName(path));
}

/** A path for humans: '-' is standard input. */
function inputName(path: string): string {
  return path === '-' ? 'standard input' : path;
}

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

/** First DNS SAN without a wildcard, else a CN that looks like a host name. */
function nameFromCertificate(m: Material): string | undefined {
  if (m.kind !== 'certs') return undefined;
  const leaf = m.certs[0]!.x509;
  const sans = (leaf.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  for (const n of [...sans, ...(cn ? [cn] : [])]) {
    if (n.includes('*')) continue;
    try {
      return parseHostName(n);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * `dane-smtp tlsa`: checks the options, then runs one mode. Without --connect: records from
 * FILE, or a rollover check of FILE against --rrset. With --connect: DNS, then every address
 * of the host, then --verify, or records (or a rollover check) from what was served.
 */
export async function runTlsa(positional: string | undefined, o: TlsaOptions, io: TlsaIo): Promise<number> {
  const s = tlsaSettings(positional, o);
  if (!s.connect) {
    const target = { host: s.host, owner: ownerName(s.host, s.port) };
    return s.next && s.rrset ? rolloverFromMaterial(s, target, io) : generateFromMaterial(s, target, io);
  }
  const dns = await lookUpServer(s, s.connect, io);
  const live = await connectServer(s, s.connect, dns);
  return s.verify ? verifyServer(s, dns, live, io) : fromLiveServer(s, dns, live, io);
}

// ---------------------------------------------------------------- settings

/** The options, checked, with the input files read: what every mode starts from. */
interface TlsaSettings {
  json: boolean;
  verify: boolean;
  params: TlsaParams[];
  /** FILE ('-': standard input) and what it holds. */
  file: string | undefined;
  material: Material | undefined;
  /** --next: the next key or certificate. */
  next: Material | undefined;
  /** --rrset: the published RRset, and the path it was read from. */
  rrset: ZoneParse | undefined;
  rrsetPath: string | undefined;
  /** --resolver as given. */
  resolver: string | undefined;
  /** --trust-anchor FILE or --validate: DNSSEC validated here (src/dns/resolver-trust.ts). */
  anchors: readonly TrustAnchor[] | undefined;
  connect: ConnectSpec | undefined;
  /** --connect as given, for humans. */
  connectText: string | undefined;
  connectPort: number;
  tlsMode: TlsMode | undefined;
  helo: string;
  timeoutMs: number;
  /** The TLSA base domain from the options (or the certificate); --verify may choose another (RFC 7672 §2.2.2). */
  host: string;
  /** --host was given: no RFC 7672 §2.2.2 selection. */
  hostGiven: boolean;
  /** The port in the owner name _PORT._tcp.HOST. */
  port: number;
  /** --sni as given. */
  sni: string | undefined;
  /** Warnings so far: each step adds its own; printed (or put in the JSON) at the end. */
  warnings: string[];
}

/** Checks the options (each mistake is a USAGE error) and reads FILE, --next and --rrset. */
function tlsaSettings(positional: string | undefined, o: TlsaOptions): TlsaSettings {
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
  const material = file !== undefined ? loadMaterial(file, 'certificate or key') : undefined;
  const next = o.next !== undefined ? loadMaterial(o.next, '--next') : undefined;
  const rrset = o.rrset !== undefined ? parseZoneTlsa(readInput(o.rrset, '--rrset').toString('utf8'), inputName(o.rrset)) : undefined;
  const anchors = trustAnchors(o);

  const warnings: string[] = [...(material?.warnings ?? []), ...(next?.warnings ?? [])];
  let host = o.host !== undefined ? parseHostName(o.host) : undefined;
  if (!host && connect && !connect.isAddress) host = connect.host;
  if (!host && o.sni !== undefined) host = parseHostName(o.sni, '--sni');
  if (!host && material && !connect) {
    host = nameFromCertificate(material);
    if (host) warnings.push(`no --host: the owner name is taken from the certificate (${host})`);
  }
  if (!host) {
    throw usage(connect ? '--connect gives an IP address: give the TLSA base domain with --host NAME (or --sni NAME)' : 'give the TLSA base domain with --host NAME (the MX host name)');
  }
  const connectPort = connect?.port ?? 25;
  const port = o.port !== undefined ? portOption(o.port, '--port') : connect ? connectPort : 25;
  const sni = o.sni !== undefined ? parseHostName(o.sni, '--sni') : undefined;
  return {
    json: o.json === true,
    verify: o.verify === true,
    params,
    file,
    material,
    next,
    rrset,
    rrsetPath: o.rrset,
    resolver: o.resolver,
    anchors,
    connect,
    connectText: o.connect,
    connectPort,
    tlsMode,
    helo,
    timeoutMs,
    host,
    hostGiven: o.host !== undefined,
    port,
    sni,
    warnings,
  };
}

/** The TLSA base domain and owner name a mode reports on. */
interface Target {
  host: string;
  owner: string;
}

/** The warnings, one line each on standard error (the human report only). */
function printWarnings(s: TlsaSettings, io: TlsaIo): void {
  for (const w of s.warnings) io.stderr(`dane-smtp: warning: ${w}\n`);
}

// ---------------------------------------------------------------- FILE without --connect

/** Records from FILE (with --connect too: checked against what each address serves). */
function generateFromMaterial(s: TlsaSettings, target: Target, io: TlsaIo, served?: Served): number {
  const m = s.material!;
  const runs = served ? served.groups.map((g) => computeRecords(m, s.params, g.certs)) : [computeRecords(m, s.params)];
  for (const w of runs.flatMap((r) => r.warnings)) pushOnce(s.warnings, w);
  const records = runs[0]!.records;
  const source = inputName(s.file!);
  return printRecords(s, target, io, { source, material: m, records, text: renderGenerate(target.owner, `${source}: ${describeMaterial(m)}`, records) }, served);
}

/** --next with --rrset: does the RRset file cover the key of FILE and the next key (RFC 7671 §8.1)? */
function rolloverFromMaterial(s: TlsaSettings, { host, owner }: Target, io: TlsaIo): number {
  const from = rrsetSource(s, owner);
  const r = analyzeRollover({ published: s.rrset!.records, current: s.material!, next: s.next!, host, now: io.now() });
  s.warnings.push(...r.warnings);
  if (s.json) {
    io.stdout(json({ mode: 'rollover', owner, host, port: s.port, source: inputName(s.file!), ...rolloverJson(owner, r), ok: r.status === 'ready', warnings: s.warnings }));
  } else {
    printWarnings(s, io);
    io.stdout(renderRollover(owner, from, r));
  }
  return r.status === 'ready' ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}

/** Warnings about what the --rrset file holds; returns where its records came from, for humans. */
function rrsetSource(s: TlsaSettings, owner: string): string {
  const rrset = s.rrset!;
  const owners = [...new Set(rrset.records.flatMap((x) => (x.owner && x.owner !== owner ? [x.owner] : [])))];
  if (owners.length) s.warnings.push(`the RRset file has records for ${owners.join(', ')}, not only ${owner}: all of them are used`);
  if (rrset.ignored) s.warnings.push(`${rrset.ignored} record(s) of other types in the RRset file are ignored`);
  if (rrset.records.length === 0) s.warnings.push('the RRset file has no TLSA record');
  return `${rrset.records.length} record(s) from ${inputName(s.rrsetPath!)}`;
}

/** Prints generated records, human or JSON; with --connect, what each address served and what failed. */
function printRecords(
  s: TlsaSettings,
  { host, owner }: Target,
  io: TlsaIo,
  g: { source: string; material: Material; records: (ComputedRecord & { addresses?: string[] })[]; text: string },
  served?: Served,
): number {
  const partial = served !== undefined && served.failures.length > 0;
  if (s.json) {
    io.stdout(
      json({
        mode: 'generate',
        owner,
        host,
        port: s.port,
        source: g.source,
        material: describeMaterial(g.material),
        ...(served ? { hostAddresses: served.live.addressesJson, addresses: served.live.results.map((c) => summaryOf(c, s.connectPort)) } : {}),
        records: g.records.map((r) => ({
          usage: r.usage,
          selector: r.selector,
          matchingType: r.matchingType,
          data: r.data.toString('hex'),
          text: r.text,
          zone: zoneLine(owner, r),
          description: r.description,
          target: r.target,
          ...(r.addresses ? { servedBy: r.addresses } : {}),
        })),
        ...(partial ? { ok: false, error: served.failures.join('; ') } : {}),
        warnings: s.warnings,
      }),
    );
  } else {
    printWarnings(s, io);
    io.stdout(g.text);
  }
  return partial ? TLSA_EXIT.UNAVAILABLE : TLSA_EXIT.OK;
}

// ---------------------------------------------------------------- --connect: DNS

/** The resolver of --verify (or --resolver) and what its probe found. */
interface ResolverSetup {
  /** "127.0.0.1:53" ('' when there is none). */
  text: string;
  /** `resolver` in the --verify JSON report. */
  json?: Record<string, unknown>;
  /** For the TLSA RRset and the host's addresses; none when unconfigured or unreachable. */
  lookup?: AddressResolver;
  /** Why the resolver cannot be used: it did not answer the probe. */
  down?: string;
  /** --verify: how far its answers are trusted (RFC 7672 §2.1). */
  trust?: ResolverTrust;
}

/**
 * --verify looks the TLSA RRset and the addresses of the --connect host up with one resolver
 * (--resolver, else the first nameserver of resolv.conf), as a sending MTA does, set up as
 * check and send set theirs up (src/dns/resolver-trust.ts: the AD bit, or --validate /
 * --trust-anchor); generating records from a host name uses --resolver when given, else
 * the system resolver.
 */
async function setUpResolver(s: TlsaSettings, io: TlsaIo): Promise<ResolverSetup> {
  if (!s.verify && s.resolver === undefined) return { text: '' };
  const spec = resolverSpec(s.resolver, io.resolvConf);
  const text = hostPort(spec.address, spec.port);
  const config = { ...spec, timeoutMs: s.timeoutMs, ...(s.verify && s.anchors ? { anchors: s.anchors } : {}) };
  const upstream = resolverFor(config);
  if (!s.verify) return { text, lookup: { resolver: upstream, text, validates: false } };
  const remote = remoteResolverWarning(config);
  if (remote) s.warnings.push(remote);
  const probe = await probeValidation(upstream);
  const trust = resolverTrust(upstream, probe);
  const json = { address: spec.address, port: spec.port, validates: probe.validates, reason: probe.reason, trust };
  if (!probe.reachable) {
    s.warnings.push(`${probe.reason}: no TLSA lookup`);
    if (config.anchors && !probe.unreachable) {
      s.warnings.push('with --validate or --trust-anchor the root zone must validate from the given anchors: check the anchor file (it must match the DNS the resolver serves) and that the resolver passes DNSSEC records through');
    }
    return { text, json, down: probe.reason, trust };
  }
  if (trust === 'untrusted') s.warnings.push(`${probe.reason}: its AD bit is not trusted, every answer counts as insecure at best (RFC 7672 §2.1)`);
  if (trust === 'self-validating' && !probe.validates) s.warnings.push(...anchorsBelowRootWarning(probe));
  return { text, json, lookup: { resolver: trustedView(upstream, trust), text, validates: trust !== 'untrusted' }, trust };
}

/** What DNS says about the --connect host: its addresses and, for --verify, the TLSA RRset. */
interface ServerDns extends Target {
  /** The SNI name: --sni, else the TLSA base domain. */
  sni: string;
  resolver: ResolverSetup;
  hostAddrs: HostAddresses;
  /** --verify: the TLSA RRset (a stand-in without records when it was not looked up). */
  answer?: DnsAnswer<TlsaData>;
  /** --verify: how the TLSA base domain was chosen. */
  baseReport?: TlsaBaseReport;
  /** Why no TLSA lookup is done (DANE does not apply); the verdict when set. */
  noTlsa?: string;
}

/**
 * The resolver, the addresses of the --connect host and (--verify) its TLSA RRset.
 *
 * --verify --connect HOST (no --host): the TLSA base domain is the one a sending MTA uses
 * (RFC 7672 §2.2.2, the rules of plan.ts findTlsaBase): the CNAME-expanded name first when
 * the address records are secure, the original name when only the first CNAME is secure,
 * none when they are insecure (DANE does not apply). It is then the default SNI and the
 * DANE-TA reference identifier (RFC 7672 §2.2.3, §3.2.2).
 */
async function lookUpServer(s: TlsaSettings, connect: ConnectSpec, io: TlsaIo): Promise<ServerDns> {
  const resolver = await setUpResolver(s, io);
  const addressResolver = resolver.lookup;
  const resolveHost = (name: string) => io.resolveHost(name);
  let host = s.host;
  const port = s.port;
  const selectBase = s.verify && !connect.isAddress && !s.hostGiven;
  let hostAddrs: HostAddresses | undefined;
  let tlsaAnswer: DnsAnswer<TlsaData> | undefined;
  let baseReport: TlsaBaseReport | undefined;
  let noTlsa: string | undefined;
  if (selectBase && addressResolver) {
    hostAddrs = await hostAddresses(connect, addressResolver, resolveHost, false);
    const answered = (hostAddrs.answers ?? []).filter((x) => !answerFailed(x));
    const failedAddr = (hostAddrs.answers ?? []).find(answerFailed);
    if (failedAddr && answered.length > 0) {
      // RFC 7672 §2.1.1: a failed address lookup makes the whole host unusable to an MTA.
      s.warnings.push(`the ${failedAddr.qtype} lookup of ${host} failed (${failedAddr.proof}${failedAddr.reason ? `: ${failedAddr.reason}` : ''}): a sending MTA skips this host altogether (RFC 7672 §2.1.1); the other addresses are checked anyway`);
    }
    if (hostAddrs.addresses.length > 0 && answered.length > 0) {
      const chosen = describeTlsaBase(host, port, await findTlsaBase(addressResolver.resolver, host, answered, port));
      baseReport = chosen.report;
      tlsaAnswer = chosen.answer;
      noTlsa = chosen.noTlsa;
      if (chosen.report.base) host = chosen.report.base;
    }
  }
  if (!baseReport) {
    const qname = ownerName(host, port).slice(0, -1);
    const [t, h] = await Promise.all([
      s.verify && addressResolver ? addressResolver.resolver.lookup(qname, 'TLSA') : undefined,
      hostAddrs
        ? hostAddrs
        : resolver.down && !connect.isAddress
          ? (Promise.resolve({ addresses: [], source: resolver.text, errors: [`cannot resolve ${connect.host}: ${resolver.down}`], warnings: [] }) as Promise<HostAddresses>)
          : hostAddresses(connect, addressResolver, resolveHost, !s.verify || !selectBase),
    ]);
    tlsaAnswer = t;
    hostAddrs = h;
    if (s.verify) {
      const why = selectBase
        ? `the addresses of ${host} could not be looked up, so the TLSA base domain cannot be chosen as a sending MTA does (RFC 7672 §2.2.2): TLSA is looked up at ${host} itself`
        : s.hostGiven
          ? `the TLSA base domain ${host} is given with --host: no RFC 7672 §2.2.2 selection`
          : `--connect gives an address: the TLSA base domain ${host} is taken from --sni, with no RFC 7672 §2.2.2 selection`;
      baseReport = {
        base: host,
        owner: ownerName(host, port),
        selection: 'given',
        daneApplies: null,
        queried: t ? [{ owner: `${t.qname}.`, status: t.status, proof: t.proof, records: t.records.length }] : [],
        reason: why,
      };
    }
  }
  // Set on both paths above: by the base selection, or by the lookup after it.
  const addrs = hostAddrs!;
  const owner = ownerName(host, port);
  const qname = owner.slice(0, -1);
  let answer: DnsAnswer<TlsaData> | undefined;
  if (s.verify) {
    answer = tlsaAnswer ?? {
      qname,
      qtype: 'TLSA',
      status: noTlsa ? 'nodata' : 'failed',
      proof: 'indeterminate',
      records: [],
      ttl: 0,
      cnameChain: [qname],
      canonicalName: qname,
      reason: noTlsa ? 'not looked up' : (resolver.down ?? 'no resolver'),
    };
  }
  s.warnings.push(...addrs.warnings);
  return { host, owner, sni: s.sni ?? host, resolver, hostAddrs: addrs, answer, baseReport, noTlsa };
}

// ---------------------------------------------------------------- --connect: the addresses

/** What the addresses of the --connect host served. */
interface LiveServer {
  connect: ConnectSpec;
  addrs: HostAddresses;
  /** One per address, in address order. */
  results: Connected[];
  /** Addresses that served the same chain, together. */
  groups: ServedGroup[];
  /** `hostAddresses` in the JSON reports. */
  addressesJson: Record<string, unknown>;
}

/** Connects to every address of the host (or the one given) and groups what they served. */
async function connectServer(s: TlsaSettings, connect: ConnectSpec, dns: ServerDns): Promise<LiveServer> {
  const mode = s.tlsMode ?? (s.connectPort === 465 ? 'implicit' : 'starttls');
  const results = await connectAll(dns.hostAddrs.addresses, s.connectPort, mode, dns.sni, s.helo, s.timeoutMs);
  const several = results.length > 1;
  const groups = groupServed(results);
  for (const g of groups) for (const w of g.warnings) pushOnce(s.warnings, several ? `${g.addresses.join(', ')}: ${w}` : w);
  const difference = differenceWarning(connect.host, groups);
  if (difference) s.warnings.push(difference);
  const h = dns.hostAddrs;
  const addressesJson = {
    source: h.source,
    addresses: h.addresses,
    ...(h.errors.length ? { errors: h.errors } : {}),
    ...(h.dns ? { dns: h.dns } : {}),
  };
  return { connect, addrs: h, results, groups, addressesJson };
}

function summaryOf(c: Connected, connectPort: number): ServedSummary | { error: string; address?: string; port?: number } {
  return c.ok ? { address: c.address, port: c.port, tls: c.tls, version: c.version, cipher: c.cipher } : { address: c.address!, port: connectPort, error: c.error };
}

/** "addresses of HOST (from …): …" above the --verify report ('' for an address literal). */
function addressLine(live: LiveServer): string {
  const { connect, addrs } = live;
  if (connect.isAddress) return '';
  const list = addrs.addresses.length ? addrs.addresses.join(', ') : 'none';
  return `addresses of ${connect.host} (from ${addrs.source}): ${list}${addrs.errors.length ? `; ${addrs.errors.join('; ')}` : ''}\n`;
}

// ---------------------------------------------------------------- --verify

/** --verify (and --next): the published RRset against what every address serves. */
function verifyServer(s: TlsaSettings, dns: ServerDns, live: LiveServer, io: TlsaIo): number {
  const { host, owner, noTlsa, baseReport } = dns;
  const { results, groups } = live;
  const answer = dns.answer!;
  const qname = owner.slice(0, -1);
  const next = s.next;
  const warnings = s.warnings;
  const several = results.length > 1;
  const now = io.now();
  const verifyOne = (served: Buffer[]) => verifyServed({ owner: qname, answer, served, referenceNames: [host], now, ...(noTlsa ? { noTlsa } : {}) });
  const perAddress = results.map((c) => {
    const report = verifyOne(c.ok ? c.chain : []);
    if (!c.ok) report.summary = `NOT authenticated: ${c.error}`;
    for (const w of report.warnings) pushOnce(warnings, several ? `${c.address}: ${w}` : w);
    return { connected: c, report };
  });
  const base = verifyOne([]);
  // DANE does not apply (or cannot be told): that is the verdict, said once.
  const verdict = noTlsa ? { authenticated: false, summary: `NOT authenticated: ${[...live.addrs.errors, noTlsa].join('; ')}` } : overallVerdict(perAddress, live.addrs.errors);

  let rollover: MultiRollover | undefined;
  if (next) {
    const unserved = results.filter((c) => !c.ok || groups.every((g) => !g.addresses.includes(c.address!) || g.certs.length === 0));
    for (const c of unserved) warnings.push(`no served chain from ${c.address}: the rollover check needs the current certificate from every address`);
    const usable = groups.filter((g) => g.certs.length > 0);
    if (usable.length === 0) {
      warnings.push('no served chain: the rollover check needs the current certificate from the server');
    } else {
      rollover = rolloverAcross(usable, answer.status === 'data' ? answer.records : [], next, host, now, answer.status === 'data' ? answer.ttl : undefined);
      for (const w of rollover.warnings) pushOnce(warnings, w);
      if (unserved.length) rollover.status = rollover.status === 'ready' ? 'incomplete' : rollover.status;
    }
  }
  const ok = verdict.authenticated && (!next || rollover?.status === 'ready');
  // The zone-file lines to publish for the served key(s) where no usable record matches (each once).
  const suggested = [...new Set(perAddress.flatMap((p) => (p.connected.ok ? (p.report.suggested ?? []) : [])))];
  if (s.json) {
    io.stdout(
      json({
        mode: 'verify',
        owner,
        host,
        port: s.port,
        resolver: dns.resolver.json ?? null,
        hostAddresses: live.addressesJson,
        tlsaBase: baseReport ?? null,
        dns: noTlsa ? null : base.dns,
        addresses: perAddress.map(({ connected: c, report }) => {
          const { warnings: _w, owner: _o, dns: _d, ...rest } = report;
          return { address: c.address, port: s.connectPort, connect: summaryOf(c, s.connectPort), ...rest };
        }),
        authenticated: verdict.authenticated,
        summary: verdict.summary,
        suggested,
        ...(next ? { rollover: rollover ? multiRolloverJson(owner, rollover) : null } : {}),
        ok,
        warnings,
      }),
    );
  } else {
    printWarnings(s, io);
    const parts = [addressLine(live) + (baseReport ? renderTlsaBase(baseReport) : '') + (noTlsa ? 'TLSA: not looked up\n' : renderTlsaHeader(base, dns.resolver.text, dns.resolver.trust === 'self-validating'))];
    for (const { connected: c, report } of perAddress) parts.push(renderServer(report, summaryOf(c, s.connectPort)));
    parts.push(`overall: ${verdict.authenticated ? 'AUTHENTICATED' : 'NOT AUTHENTICATED'}: ${verdict.summary.replace(/^(NOT )?authenticated: /, '')}\n`);
    io.stdout(parts.join('\n'));
    if (rollover) io.stdout(`\n${renderMultiRollover(owner, noTlsa ? 'not looked up' : `from DNS, ${answer.proof}`, rollover)}`);
  }
  return ok ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}

/**
 * The verdict over every address: authenticated only when the addresses could be looked
 * up and every one of them is authenticated. An address that cannot be reached fails.
 */
function overallVerdict(perAddress: { connected: Connected; report: VerifyReport }[], lookupErrors: string[]): { authenticated: boolean; summary: string } {
  const n = perAddress.length;
  const failing = perAddress.filter((p) => !p.report.authenticated);
  if (n > 0 && failing.length === 0 && lookupErrors.length === 0) {
    return { authenticated: true, summary: `authenticated: ${n === 1 ? `${perAddress[0]!.connected.address} matches` : `all ${n} addresses match`}` };
  }
  const why = (p: { report: VerifyReport }) => p.report.summary.replace(/^NOT authenticated: /, '');
  const parts = [...lookupErrors];
  const reached = failing.filter((p) => p.connected.ok);
  const sameReason = n > 1 && reached.length === n && new Set(reached.map(why)).size === 1;
  if (sameReason) parts.push(`none of the ${n} addresses is authenticated: ${why(reached[0]!)}`);
  else {
    for (const p of failing) {
      const r = p.report;
      const verb = !p.connected.ok ? 'cannot be checked' : r.dns.status === 'data' && r.dns.proof === 'secure' && r.records.some((x) => x.usable) ? 'does NOT match' : 'is NOT authenticated';
      parts.push(`${p.connected.address} ${verb}: ${why(p)}`);
    }
  }
  if (n > 0 && failing.length < n) parts.push(`${n - failing.length} of ${n} addresses match`);
  return { authenticated: false, summary: `NOT authenticated: ${parts.join('; ')}` };
}

// ---------------------------------------------------------------- records or rollover from --connect

/** The chains the addresses served, and what could not be reached (each one a failure). */
interface Served {
  live: LiveServer;
  /** The groups with at least one parsable certificate (never empty). */
  groups: ServedGroup[];
  failures: string[];
}

/**
 * Records (or, with --next and --rrset, a rollover check) from what the --connect host
 * served. What could not be reached is reported; nothing served at all is an error (69, or
 * 1 for a rollover check).
 */
function fromLiveServer(s: TlsaSettings, dns: ServerDns, live: LiveServer, io: TlsaIo): number {
  const failures: string[] = [...live.addrs.errors];
  for (const c of live.results) if (!c.ok) failures.push(c.error);
  for (const g of live.groups) if (g.certs.length === 0) failures.push(`${g.addresses.join(', ')}: the server sent no parsable certificate`);
  const groups = live.groups.filter((g) => g.certs.length > 0);
  if (groups.length === 0) {
    const error = failures.join('; ') || 'the server sent no parsable certificate';
    if (s.json) io.stdout(json({ mode: s.next ? 'rollover' : 'generate', owner: dns.owner, hostAddresses: live.addressesJson, addresses: live.results.map((c) => summaryOf(c, s.connectPort)), ok: false, error, warnings: s.warnings }));
    else {
      printWarnings(s, io);
      for (const f of failures.length ? failures : [error]) io.stderr(`dane-smtp: ${f}\n`);
    }
    return s.next ? TLSA_EXIT.FAILED : TLSA_EXIT.UNAVAILABLE;
  }
  for (const f of failures) s.warnings.push(`${f}: not in the ${s.next ? 'rollover check' : 'records'} below`);
  const served: Served = { live, groups, failures };
  if (s.next && s.rrset) return rolloverFromServer(s, dns, served, io);
  return s.material ? generateFromMaterial(s, dns, io, served) : generateFromServer(s, dns, served, io);
}

/** "the server at HOST[:PORT]", with its addresses when they all serve the same chain. */
function serverSource(s: TlsaSettings, groups: ServedGroup[]): string {
  const allAddresses = groups.flatMap((g) => g.addresses);
  return `the server at ${s.connectText}${allAddresses.length > 1 && groups.length === 1 ? ` (${allAddresses.length} addresses: ${allAddresses.join(', ')})` : ''}`;
}

function groupMaterial(g: ServedGroup): Material {
  return { kind: 'certs', certs: g.certs, warnings: [] };
}

/** Records from the served chains: one list when every address serves the same chain, else one block per chain. */
function generateFromServer(s: TlsaSettings, target: Target, served: Served, io: TlsaIo): number {
  const source = serverSource(s, served.groups);
  let records: (ComputedRecord & { addresses?: string[] })[];
  let text: string;
  if (served.groups.length === 1) {
    const g = served.groups[0]!;
    const m = groupMaterial(g);
    const c = computeRecords(m, s.params, g.certs);
    for (const w of c.warnings) pushOnce(s.warnings, w);
    records = c.records.map((r) => ({ ...r, addresses: g.addresses }));
    text = renderGenerate(target.owner, `${source}: ${describeMaterial(m)}`, records);
  } else {
    const blocks = served.groups.map((g) => {
      const c = computeRecords(groupMaterial(g), s.params, g.certs);
      for (const w of c.warnings) pushOnce(s.warnings, `${g.addresses.join(', ')}: ${w}`);
      return { addresses: g.addresses, what: describeMaterial(groupMaterial(g)), records: c.records };
    });
    const byText = new Map<string, ComputedRecord & { addresses: string[] }>();
    for (const b of blocks) {
      for (const r of b.records) {
        const seen = byText.get(r.text);
        if (seen) seen.addresses.push(...b.addresses.filter((a) => !seen.addresses.includes(a)));
        else byText.set(r.text, { ...r, addresses: [...b.addresses] });
      }
    }
    records = [...byText.values()];
    text = renderGenerateGroups(target.owner, source, blocks);
  }
  return printRecords(s, target, io, { source, material: groupMaterial(served.groups[0]!), records, text }, served);
}

/** --next with --rrset: does the RRset file cover the key every address serves and the next key (RFC 7671 §8.1)? */
function rolloverFromServer(s: TlsaSettings, { host, owner }: Target, served: Served, io: TlsaIo): number {
  const { live } = served;
  const from = rrsetSource(s, owner);
  const m = rolloverAcross(served.groups, s.rrset!.records, s.next!, host, io.now());
  for (const w of m.warnings) pushOnce(s.warnings, w);
  if (served.failures.length > 0 && m.status === 'ready') m.status = 'incomplete';
  const ok = m.status === 'ready';
  if (s.json) {
    io.stdout(
      json({
        mode: 'rollover',
        owner,
        host,
        port: s.port,
        source: serverSource(s, served.groups),
        hostAddresses: live.addressesJson,
        addresses: live.results.map((c) => summaryOf(c, s.connectPort)),
        ...rolloverJson(owner, m.keys[0]!.report),
        ...multiRolloverJson(owner, m),
        ok,
        warnings: s.warnings,
      }),
    );
  } else {
    printWarnings(s, io);
    io.stdout(renderMultiRollover(owner, from, m));
  }
  return ok ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}

// ---------------------------------------------------------------- output

/** Adds a warning unless it is already there. */
function pushOnce(list: string[], w: string): void {
  if (!list.includes(w)) list.push(w);
}

/** One line of JSON; Buffers as hex. */
function json(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data).toString('hex') : v))}\n`;
}

function rolloverJson(owner: string, r: RolloverReport) {
  return { ...r, publishZone: r.publish.map((p) => zoneLine(owner, parseRecordText(p.record))) };
}

function multiRolloverJson(owner: string, m: MultiRollover) {
  return {
    status: m.status,
    keys: m.keys.map((k) => ({ addresses: k.addresses, ...rolloverJson(owner, k.report) })),
    publish: m.publish,
    added: m.added,
    publishZone: m.publish.map((p) => zoneLine(owner, parseRecordText(p.record))),
  };
}

/** The flags and help of a check/send option that --verify shares (options.ts COMMON_OPTIONS). */
function commonOption(long: string): [string, string] {
  const o = COMMON_OPTIONS.find(([flags]) => flags.split(' ')[0] === long)!;
  return [o[0], `with --verify: ${o[1]}`];
}

export function registerTlsaCommand(program: Command, setExit: (code: number) => void, io: Partial<TlsaIo> = {}): void {
  const ioAll: TlsaIo = { ...defaultIo, ...io };
  program
    .command('tlsa')
    .description('generate TLSA records from a certificate, chain, key or live server; check the published records (--verify) and rollover readiness (--next)')
    .argument('[file]', 'certificate, chain, public or private key (PEM or DER, auto-detected); - reads standard input')
    .option('--connect <host[:port]>', 'take the chain from a live server, every address of the host (STARTTLS; implicit TLS on port 465); default port 25')
    .option('--sni <name>', 'SNI name sent with --connect (default: the TLSA base domain)')
    .addOption(new Option('--tls <mode>', 'with --connect: starttls or implicit (default: implicit on port 465, STARTTLS otherwise)'))
    .option('--host <name>', 'TLSA base domain for the owner _PORT._tcp.NAME (default: the --connect host name; with --verify, the one a sending MTA uses, RFC 7672 §2.2.2)')
    .option('--port <n>', 'port in the owner name (default: the --connect port, else 25)')
    .option('--usage <u>', 'certificate usage: 3 (dane-ee, default), 2 (dane-ta), 1, 0')
    .option('--selector <s>', 'selector: 1 (spki, default) or 0 (cert)')
    .option('--mtype <m>', 'matching type: 1 (sha256, default), 2 (sha512) or 0 (full)')
    .option('--record <u s m...>', 'record parameters as three numbers, e.g. --record 2 0 1 (repeatable)')
    .option('--verify', 'look up the published TLSA RRset and check it against the live server (needs --connect); exit 0 only when authenticated')
    .option('--resolver <ip[:port]>', 'validating DNS resolver for --verify, also for the --connect host\'s addresses (default: first nameserver in /etc/resolv.conf; the system resolver when generating)')
    .option(...commonOption('--trust-anchor'))
    .option(...commonOption('--validate'))
    .option('--next <file>', 'rollover check: the next key or certificate; exit 0 only when the published RRset matches current and next')
    .option('--rrset <file>', 'published RRset as zone-file TLSA lines (instead of --verify) for --next')
    .option('--helo <name>', 'EHLO name for --connect (default: this host name)')
    .option('--timeout <seconds>', TIMEOUT_HELP, '30')
    .option('--json', 'one JSON object instead of the human report')
    .action(async (file: string | undefined, o: TlsaOptions) => {
      setExit(await runTlsa(file, o, ioAll));
    });
}
