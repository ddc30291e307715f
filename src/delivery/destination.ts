/**
 * One destination, end to end: MX plan, hosts in MX order, STARTTLS, authentication,
 * then a probe (check) or a message transaction (send). RFC 7672 §2.2: security never
 * trumps MX preference; a host that fails is skipped and the next one tried.
 */
import { authenticate, type AuthResult } from '../dane/authenticate.js';
import { decideMx, levelSummary, planHost, type HostLevel, type HostPlan } from '../dane/plan.js';
import type { Resolver } from '../dns/types.js';
import { runSmtpSession } from '../smtp/session.js';
import type { SmtpEnvelope, SmtpEvent, SmtpSessionResult, TlsCheck, TlsMode } from '../smtp/types.js';
import { summarizeAuth, type AttemptReport, type DomainResult, type HostReport, type Verdict } from './result.js';

export interface DestinationOptions {
  resolver: Resolver;
  /** False when the resolver failed the validation probe: nothing is better than opportunistic. */
  resolverValidates: boolean;
  port: number;
  helo: string;
  timeoutMs: number;
  /** Probe every host and address (diagnosis) instead of stopping at the first usable one. */
  all?: boolean;
  daneWithInsecureMx?: boolean;
  localAddress?: string;
  signal?: AbortSignal;
  random?: () => number;
  now?: () => Date;
  onEvent?: (host: string, address: string, event: SmtpEvent) => void;
  /** The SMTP session runner; tests inject a scripted one. */
  session?: typeof runSmtpSession;
}

export type Job = { kind: 'probe' } | { kind: 'send'; envelope: SmtpEnvelope };

function verdictOf(level: HostLevel): Verdict {
  return level.kind === 'dane' ? 'dane-authenticated' : level.kind === 'encrypt' ? 'encrypt-unauthenticated' : 'opportunistic';
}

function hostReportOf(plan: HostPlan): HostReport {
  const level = 'level' in plan && plan.level ? plan.level : undefined;
  const report: HostReport = {
    name: plan.host.name,
    preference: plan.host.preference,
    implicit: plan.host.implicit,
    dns: plan.dns,
    addresses: plan.kind === 'usable' ? plan.addresses : [],
    level: plan.kind === 'usable' ? plan.level.kind : null,
    levelReason: plan.kind === 'usable' ? levelSummary(plan.level) : plan.reason,
    attempts: [],
    status: plan.kind === 'no-address' ? 'no-address' : plan.kind === 'failed' ? 'failed' : 'not-tried',
  };
  if (plan.kind !== 'usable') report.failure = plan.reason;
  if (level && level.kind !== 'may') {
    report.tlsaBase = level.tlsaBase;
    report.tlsa = level.tlsa.map((t) => {
      const text = `${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}`;
      return t.usability.usable ? { record: text, usable: true } : { record: text, usable: false, reason: t.usability.reason, detail: t.usability.detail };
    });
  }
  return report;
}

function tlsModeOf(level: HostLevel): TlsMode {
  // RFC 7672 §2.2: with TLSA records (usable or not) TLS is mandatory, never a plaintext fallback.
  return level.kind === 'may' ? 'may' : 'required';
}

interface Attempt {
  report: AttemptReport;
  session: SmtpSessionResult;
}

async function attempt(address: string, plan: Extract<HostPlan, { kind: 'usable' }>, job: Job, o: DestinationOptions): Promise<Attempt> {
  const level = plan.level;
  let auth: AuthResult | undefined;
  const checkTls = (served: { chain: Buffer[] }): TlsCheck => {
    if (level.kind !== 'dane') return { ok: true };
    // RFC 7672 §3.1: authenticate before a single command is sent inside TLS.
    auth = authenticate({ records: level.usable, served: served.chain, referenceNames: level.referenceNames, now: (o.now ?? (() => new Date()))() });
    return auth.ok ? { ok: true } : { ok: false, reason: auth.reason };
  };
  const runSession = o.session ?? runSmtpSession;
  const run = (tls: TlsMode) =>
    runSession(
      {
        address,
        port: o.port,
        helo: o.helo,
        timeoutMs: o.timeoutMs,
        tls,
        // RFC 7672 §8.1: SNI is the TLSA base domain; opportunistic hosts get their MX name.
        servername: level.kind === 'may' ? plan.host.name : level.tlsaBase,
        checkTls,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onEvent ? { onEvent: (e: SmtpEvent) => o.onEvent!(plan.host.name, address, e) } : {}),
      },
      job,
    );
  let session = await run(tlsModeOf(level));
  let plaintextRetry = false;
  // Postfix 'may': a failed STARTTLS on an opportunistic host is retried in plaintext.
  if (level.kind === 'may' && session.outcome === 'host-failed' && (session.error?.code === 'TLS_HANDSHAKE' || session.error?.code === 'STARTTLS_REFUSED')) {
    session = await run('none');
    plaintextRetry = true;
  }
  const report: AttemptReport = {
    address,
    result: session.outcome === 'ok' ? 'ok' : session.outcome === 'rejected' ? 'rejected' : 'failed',
    tls: session.tls,
  };
  if (plaintextRetry) report.plaintextRetry = true;
  if (session.served) {
    report.tlsVersion = session.served.version;
    report.cipher = session.served.cipher;
  }
  if (auth) {
    report.chain = auth.chain;
    report.authentication = summarizeAuth(auth);
  } else if (session.served) {
    report.chain = authenticate({ records: [], served: session.served.chain, referenceNames: [], now: new Date() }).chain;
  }
  if (session.error) report.error = session.error.message;
  return { report, session };
}

function sessionReason(level: HostLevel, host: string, a: AttemptReport): string {
  switch (level.kind) {
    case 'dane':
      return a.authentication?.ok
        ? `${host} authenticated by TLSA record ${a.authentication.record.slice(0, 24)}… (${a.authentication.usage}, depth ${a.authentication.depth})`
        : `${host} used with DANE`;
    case 'encrypt':
      return `${host} has TLSA records but none is usable: TLS without authentication (RFC 7672 §2.2)`;
    case 'may':
      return `${a.tls ? 'TLS' : 'plaintext'} to ${host}; DANE does not apply: ${level.why}`;
  }
}

export async function processDestination(domain: string, job: Job, o: DestinationOptions): Promise<DomainResult> {
  const base = { domain, resolverValidates: o.resolverValidates };
  const mxAnswer = await o.resolver.lookup(domain, 'MX', o.signal ? { signal: o.signal } : {});
  const decision = decideMx(domain, mxAnswer, o.random);
  if (decision.kind !== 'hosts') {
    return { ...base, verdict: decision.kind, host: null, address: null, tls: false, reason: decision.reason, mx: decision.mx, hosts: [] };
  }
  const hosts: HostReport[] = [];
  let chosen: { host: string; address: string; tls: boolean; verdict: Verdict; reason: string; session: SmtpSessionResult } | undefined;

  for (const mxHost of decision.hosts) {
    if (chosen && !o.all) break;
    if (o.signal?.aborted) break;
    const plan = await planHost(o.resolver, mxHost, domain, decision.mxProof, {
      port: o.port,
      ...(o.daneWithInsecureMx ? { daneWithInsecureMx: true } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const report = hostReportOf(plan);
    hosts.push(report);
    if (plan.kind !== 'usable') continue;
    for (const address of plan.addresses) {
      if (chosen && !o.all) break;
      // With --all, hosts after the chosen one are only probed, never sent to.
      const a = await attempt(address, plan, chosen ? { kind: 'probe' } : job, o);
      report.attempts.push(a.report);
      if (a.session.outcome === 'host-failed') continue;
      if (!chosen) {
        report.status = 'used';
        chosen = { host: plan.host.name, address, tls: a.session.tls, verdict: verdictOf(plan.level), reason: sessionReason(plan.level, plan.host.name, a.report), session: a.session };
      } else {
        report.status = 'probed';
      }
    }
    if (report.status === 'not-tried') {
      report.status = 'failed';
      report.failure = report.attempts.map((x) => `${x.address}: ${x.error ?? x.result}`).join('; ');
    }
  }

  if (chosen) {
    const result: DomainResult = { ...base, verdict: chosen.verdict, host: chosen.host, address: chosen.address, tls: chosen.tls, reason: chosen.reason, mx: decision.mx, hosts };
    if (job.kind === 'send') {
      result.recipients = chosen.session.recipients ?? job.envelope.to.map((address) => ({ address, status: 'deferred' as const, reply: chosen!.session.error?.message ?? 'no reply' }));
      if (chosen.session.outcome === 'rejected' && chosen.session.error) result.reason += `; transaction refused: ${chosen.session.error.message}`;
    }
    return result;
  }
  if (o.signal?.aborted) {
    return { ...base, verdict: 'tempfail', host: null, address: null, tls: false, reason: 'aborted', mx: decision.mx, hosts };
  }
  const allNoAddress = hosts.length > 0 && hosts.every((h) => h.status === 'no-address');
  const reason = allNoAddress
    ? `no MX host of ${domain} has an address record`
    : `no usable MX host for ${domain}: ${hosts.map((h) => `${h.name}: ${h.failure ?? h.status}`).join('; ')}`;
  return { ...base, verdict: allNoAddress ? 'undeliverable' : 'tempfail', host: null, address: null, tls: false, reason, mx: decision.mx, hosts };
}
