#!/usr/bin/env node
/** The `dane-smtp` command line: check and send. Usage errors exit 64 with one line, never a stack trace. */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { DaneSmtpError } from '../errors.js';
import { firstNameserver, isLoopback, parseResolverSpec } from '../dns/resolv-conf.js';
import { parseMailDomain } from '../dns/names.js';
import { LEVELS, PolicySyntaxError, emptyPolicyTable, lookupPolicy, parseDestination, parsePolicyTable, type Level, type PolicyTable } from '../policy/table.js';
import { StubResolver } from '../dns/stub.js';
import { IANA_ROOT_ANCHORS, ValidatingResolver, parseTrustAnchors, type TrustAnchor } from '../dns/dnssec/index.js';
import type { Resolver } from '../dns/types.js';
import { exitCodeOf, runAll, type Work } from '../delivery/run.js';
import type { DomainResult } from '../delivery/result.js';
import { domainOf, isValidMailbox } from '../smtp/message.js';
import { ansi, plain, renderDomain } from './human.js';
import { registerTlsaCommand } from './tlsa-command.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_UNAVAILABLE = 69;
export const EX_TEMPFAIL = 75;
const MAX_MESSAGE_BYTES = 100 * 1024 * 1024;

class UsageError extends Error {}

interface CommonOptions {
  trustAnchor?: string;
  validate?: boolean;
  policy?: string;
  level: string;
  caFile?: string;
  resolver?: string;
  port: string;
  helo?: string;
  timeout: string;
  json?: boolean;
  concurrency: string;
  daneInsecureMx?: boolean;
}

function intOption(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, not '${value}'`);
  return Number(value);
}

function resolverSpec(opt: string | undefined): { address: string; port: number } {
  if (opt !== undefined) {
    try {
      return parseResolverSpec(opt);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
  }
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* no resolv.conf */
  }
  const ns = firstNameserver(text);
  if (!ns) throw new UsageError('no nameserver in /etc/resolv.conf: give one with --resolver IP[:PORT]');
  return { address: ns, port: 53 };
}

/** --trust-anchor FILE or --validate (the IANA root anchors): validate DNSSEC ourselves. */
function trustAnchors(o: CommonOptions): readonly TrustAnchor[] | undefined {
  if (o.trustAnchor !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.trustAnchor, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the trust anchor file ${o.trustAnchor}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const anchors = parseTrustAnchors(text);
      if (anchors.length === 0) throw new Error('no DS or DNSKEY record');
      return anchors;
    } catch (e) {
      throw new UsageError(`bad trust anchor file ${o.trustAnchor}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return o.validate ? IANA_ROOT_ANCHORS : undefined;
}

function commonSettings(o: CommonOptions) {
  const port = intOption(o.port, '--port', 1, 65535);
  const timeoutSeconds = Number(o.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) throw new UsageError(`--timeout must be a number of seconds above 0, not '${o.timeout}'`);
  const concurrency = intOption(o.concurrency, '--concurrency', 1, 1000);
  const helo = o.helo ?? hostname();
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(helo) && !/^\[[0-9a-fA-F:.]+\]$/.test(helo)) throw new UsageError(`--helo must be a host name or address literal, not '${helo}'`);
  const spec = resolverSpec(o.resolver);
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  return { port, timeoutMs, concurrency, helo, spec };
}

interface PolicySettings {
  table: PolicyTable;
  level: Level;
  caCertificates?: string[];
}

/** Policy table, default level and CA file are all checked before anything is sent. */
function policySettings(o: CommonOptions): PolicySettings {
  if (!(LEVELS as readonly string[]).includes(o.level)) throw new UsageError(`--level must be one of ${LEVELS.join(', ')}, not '${o.level}'`);
  let table = emptyPolicyTable();
  if (o.policy !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.policy, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the policy table ${o.policy}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      table = parsePolicyTable(text, o.policy);
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new UsageError(e.message);
      throw e;
    }
  }
  const out: PolicySettings = { table, level: o.level as Level };
  if (o.caFile !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(o.caFile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the CA file ${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0) throw new UsageError(`no PEM certificate in the CA file ${o.caFile}`);
    out.caCertificates = certs;
  }
  return out;
}

/** A destination argument: a mail domain, or a fixed next hop `[host]` / `[host]:port`. */
function destinationWork(arg: string, p: PolicySettings, job: Work['job']): Work {
  if (arg.startsWith('[')) {
    const d = parseDestination(arg);
    if (!d || d.kind !== 'nexthop') throw new UsageError(`not a next hop: '${arg}' (use [host] or [host]:port)`);
    const nexthop = d.port ? { host: d.host, port: d.port } : { host: d.host };
    return { domain: d.host, job, nexthop, policy: lookupPolicy(p.table, d, p.level) };
  }
  const domain = parseMailDomain(arg);
  if (!domain) throw new UsageError(`not a mail domain: '${arg}'`);
  return { domain, job, policy: lookupPolicy(p.table, { kind: 'domain', domain }, p.level) };
}

async function execute(mode: 'check' | 'send', works: Work[], o: CommonOptions, extra: { all?: boolean; caCertificates?: string[] }): Promise<number> {
  const s = commonSettings(o);
  const json = Boolean(o.json);
  const style = !json && process.stdout.isTTY ? ansi : plain;
  if (!isLoopback(s.spec.address) && !o.trustAnchor && !o.validate) {
    process.stderr.write(`dane-smtp: warning: resolver ${s.spec.address} is not on loopback; an AD bit that crosses a network can be forged (RFC 7672 §2.1)\n`);
  }
  const anchors = trustAnchors(o);
  const resolver: Resolver = anchors
    ? new ValidatingResolver({ upstream: { server: s.spec.address, port: s.spec.port }, timeoutMs: s.timeoutMs, trustAnchors: anchors })
    : new StubResolver({ server: s.spec.address, port: s.spec.port, timeoutMs: s.timeoutMs });
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per concurrent lookup or session
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: DomainResult[] = await runAll(works, {
    resolver,
    port: s.port,
    helo: s.helo,
    timeoutMs: s.timeoutMs,
    concurrency: s.concurrency,
    signal: controller.signal,
    ...(extra.all ? { all: true } : {}),
    ...(o.daneInsecureMx ? { daneWithInsecureMx: true } : {}),
    ...(extra.caCertificates ? { caCertificates: extra.caCertificates } : {}),
    ...(anchors ? { selfValidating: true } : {}),
    onProbe: (p) => {
      if (!p.reachable) process.stderr.write(`dane-smtp: ${p.reason}: every destination is deferred\n`);
      else if (!p.validates && anchors) {
        process.stderr.write(`dane-smtp: WARNING: the root zone does not validate from the trust anchor: ${p.reason}\ndane-smtp: WARNING: signed destinations will be deferred as bogus.\n`);
      } else if (!p.validates) {
        process.stderr.write(`dane-smtp: WARNING: ${p.reason}.\ndane-smtp: WARNING: DANE is OFF: without a validating resolver no verdict is better than 'opportunistic'.\n`);
      }
    },
    onResult: (r) => {
      process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${renderDomain(r, style)}\n\n`);
    },
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return exitCodeOf(results, mode);
}

function readMessage(): Buffer {
  if (process.stdin.isTTY) throw new UsageError('send reads the message from standard input: dane-smtp send --from A --to B < message.eml');
  let data: Buffer;
  try {
    data = readFileSync(0);
  } catch (e) {
    throw new UsageError(`cannot read the message from standard input: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (data.length === 0) throw new UsageError('the message on standard input is empty');
  if (data.length > MAX_MESSAGE_BYTES) throw new UsageError(`the message is larger than ${MAX_MESSAGE_BYTES} bytes`);
  return data;
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('--resolver <ip[:port]>', 'validating DNS resolver (default: first nameserver in /etc/resolv.conf)')
    .option('--port <n>', 'SMTP port; TLSA records are looked up at _<n>._tcp', '25')
    .option('--helo <name>', 'EHLO name (default: this host name)')
    .option('--timeout <seconds>', 'deadline of each step: DNS answer, connect, TLS handshake, one whole SMTP reply', '30')
    .option('--concurrency <n>', 'destinations handled at once', '8')
    .option('--dane-insecure-mx', 'use DANE for hosts with secure records even when the MX RRset is insecure (RFC 7672 §2.2.1)')
    .option('--policy <file>', 'TLS policy table (Postfix smtp_tls_policy_maps syntax)')
    .option('--level <level>', `TLS level for destinations not in the table: ${LEVELS.join(', ')}`, 'dane')
    .option('--ca-file <file>', 'trusted CAs (PEM) for the verify and secure levels (default: Node\'s bundled roots)')
    .option('--trust-anchor <file>', 'validate DNSSEC here from these DS or DNSKEY records (zone-file syntax); the resolver only has to pass DNSSEC records through')
    .option('--validate', 'validate DNSSEC here from the IANA root trust anchors shipped with dane-smtp')
    .option('--json', 'one JSON object per domain per line');
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('dane-smtp')
    .description('SMTP with DANE (RFC 7672): authenticate mail servers with DNSSEC-signed TLSA records')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showSuggestionAfterError(false);

  withCommon(
    program
      .command('check')
      .description('check each domain as delivery would (MX, TLSA, STARTTLS, authentication), then QUIT without sending')
      .argument('<destination...>', 'mail domains, or fixed next hops [host] / [host]:port')
      .option('--all', 'probe every MX host and address (diagnosis)'),
  ).action(async (domains: string[], o: CommonOptions & { all?: boolean }) => {
    const p = policySettings(o);
    const works: Work[] = [];
    for (const arg of domains) {
      const w = destinationWork(arg, p, { kind: 'probe' });
      if (!works.some((x) => x.domain === w.domain && x.nexthop?.port === w.nexthop?.port && !x.nexthop === !w.nexthop)) works.push(w);
    }
    setExit(await execute('check', works, o, { all: Boolean(o.all), ...(p.caCertificates ? { caCertificates: p.caCertificates } : {}) }));
  });

  withCommon(
    program
      .command('send')
      .description('deliver an RFC 5322 message from standard input to the recipients\' domains')
      .addOption(new Option('--from <address>', 'envelope sender (use "" for the null sender)').makeOptionMandatory())
      .addOption(new Option('--to <address>', 'envelope recipient (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory())
      .option('--nexthop <[host]:port>', 'send every recipient to this fixed next hop instead of MX hosts'),
  ).action(async (o: CommonOptions & { from: string; to: string[]; nexthop?: string }) => {
    if (o.from !== '' && !isValidMailbox(o.from)) throw new UsageError(`not a valid sender address: '${o.from}'`);
    const byDomain = new Map<string, string[]>();
    for (const to of o.to) {
      const domain = isValidMailbox(to) ? domainOf(to) : undefined;
      const parsed = domain ? parseMailDomain(domain) : undefined;
      if (!parsed) throw new UsageError(`not a valid recipient address: '${to}'`);
      const list = byDomain.get(parsed) ?? [];
      if (!list.includes(to)) list.push(to);
      byDomain.set(parsed, list);
    }
    commonSettings(o); // every option is checked before the message is read or anything is sent
    const p = policySettings(o);
    trustAnchors(o);
    if (o.nexthop !== undefined && !o.nexthop.startsWith('[')) throw new UsageError(`--nexthop must be [host] or [host]:port, not '${o.nexthop}'`);
    if (o.nexthop !== undefined) destinationWork(o.nexthop, p, { kind: 'probe' });
    const message = readMessage();
    const works: Work[] = o.nexthop !== undefined
      ? [destinationWork(o.nexthop, p, { kind: 'send', envelope: { from: o.from, to: [...byDomain.values()].flat(), message } })]
      : [...byDomain].map(([domain, to]) => destinationWork(domain, p, { kind: 'send', envelope: { from: o.from, to, message } }));
    setExit(await execute('send', works, o, p.caCertificates ? { caCertificates: p.caCertificates } : {}));
  });
  registerTlsaCommand(program, setExit);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = EX_OK;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EX_OK;
      return EX_USAGE; // commander already printed its one line
    }
    if (e instanceof UsageError || (e instanceof DaneSmtpError && e.code === 'USAGE')) {
      process.stderr.write(`dane-smtp: ${e.message}\n`);
      return EX_USAGE;
    }
    process.stderr.write(`dane-smtp: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EX_TEMPFAIL;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = EX_TEMPFAIL;
  },
);
