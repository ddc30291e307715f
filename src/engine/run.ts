/**
 * Many destinations at once, as the CLI and the library run them: one resolver probe per
 * run, then each domain concurrently, results delivered as they finish.
 */
import { probeValidation, type ValidationProbe } from '../dns/probe.js';
import { DaneSmtpError } from '../errors.js';
import type { Resolver } from '../dns/types.js';
import { resolverTrust, trustedView } from '../dns/resolver-trust.js';
import { isAddressLiteral, parseMailDomain } from '../dns/names.js';
import { lookupPolicy, parseDestination, type Level, type PolicyEntry, type PolicyTable } from '../policy/table.js';
import type { Job } from '../smtp/types.js';
import { INTEGER_SETTINGS } from '../settings.js';
import { diagnose, internalErrorFinding } from '../core/findings.js';
import { processDestination, type DestinationOptions, type SettledSession } from './destination.js';
import type { DomainRecipient, DomainResult, InternalError } from '../core/result.js';

export interface RunOptions extends Omit<DestinationOptions, 'resolver' | 'resolverValidates'> {
  /** Its `validatesItself` decides the trust with the probe (src/dns/resolver-trust.ts). */
  resolver: Resolver;
  concurrency?: number;
  /** Called once, after the validation probe. */
  onProbe?: (probe: ValidationProbe) => void;
  onResult?: (result: DomainResult) => void;
  /**
   * Deprecated: the resolver's own `validatesItself` says it. True: trust the resolver for
   * its own proofs whatever the probe finds ('self-validating').
   */
  selfValidating?: boolean;
  /** A probe already made for this resolver (the scanner probes once per run). */
  probe?: ValidationProbe;
}

export interface Work {
  /** The destination domain (for a fixed next hop: the name reported). */
  domain: string;
  job: Job;
  /** The policy entry that applies (default: level dane). */
  policy?: PolicyEntry;
  /** A fixed next hop `[host]:port`: no MX lookup. */
  nexthop?: { host: string; port?: number };
}

/**
 * A destination as a user writes it: a mail domain, or a fixed next hop `[host]`,
 * `[host]:port`, `[192.0.2.1]:port` (no MX lookup), with the policy entry that applies.
 * Throws DaneSmtpError('USAGE') for anything else, before anything is sent.
 */
export function workFor(arg: string, table: PolicyTable, level: Level, job: Work['job']): Work {
  if (arg.startsWith('[')) {
    const d = parseDestination(arg);
    if (!d || d.kind !== 'nexthop') throw new DaneSmtpError('USAGE', `not a next hop: '${arg}' (use [host], [host]:port, [IP address] or [IP address]:port)`);
    const nexthop = d.port ? { host: d.host, port: d.port } : { host: d.host };
    return { domain: d.host, job, nexthop, policy: lookupPolicy(table, d, level) };
  }
  const domain = parseMailDomain(arg);
  if (!domain) {
    // An address where a domain belongs (check a@example.org): say which domain to give.
    const at = arg.lastIndexOf('@');
    const ofAddress = at > 0 ? parseMailDomain(arg.slice(at + 1)) : undefined;
    throw new DaneSmtpError('USAGE', `not a mail domain: '${arg}'${ofAddress ? ` (an address: give its domain, ${ofAddress})` : ''}`);
  }
  return { domain, job, policy: lookupPolicy(table, { kind: 'domain', domain }, level) };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** A destination deferred before (or instead of) delivery: unreachable resolver, abort, internal error. */
function deferredResult(work: Work, cause: NonNullable<DomainResult['deferredEarly']>, reason: string, resolverValidates: boolean): DomainResult {
  const r: DomainResult = { domain: work.domain, verdict: 'tempfail', deferredEarly: cause, host: null, address: null, tls: false, reason, mx: null, hosts: [], resolverValidates, level: work.policy?.level ?? 'dane', policySource: work.policy?.source ?? 'default' };
  if (work.job.kind === 'send') r.recipients = work.job.envelope.to.map((address) => ({ address, status: 'deferred', reply: `deferred: ${reason}` }));
  return r;
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'unprintable error';
  }
}

/**
 * The destination failed inside dane-smtp after servers had decided some recipients: those
 * keep their status (a 2xx after the data is a delivery, RFC 5321 §4.1.1.4: retrying would
 * send the message twice); the undecided ones are deferred. The verdict is the first
 * deciding session's.
 */
function afterSettledResult(work: Work, settled: SettledSession[], cause: InternalError | 'aborted', resolverValidates: boolean): DomainResult {
  const first = settled[0]!;
  const decided = new Map<string, DomainRecipient>();
  for (const s of settled) for (const r of s.recipients) if (!decided.has(r.address)) decided.set(r.address, r);
  const why = cause === 'aborted' ? 'aborted' : `internal error: ${cause.message}`;
  const r: DomainResult = {
    domain: work.domain,
    verdict: first.verdict,
    host: first.host,
    address: first.address,
    tls: first.tls,
    reason: `${first.host} decided recipients; then ${why}`,
    mx: null,
    hosts: [],
    resolverValidates,
    level: work.policy?.level ?? 'dane',
    policySource: work.policy?.source ?? 'default',
  };
  if (cause !== 'aborted') r.internalError = cause;
  const to = work.job.kind === 'send' ? work.job.envelope.to : [];
  r.recipients = to.map((address) => decided.get(address) ?? { address, status: 'deferred', reply: `deferred: ${why}` });
  return r;
}

/** Expected outcomes are results; this never rejects for DNS or SMTP trouble. */
export async function runAll(works: Work[], options: RunOptions): Promise<DomainResult[]> {
  let probe: ValidationProbe;
  let abortedInProbe = false;
  // A next hop given as an IP address literal needs no DNS at all (no MX, address or TLSA
  // lookup): it is not held up, nor deferred, by the resolver.
  const needsDns = (w: Work) => !(w.nexthop && isAddressLiteral(w.nexthop.host));
  try {
    probe = options.probe ?? (works.some(needsDns) ? await probeValidation(options.resolver, options.signal) : { validates: false, reachable: true, skipped: true, reason: 'no DNS needed: every destination is an IP address literal' });
  } catch (e) {
    // Only an abort throws here: every destination is deferred as aborted, not blamed on the resolver.
    abortedInProbe = true;
    probe = { validates: false, reachable: false, reason: e instanceof Error ? e.message : String(e) };
  }
  options.onProbe?.(probe);
  // RFC 7672 §2.1: a resolver that validates itself (its `validatesItself`) is trusted for
  // its own proofs; else its AD bit only when the probe saw it (src/dns/resolver-trust.ts).
  const resolver = trustedView(options.resolver, resolverTrust(options.selfValidating ? { validatesItself: true } : options.resolver, probe));
  const results: DomainResult[] = [];
  await pool(works, options.concurrency ?? INTEGER_SETTINGS.concurrency.default, async (work) => {
    let result: DomainResult;
    if (abortedInProbe) {
      result = deferredResult(work, 'aborted', 'aborted', false);
    } else if (!probe.reachable && needsDns(work)) {
      // An unreachable resolver is temporary: defer, connect nowhere.
      result = deferredResult(work, 'resolver', probe.reason, false);
    } else {
      const settled: SettledSession[] = [];
      try {
        result = await processDestination(work.domain, work.job, {
          ...options,
          resolver,
          resolverValidates: probe.validates,
          ...(work.policy ? { policy: work.policy } : {}),
          ...(work.nexthop ? { nexthop: work.nexthop } : {}),
          onSettled: (s) => settled.push(s),
        });
      } catch (e) {
        // An abort (Ctrl-C, a library caller's signal) or a bug: this destination is
        // deferred, the others keep their results; recipients a server already took stay taken.
        const aborted = e instanceof DaneSmtpError && e.code === 'ABORTED';
        const why = aborted ? 'aborted' : `internal error: ${errorText(e)}`;
        result = settled.length > 0 ? afterSettledResult(work, settled, aborted ? 'aborted' : { stage: 'delivery', message: errorText(e) }, probe.validates) : deferredResult(work, aborted ? 'aborted' : 'internal-error', why, probe.validates);
      }
      if (work.job.kind === 'send' && !result.recipients) {
        const status = result.verdict === 'undeliverable' ? 'bounced' : 'deferred';
        result.recipients = work.job.envelope.to.map((address) => ({ address, status, reply: `${status}: ${result.reason}` }));
      }
    }
    // What the operator should fix (src/core/findings.ts). From here on nothing can
    // change a recipient's status: a failure is reported as such (internalError), never a deferral.
    try {
      result.findings = diagnose(result, (options.now ?? (() => new Date()))());
    } catch (e) {
      result.internalError ??= { stage: 'diagnostics', message: errorText(e) };
      result.findings = [internalErrorFinding(result.internalError)];
    }
    results.push(result);
    try {
      options.onResult?.(result);
    } catch (e) {
      result.internalError ??= { stage: 'reporting', message: errorText(e) };
    }
  });
  return results;
}

