/**
 * `dane-smtp tlsa`: generate TLSA records from a certificate, chain or key (or a live
 * server), check the published RRset against a live server (--verify), and check rollover
 * readiness (--next). The logic is in src/tools/tlsa/; this file does the I/O: files,
 * standard input, DNS (StubResolver), SMTP/STARTTLS (runSmtpSession) and implicit TLS.
 *
 * Exit codes: 0 records printed / authenticated / ready; 1 not authenticated or not ready;
 * 64 usage or input error (DaneSmtpError USAGE, printed as one line by main.ts);
 * 69 --connect failed while generating records.
 */
import { readFileSync, statSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { Command, Option } from 'commander';
import { DaneSmtpError } from '../errors.js';
import { firstNameserver, isLoopback, parseResolverSpec } from '../dns/resolv-conf.js';
import { StubResolver } from '../dns/stub.js';
import { probeValidation } from '../dns/probe.js';
import { untrustedResolver } from '../dns/untrusted.js';
import type { DnsAnswer, Resolver, TlsaData } from '../dns/types.js';
import { runSmtpSession } from '../smtp/session.js';
import type { ServedTls } from '../smtp/types.js';
import { MAX_INPUT_BYTES, describeMaterial, parseMaterial, servedEntries, type Material } from '../tools/tlsa/material.js';
import {
  DEFAULT_PARAMS,
  computeRecords,
  ownerName,
  parseHostName,
  parseMatchingType,
  parseRecordSpecs,
  parseSelector,
  parseUsage,
  zoneLine,
  type TlsaParams,
} from '../tools/tlsa/records.js';
import { parseZoneTlsa } from '../tools/tlsa/zone.js';
import { verifyServed } from '../tools/tlsa/verify.js';
import { analyzeRollover, type RolloverReport } from '../tools/tlsa/rollover.js';
import { parseRecordText, renderGenerate, renderRollover, renderVerify, type ServedSummary } from '../tools/tlsa/render.js';
import { DANE_TLS_CLIENT_OPTIONS, servedChain } from '../smtp/served-chain.js';

export const TLSA_EXIT = { OK: 0, FAILED: 1, USAGE: 64, UNAVAILABLE: 69 } as const;

/** Where the command reads and writes; tests replace parts of it. */
export interface TlsaIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  now: () => Date;
  /** Contents of /etc/resolv.conf ('' when absent). */
  resolvConf: () => string;
  /** System resolution of a --connect host name. */
  resolveHost: (name: string) => Promise<string[]>;
}

const defaultIo: TlsaIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  now: () => new Date(),
  resolvConf: () => {
    try {
      return readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  },
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
  next?: string;
  rrset?: string;
  helo?: string;
  timeout: string;
  json?: boolean;
}

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

function portOption(value: string, what: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw usage(`${what} must be a port from 1 to 65535, not '${value}'`);
  return Number(value);
}

/** `HOST[:PORT]`, `[IPv6]:PORT`, a bare IPv6 address. */
export function parseConnectSpec(spec: string): { host: string; port?: number; isAddress: boolean } {
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
  return parseMaterial(readInput(path, what), path === '-' ? 'standard input' : path);
}

// ---------------------------------------------------------------- connecting

export type Connected =
  | ({ ok: true; chain: Buffer[] } & ServedSummary)
  | { ok: false; error: string; address?: string };



function implicitTls(address: string, port: number, servername: string | undefined, timeoutMs: number): Promise<Connected> {
  return new Promise((resolve) => {
    let done = false;
    const sock = tls.connect({
      host: address,
      port,
      ...(servername ? { servername } : {}),
      // An empty trust store, so that the chain is only what was sent (served-chain.ts).
      ...DANE_TLS_CLIENT_OPTIONS,
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

async function connectServer(
  spec: { host: string; isAddress: boolean },
  port: number,
  mode: 'starttls' | 'implicit',
  servername: string | undefined,
  helo: string,
  timeoutMs: number,
  io: TlsaIo,
): Promise<Connected> {
  let address = spec.host;
  if (!spec.isAddress) {
    let addresses: string[];
    try {
      addresses = await io.resolveHost(spec.host);
    } catch (e) {
      return { ok: false, error: `cannot resolve ${spec.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    if (addresses.length === 0) return { ok: false, error: `cannot resolve ${spec.host}: no address` };
    address = addresses[0]!;
  }
  return mode === 'implicit' ? implicitTls(address, port, servername, timeoutMs) : starttls(address, port, servername, helo, timeoutMs);
}

// ---------------------------------------------------------------- the command

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

function json(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data).toString('hex') : v))}\n`;
}

function rolloverJson(owner: string, r: RolloverReport) {
  return { ...r, publishZone: r.publish.map((p) => zoneLine(owner, parseRecordText(p.record))) };
}

export async function runTlsa(positional: string | undefined, o: TlsaOptions, io: TlsaIo): Promise<number> {
  // ---- options
  const { params, file } = recordParams(o, positional);
  // The same rule and message as check, send and scan (options.ts).
  const timeoutSeconds = /^\d{1,4}(\.\d{1,3})?$/.test(o.timeout) ? Number(o.timeout) : NaN;
  if (!(timeoutSeconds >= 0.001 && timeoutSeconds <= 3600)) {
    throw usage(`--timeout must be a number of seconds from 0.001 to 3600, not '${o.timeout}'`);
  }
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  const connect = o.connect !== undefined ? parseConnectSpec(o.connect) : undefined;
  if (o.verify && !connect) throw usage('--verify checks a live server: give --connect HOST[:PORT]');
  if (o.verify && file !== undefined) throw usage('--verify checks what the server sends: give --connect without a FILE');
  if (o.verify && o.rrset !== undefined) throw usage('--verify looks the RRset up in DNS: give either --verify or --rrset');
  if (o.rrset !== undefined && o.next === undefined) throw usage('--rrset is for rollover checks: give --next FILE too');
  if (o.next !== undefined && !o.verify && o.rrset === undefined) throw usage('--next needs the published RRset: give --verify (with --connect) or --rrset FILE');
  if (o.next !== undefined && file !== undefined && connect) throw usage('--next compares with one current key: give either FILE or --connect');
  if (!o.verify && o.resolver !== undefined) throw usage('--resolver is used with --verify');
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
  const rrset = o.rrset !== undefined ? parseZoneTlsa(readInput(o.rrset, '--rrset').toString('utf8'), o.rrset === '-' ? 'standard input' : o.rrset) : undefined;

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
  const owner = ownerName(host, port);
  const sni = o.sni !== undefined ? parseHostName(o.sni, '--sni') : host;

  const warn = (w: string) => {
    if (!o.json) io.stderr(`dane-smtp: warning: ${w}\n`);
  };

  // ---- verify: the TLSA lookup first, as a client does
  let answer: DnsAnswer<TlsaData> | undefined;
  let resolverText = '';
  let resolverJson: Record<string, unknown> | undefined;
  if (o.verify) {
    let spec: { address: string; port: number };
    if (o.resolver !== undefined) spec = parseResolverSpec(o.resolver);
    else {
      const ns = firstNameserver(io.resolvConf());
      if (!ns) throw usage('no nameserver in /etc/resolv.conf: give one with --resolver IP[:PORT]');
      spec = { address: ns, port: 53 };
    }
    resolverText = spec.address.includes(':') ? `[${spec.address}]:${spec.port}` : `${spec.address}:${spec.port}`;
    if (!isLoopback(spec.address)) warnings.push(`resolver ${spec.address} is not on loopback; an AD bit that crosses a network can be forged (RFC 7672 §2.1)`);
    const stub = new StubResolver({ server: spec.address, port: spec.port, timeoutMs });
    const probe = await probeValidation(stub);
    resolverJson = { address: spec.address, port: spec.port, validates: probe.validates, reason: probe.reason };
    const qname = owner.slice(0, -1);
    if (!probe.reachable) {
      warnings.push(`${probe.reason}: no TLSA lookup`);
      answer = { qname, qtype: 'TLSA', status: 'failed', proof: 'indeterminate', records: [], ttl: 0, cnameChain: [qname], canonicalName: qname, reason: probe.reason };
    } else {
      let resolver: Resolver = stub;
      if (!probe.validates) {
        warnings.push(`${probe.reason}: its AD bit is not trusted, every answer counts as insecure at best (RFC 7672 §2.1)`);
        resolver = untrustedResolver(stub);
      }
      answer = await resolver.lookup(qname, 'TLSA');
    }
  }

  // ---- connect
  let connected: Connected | undefined;
  if (connect) {
    const mode = tlsMode ?? (connectPort === 465 ? 'implicit' : 'starttls');
    connected = await connectServer(connect, connectPort, mode, sni, helo, timeoutMs, io);
  }
  const servedCerts = connected?.ok ? servedEntries(connected.chain) : undefined;
  if (servedCerts) warnings.push(...servedCerts.warnings);
  const servedSummary: ServedSummary | { error: string } | undefined = connected
    ? connected.ok
      ? { address: connected.address, port: connected.port, tls: connected.tls, version: connected.version, cipher: connected.cipher }
      : { error: connected.error }
    : undefined;

  // ---- verify (+ rollover)
  if (o.verify) {
    const served = connected?.ok ? connected.chain : [];
    const report = verifyServed({ owner: owner.slice(0, -1), answer: answer!, served, referenceNames: [host], now: io.now() });
    if (connected && !connected.ok) report.summary = `NOT authenticated: ${connected.error}`;
    warnings.push(...report.warnings);
    let rollover: RolloverReport | undefined;
    if (next) {
      if (served.length === 0) {
        warnings.push('no served chain: the rollover check needs the current certificate from the server');
      } else {
        rollover = analyzeRollover({
          published: answer!.status === 'data' ? answer!.records : [],
          current: { kind: 'certs', certs: servedCerts!.certs, warnings: [] },
          next,
          host,
          now: io.now(),
          ...(answer!.status === 'data' ? { ttl: answer!.ttl } : {}),
        });
        warnings.push(...rollover.warnings);
      }
    }
    const ok = report.authenticated && (!next || rollover?.status === 'ready');
    const { warnings: _reportWarnings, owner: _reportOwner, ...reportRest } = report;
    if (o.json) {
      io.stdout(
        json({
          mode: 'verify',
          owner,
          host,
          port,
          resolver: resolverJson,
          connect: servedSummary,
          ...reportRest,
          ...(next ? { rollover: rollover ? rolloverJson(owner, rollover) : null } : {}),
          ok,
          warnings,
        }),
      );
    } else {
      warnings.forEach(warn);
      io.stdout(renderVerify(report, servedSummary!, resolverText));
      if (rollover) io.stdout(`\n${renderRollover(owner, `from DNS, ${answer!.proof}`, rollover)}`);
    }
    return ok ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
  }

  if (connected && !connected.ok) {
    if (o.json) io.stdout(json({ mode: next ? 'rollover' : 'generate', owner, connect: servedSummary, ok: false, error: connected.error, warnings }));
    else {
      warnings.forEach(warn);
      io.stderr(`dane-smtp: ${connected.error}\n`);
    }
    return next ? TLSA_EXIT.FAILED : TLSA_EXIT.UNAVAILABLE;
  }
  if (servedCerts && servedCerts.certs.length === 0) {
    const error = 'the server sent no parsable certificate';
    if (o.json) io.stdout(json({ mode: next ? 'rollover' : 'generate', owner, connect: servedSummary, ok: false, error, warnings }));
    else io.stderr(`dane-smtp: ${error}\n`);
    return next ? TLSA_EXIT.FAILED : TLSA_EXIT.UNAVAILABLE;
  }
  const servedMaterial: Material | undefined = servedCerts ? { kind: 'certs', certs: servedCerts.certs, warnings: [] } : undefined;
  const source = file !== undefined ? (file === '-' ? 'standard input' : file) : `the server at ${o.connect}`;

  // ---- rollover with an RRset file
  if (next && rrset) {
    const current = (material ?? servedMaterial)!;
    const r = analyzeRollover({ published: rrset.records, current, next, host, now: io.now() });
    warnings.push(...r.warnings);
    const owners = [...new Set(rrset.records.flatMap((x) => (x.owner && x.owner !== owner ? [x.owner] : [])))];
    if (owners.length) warnings.push(`the RRset file has records for ${owners.join(', ')}, not only ${owner}: all of them are used`);
    if (rrset.ignored) warnings.push(`${rrset.ignored} record(s) of other types in the RRset file are ignored`);
    if (rrset.records.length === 0) warnings.push('the RRset file has no TLSA record');
    if (o.json) {
      io.stdout(json({ mode: 'rollover', owner, host, port, source, ...rolloverJson(owner, r), ok: r.status === 'ready', warnings }));
    } else {
      warnings.forEach(warn);
      io.stdout(renderRollover(owner, `${rrset.records.length} record(s) from ${o.rrset === '-' ? 'standard input' : o.rrset}`, r));
    }
    return r.status === 'ready' ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
  }

  // ---- generate
  const m = (material ?? servedMaterial)!;
  const computed = computeRecords(m, params, servedCerts?.certs);
  warnings.push(...computed.warnings);
  if (o.json) {
    io.stdout(
      json({
        mode: 'generate',
        owner,
        host,
        port,
        source,
        material: describeMaterial(m),
        ...(servedSummary ? { connect: servedSummary } : {}),
        records: computed.records.map((r) => ({
          usage: r.usage,
          selector: r.selector,
          matchingType: r.matchingType,
          data: r.data.toString('hex'),
          text: r.text,
          zone: zoneLine(owner, r),
          description: r.description,
          target: r.target,
        })),
        warnings,
      }),
    );
  } else {
    warnings.forEach(warn);
    io.stdout(renderGenerate(owner, `${source}: ${describeMaterial(m)}`, computed.records));
  }
  return TLSA_EXIT.OK;
}

export function registerTlsaCommand(program: Command, setExit: (code: number) => void, io: Partial<TlsaIo> = {}): void {
  const ioAll: TlsaIo = { ...defaultIo, ...io };
  program
    .command('tlsa')
    .description('generate TLSA records from a certificate, chain, key or live server; check the published records (--verify) and rollover readiness (--next)')
    .argument('[file]', 'certificate, chain, public or private key (PEM or DER, auto-detected); - reads standard input')
    .option('--connect <host[:port]>', 'take the chain from a live server (STARTTLS; implicit TLS on port 465); default port 25')
    .option('--sni <name>', 'SNI name sent with --connect (default: the TLSA host)')
    .addOption(new Option('--tls <mode>', 'with --connect: starttls or implicit (default: implicit on port 465, STARTTLS otherwise)'))
    .option('--host <name>', 'TLSA base domain for the owner _PORT._tcp.NAME (default: the --connect host name)')
    .option('--port <n>', 'port in the owner name (default: the --connect port, else 25)')
    .option('--usage <u>', 'certificate usage: 3 (dane-ee, default), 2 (dane-ta), 1, 0')
    .option('--selector <s>', 'selector: 1 (spki, default) or 0 (cert)')
    .option('--mtype <m>', 'matching type: 1 (sha256, default), 2 (sha512) or 0 (full)')
    .option('--record <u s m...>', 'record parameters as three numbers, e.g. --record 2 0 1 (repeatable)')
    .option('--verify', 'look up the published TLSA RRset and check it against the live server (needs --connect); exit 0 only when authenticated')
    .option('--resolver <ip[:port]>', 'validating DNS resolver for --verify (default: first nameserver in /etc/resolv.conf)')
    .option('--next <file>', 'rollover check: the next key or certificate; exit 0 only when the published RRset matches current and next')
    .option('--rrset <file>', 'published RRset as zone-file TLSA lines (instead of --verify) for --next')
    .option('--helo <name>', 'EHLO name for --connect (default: this host name)')
    .option('--timeout <seconds>', 'deadline of each step: DNS answer, connect, TLS handshake, one SMTP reply', '30')
    .option('--json', 'one JSON object instead of the human report')
    .action(async (file: string | undefined, o: TlsaOptions) => {
      setExit(await runTlsa(file, o, ioAll));
    });
}
