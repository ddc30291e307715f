/**
 * The `dane-smtp` command line: check, send, tlsa, scan and report (shared options in
 * options.ts; main.ts is the executable). Usage errors exit 64 with one line, never a
 * stack trace.
 */
import type { ValidationProbe } from '../dns/probe.js';
import { EXIT } from '../core/outcome.js';
import { setMaxListeners } from 'node:events';
import { readSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DaneSmtpError } from '../errors.js';
import { remoteResolverWarning, resolverFor, resolverTrust, type ResolverConfig } from '../dns/resolver-trust.js';
import type { Resolver } from '../dns/types.js';
import { exitCodeOf } from '../core/outcome.js';
import { runAll, workFor, type Work } from '../engine/run.js';
import type { DomainResult } from '../core/result.js';
import { isValidMailbox } from '../smtp/message.js';
import { ansi, internalErrorLine, partialDeliveryLine, plain, renderDomain } from './human.js';
import { registerTlsaCommand } from './tlsa-command.js';
import { registerReportCommand, registerScanCommand } from './scan-command.js';
import { UsageError, commonSettings, policySettings, resolverConfig, trustAnchors, trustWarning, withCommon, type CommonOptions, type PolicySettings } from './options.js';
import { groupRecipients } from '../engine/recipients.js';
import { VERSION } from '../version.js';

const MAX_MESSAGE_BYTES = 100 * 1024 * 1024;

/** A destination argument with the CLI's policy settings (see delivery/run.ts destinationWork). */
function destinationWork(arg: string, p: PolicySettings, job: Work['job']): Work {
  return workFor(arg, p.table, p.level, job);
}

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function useColor(json: boolean, env: NodeJS.ProcessEnv = process.env, isTTY: boolean | undefined = process.stdout.isTTY): boolean {
  return !json && Boolean(isTTY) && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

/** The stderr lines for a probe that found the resolver unusable (everything is deferred). */
export function probeFailureLines(probe: Pick<ValidationProbe, 'reason' | 'unreachable'>, o: { validating: boolean; interrupted?: string }): string[] {
  if (o.interrupted) return [`dane-smtp: ${o.interrupted}: stopped before any destination was checked; everything is deferred`];
  const lines = [`dane-smtp: ${probe.reason}: every destination is deferred`];
  if (o.validating && !probe.unreachable) {
    lines.push(
      'dane-smtp: with --validate or --trust-anchor the root zone must validate from the given anchors: check the anchor file (it must match the DNS the resolver serves) and that the resolver passes DNSSEC records through',
    );
  }
  return lines;
}

/** What the command line takes from outside, injectable for tests (no packet leaves them). */
export interface CliDeps {
  /** The resolver for check and send (`config`: address, port, timeout, anchors); default: resolverFor, a StubResolver or a ValidatingResolver with anchors. */
  makeResolver?: (config: ResolverConfig) => Resolver;
}

async function execute(mode: 'check' | 'send', works: Work[], o: CommonOptions, extra: { all?: boolean; caCertificates?: string[] }, deps: CliDeps): Promise<number> {
  const s = commonSettings(o);
  const json = Boolean(o.json);
  const style = useColor(json) ? ansi : plain;
  const config = resolverConfig(s.spec, s.timeoutMs, o);
  const remote = remoteResolverWarning(config);
  if (remote) process.stderr.write(`dane-smtp: warning: ${remote}\n`);
  const resolver: Resolver = (deps.makeResolver ?? resolverFor)(config);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per concurrent lookup or session
  let interrupted: string | undefined;
  let interruptionSaid = false;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted ??= `interrupted (${sig})`;
    controller.abort();
  };
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
    onProbe: (p) => {
      if (p.skipped) return;
      if (!p.reachable) {
        process.stderr.write(probeFailureLines(p, { validating: Boolean(config.anchors), ...(interrupted ? { interrupted } : {}) }).map((l) => `${l}\n`).join(''));
        if (interrupted) interruptionSaid = true;
      } else {
        process.stderr.write(trustWarning(resolverTrust(resolver, p), p));
      }
    },
    onResult: (r) => {
      process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${renderDomain(r, style)}\n\n`);
    },
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (interrupted && !interruptionSaid) process.stderr.write(`dane-smtp: ${interrupted}: what was not finished is deferred\n`);
  for (const r of results) if (r.internalError) process.stderr.write(`${oneLine(internalErrorLine(r.domain, r.internalError))}\n`);
  const partial = mode === 'send' && !json ? partialDeliveryLine(results) : undefined;
  if (partial) process.stderr.write(partial);
  return exitCodeOf(results, mode);
}

function readMessage(): Buffer {
  if (process.stdin.isTTY) throw new UsageError('send reads the message from standard input: dane-smtp send --from A --to B < message.eml');
  // Read in chunks and stop past the limit: a huge input must not exhaust memory first.
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(0, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue; // non-blocking stdin: retry
        if ((e as NodeJS.ErrnoException).code === 'EOF') break;
        throw e;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_MESSAGE_BYTES) throw new UsageError(`the message is larger than ${MAX_MESSAGE_BYTES} bytes`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read the message from standard input: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (total === 0) throw new UsageError('the message on standard input is empty');
  return Buffer.concat(chunks, total);
}

export function buildProgram(setExit: (code: number) => void, deps: CliDeps = {}): Command {
  const program = new Command('dane-smtp')
    .description('SMTP with DANE (RFC 7672): authenticate mail servers with DNSSEC-signed TLSA records')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`dane-smtp: ${oneLine(s.replace(/^error: /, '').replace(/\n+\(Did you mean/, ' (did you mean'))}\n`) })
    .showSuggestionAfterError(true);

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
    setExit(await execute('check', works, o, { all: Boolean(o.all), ...(p.caCertificates ? { caCertificates: p.caCertificates } : {}) }, deps));
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
    const byDomain = groupRecipients(o.to, (to) => {
      throw new UsageError(`not a valid recipient address: '${to}'`);
    });
    commonSettings(o); // every option is checked before the message is read or anything is sent
    const p = policySettings(o);
    trustAnchors(o);
    if (o.nexthop !== undefined && !o.nexthop.startsWith('[')) throw new UsageError(`--nexthop must be [host] or [host]:port, not '${o.nexthop}'`);
    if (o.nexthop !== undefined) destinationWork(o.nexthop, p, { kind: 'probe' });
    const message = readMessage();
    const works: Work[] = o.nexthop !== undefined
      ? [destinationWork(o.nexthop, p, { kind: 'send', envelope: { from: o.from, to: [...byDomain.values()].flat(), message } })]
      : [...byDomain].map(([domain, to]) => destinationWork(domain, p, { kind: 'send', envelope: { from: o.from, to, message } }));
    setExit(await execute('send', works, o, p.caCertificates ? { caCertificates: p.caCertificates } : {}, deps));
  });
  registerTlsaCommand(program, setExit);
  registerScanCommand(program, setExit);
  registerReportCommand(program, setExit);
  return program;
}

/**
 * User input echoed in an error message stays one line: control characters (a newline, an
 * escape sequence that would recolour the terminal, a bidi override) become '?', and the
 * line is capped.
 */
export function oneLine(message: string, max = 1000): string {
  const s = message.replace(/\n+$/, '').replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

let stdoutGuarded = false;
/**
 * A closed or full standard output (`| head`, /dev/full) must not crash the process in the
 * middle of deliveries: the error is said once on stderr, the rest of the output is dropped,
 * the work goes on and the exit status still tells what happened to the mail.
 */
export function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  let said = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (said) return;
    said = true;
    process.stderr.write(`dane-smtp: standard output failed (${e.code ?? e.message}): the remaining output is dropped; the exit status still counts every destination\n`);
  });
}

export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  let code: number = EXIT.OK;
  guardStdout();
  if (argv.length <= 2) {
    process.stderr.write('dane-smtp: no command given (check, send, tlsa, scan, report): see dane-smtp --help\n');
    return EXIT.USAGE;
  }
  const program = buildProgram((c) => (code = c), deps);
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
      // Help shown because no command was given is a usage error; `dane-smtp help` is not.
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return EXIT.USAGE; // commander already printed its one line
    }
    if (e instanceof UsageError || (e instanceof DaneSmtpError && e.code === 'USAGE')) {
      process.stderr.write(`dane-smtp: ${oneLine(e.message)}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`dane-smtp: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return EXIT.TEMPFAIL;
  }
}
