#!/usr/bin/env node
/** The `dane-smtp` command line: check and send. Usage errors exit 64 with one line, never a stack trace. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { DaneSmtpError } from '../errors.js';
import { firstNameserver, isLoopback, parseResolverSpec } from '../dns/resolv-conf.js';
import { parseMailDomain } from '../dns/names.js';
import { StubResolver } from '../dns/stub.js';
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

function parseDomains(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const d = parseMailDomain(a);
    if (!d) throw new UsageError(`not a mail domain: '${a}'`);
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

async function execute(mode: 'check' | 'send', works: Work[], o: CommonOptions, extra: { all?: boolean }): Promise<number> {
  const s = commonSettings(o);
  const json = Boolean(o.json);
  const style = !json && process.stdout.isTTY ? ansi : plain;
  if (!isLoopback(s.spec.address)) {
    process.stderr.write(`dane-smtp: warning: resolver ${s.spec.address} is not on loopback; an AD bit that crosses a network can be forged (RFC 7672 §2.1)\n`);
  }
  const resolver = new StubResolver({ server: s.spec.address, port: s.spec.port, timeoutMs: s.timeoutMs });
  const controller = new AbortController();
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
    onProbe: (p) => {
      if (!p.reachable) process.stderr.write(`dane-smtp: ${p.reason}: every destination is deferred\n`);
      else if (!p.validates) {
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
      .argument('<domain...>', 'mail domains')
      .option('--all', 'probe every MX host and address (diagnosis)'),
  ).action(async (domains: string[], o: CommonOptions & { all?: boolean }) => {
    const works: Work[] = parseDomains(domains).map((domain) => ({ domain, job: { kind: 'probe' } }));
    setExit(await execute('check', works, o, { all: Boolean(o.all) }));
  });

  withCommon(
    program
      .command('send')
      .description('deliver an RFC 5322 message from standard input to the recipients\' domains')
      .addOption(new Option('--from <address>', 'envelope sender (use "" for the null sender)').makeOptionMandatory())
      .addOption(new Option('--to <address>', 'envelope recipient (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory()),
  ).action(async (o: CommonOptions & { from: string; to: string[] }) => {
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
    const message = readMessage();
    const works: Work[] = [...byDomain].map(([domain, to]) => ({ domain, job: { kind: 'send', envelope: { from: o.from, to, message } } }));
    setExit(await execute('send', works, o, {}));
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
