/**
 * `dane-smtp check` and `send` run here (program.ts only declares them): the options
 * checked, the destinations, one run of the engine, the output and the exit status.
 */
import { setMaxListeners } from 'node:events';
import { readSync } from 'node:fs';
import { exitCodeOf } from '../core/outcome.js';
import type { DomainResult } from '../core/result.js';
import type { ValidationProbe } from '../dns/probe.js';
import { remoteResolverWarning, resolverFor, resolverTrust } from '../dns/resolver-trust.js';
import type { Resolver } from '../dns/types.js';
import { groupRecipients } from '../engine/recipients.js';
import { runAll, workFor, type Work } from '../engine/run.js';
import { isValidMailbox } from '../smtp/message.js';
import { ansi, internalErrorLine, partialDeliveryLine, plain, renderDomain } from './human.js';
import type { CommonOptions } from './option-defs.js';
import { UsageError, commonSettings, policySettings, resolverConfig, trustAnchors, trustWarning, type PolicySettings } from './options.js';
import type { CliDeps } from './deps.js';
import { oneLine } from './one-line.js';

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

/** `dane-smtp check DESTINATION...` */
export async function runCheck(domains: string[], o: CommonOptions & { all?: boolean }, deps: CliDeps): Promise<number> {
  const p = policySettings(o);
  const works: Work[] = [];
  for (const arg of domains) {
    const w = destinationWork(arg, p, { kind: 'probe' });
    if (!works.some((x) => x.domain === w.domain && x.nexthop?.port === w.nexthop?.port && !x.nexthop === !w.nexthop)) works.push(w);
  }
  return execute('check', works, o, { all: Boolean(o.all), ...(p.caCertificates ? { caCertificates: p.caCertificates } : {}) }, deps);
}

/** `dane-smtp send --from … --to … < message` */
export async function runSend(o: CommonOptions & { from: string; to: string[]; nexthop?: string }, deps: CliDeps): Promise<number> {
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
  return execute('send', works, o, p.caCertificates ? { caCertificates: p.caCertificates } : {}, deps);
}
