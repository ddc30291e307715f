/**
 * One destination, end to end: local policy, MX plan, hosts in MX order, STARTTLS,
 * authentication, then a probe (check) or a message transaction (send).
 * RFC 7672 §2.2: security never trumps MX preference; a host that fails is skipped and
 * the next one tried.
 */
import { systemCaStore } from '../policy/ca-store.js';
import { decideMx, type MxDecision } from '../core/rfc7672/mx.js';
import { levelSummary, type HostLevel, type HostPlan } from '../core/rfc7672/host.js';
import { planHost } from './host-plan.js';
import { hostSecurity, type HostSecurity } from '../core/tls-policy.js';
import { tlsaToText } from '../core/rfc7672/tlsa.js';
import type { Resolver } from '../dns/types.js';
import { isAddressLiteral, normalizeName } from '../dns/names.js';
import type { PolicyEntry } from '../policy/table.js';
import { runSmtpSession } from '../smtp/session.js';
import type { Job, RecipientResult, ServedTls, SmtpEvent, SmtpSessionResult, TlsMode } from '../smtp/types.js';
import { summarizeAuth, type AttemptReport, type DomainRecipient, type DomainResult, type HostReport, type SessionVerdict } from '../core/result.js';

export interface DestinationOptions {
  resolver: Resolver;
  /** False when the resolver failed the validation probe: nothing is better than opportunistic. */
  resolverValidates: boolean;
  port: number;
  helo: string;
  timeoutMs: number;
  /** Local policy for this destination (default: level dane from the default source). */
  policy?: PolicyEntry;
  /** A fixed next hop `[host]:port` from the policy table: no MX lookup. */
  nexthop?: { host: string; port?: number };
  /** Trust anchors for the verify and secure levels (PEM); default: Node's bundled roots. */
  caCertificates?: readonly string[];
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
  /**
   * Politeness hook (the scanner): awaited before each connection to an address, and the
   * returned release function called when the session ends.
   */
  connectGate?: (address: string) => Promise<() => void>;
  /**
   * Called the moment a session returns with recipients the server decided (2xx after the
   * data: delivered; 5xx: bounced), before anything else is done with the session: they
   * are final whatever happens afterwards in dane-smtp's own code (runAll keeps them).
   */
  onSettled?: (s: SettledSession) => void;
}

/** A session's final recipients, as recorded before any reporting. */
export interface SettledSession {
  host: string;
  address: string;
  tls: boolean;
  verdict: SessionVerdict;
  recipients: DomainRecipient[];
}


export const DEFAULT_POLICY: PolicyEntry = { level: 'dane', match: [], fingerprints: [], source: 'default' };

function hostReportOf(plan: HostPlan): HostReport {
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
  if (plan.kind === 'usable' && plan.level.kind === 'may') {
    report.levelWhy = plan.level.why;
    report.levelCause = plan.level.cause;
  }
  if (plan.kind !== 'usable') report.failure = plan.reason;
  const level = plan.kind === 'usable' ? plan.level : undefined;
  if (level && level.kind !== 'may') {
    report.tlsaBase = level.tlsaBase;
    report.tlsa = level.tlsa.map((t) => {
      const text = tlsaToText(t);
      return t.usability.usable ? { record: text, usable: true } : { record: text, usable: false, reason: t.usability.reason, detail: t.usability.detail };
    });
  }
  return report;
}

interface Attempt {
  report: AttemptReport;
  session: SmtpSessionResult;
}

async function attempt(address: string, port: number, plan: Extract<HostPlan, { kind: 'usable' }>, sec: HostSecurity, job: Job, o: DestinationOptions): Promise<Attempt> {
  let checked: ReturnType<NonNullable<HostSecurity['check']>> | undefined;
  // What the handshake showed, even when the session ends on it (authentication failed).
  let shown: ServedTls | undefined;
  const runSession = o.session ?? runSmtpSession;
  const run = (tls: TlsMode) =>
    runSession(
      {
        address,
        port,
        helo: o.helo,
        timeoutMs: o.timeoutMs,
        tls,
        servername: sec.servername,
        checkTls: (served) => {
          shown = served;
          if (!sec.check) return { ok: true };
          checked = sec.check(served);
          return checked.tls;
        },
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onEvent ? { onEvent: (e: SmtpEvent) => o.onEvent!(plan.host.name, address, e) } : {}),
      },
      job,
    );
  const release = o.connectGate ? await o.connectGate(address) : undefined;
  let session: SmtpSessionResult;
  let plaintextRetry = false;
  // First of all: what the server has decided is final (nothing after its 250 can defer).
  const recordSettled = (s: SmtpSessionResult) => {
    const final = (s.recipients ?? []).filter((r) => r.status !== 'deferred');
    if (final.length > 0) o.onSettled?.({ host: plan.host.name, address, tls: s.tls, verdict: sec.verdict, recipients: final.map((r) => ({ ...r, host: plan.host.name })) });
  };
  try {
    session = await run(sec.tls);
    recordSettled(session);
    // Postfix 'may': a failed STARTTLS on an opportunistic host (refused, or a handshake that
    // fails or times out) is retried in plaintext. Never where TLS is required.
    const tlsFailed = session.error?.code === 'TLS_HANDSHAKE' || session.error?.code === 'STARTTLS_REFUSED' || (session.error?.code === 'TIMEOUT' && session.inHandshake === true);
    if (sec.tls === 'may' && session.outcome === 'host-failed' && tlsFailed) {
      session = await run('none');
      recordSettled(session);
      plaintextRetry = true;
    }
  } finally {
    release?.();
  }
  const report: AttemptReport = {
    address,
    result: session.outcome === 'ok' ? 'ok' : session.outcome === 'rejected' ? 'rejected' : 'failed',
    tls: session.tls,
  };
  if (plaintextRetry) report.plaintextRetry = true;
  const served = session.served ?? shown;
  if (served) {
    report.tlsVersion = served.version;
    report.cipher = served.cipher;
    // Described once, at the handshake; never recomputed here.
    report.chain = served.certificates;
  }
  if (checked?.dane) report.authentication = summarizeAuth(checked.dane);
  if (checked?.policy) report.policyCheck = checked.policy.ok ? { ok: true, detail: checked.policy.detail } : { ok: false, reason: checked.policy.reason };
  if (session.error) {
    report.error = session.error.message;
    report.errorCode = session.error.code;
  }
  return { report, session };
}

function sessionReason(sec: HostSecurity, plan: Extract<HostPlan, { kind: 'usable' }>, a: AttemptReport, policy: PolicyEntry): string {
  const host = plan.host.name;
  switch (sec.verdict) {
    case 'dane-authenticated':
      return a.authentication?.ok
        ? `${host} authenticated by TLSA record ${a.authentication.record.slice(0, 24)}… (${a.authentication.usage}, depth ${a.authentication.depth})`
        : `${host} used with DANE`;
    case 'encrypt-unauthenticated':
      return policy.level === 'encrypt'
        ? `TLS to ${host} without authentication, as the ${policy.level} policy (${policy.source}) requires`
        : `${host} has TLSA records but none is usable: TLS without authentication (RFC 7672 §2.2)`;
    case 'fingerprint-authenticated':
    case 'pkix-authenticated':
      return `${host} authenticated: ${a.policyCheck?.ok ? a.policyCheck.detail : policy.level}`;
    default:
      return `${a.tls ? 'TLS' : 'plaintext'} to ${host}; ${policy.level === 'none' || policy.level === 'may' ? `${policy.level} policy (${policy.source})` : daneDoesNotApply(plan.level)}`;
  }
}

export async function processDestination(domain: string, job: Job, o: DestinationOptions): Promise<DomainResult> {
  const policy = o.policy ?? DEFAULT_POLICY;
  const port = o.nexthop?.port ?? o.port;
  const security = { now: () => (o.now ?? (() => new Date()))(), caCertificates: () => o.caCertificates ?? systemCaStore().certificates };
  const base = { domain, resolverValidates: o.resolverValidates, level: policy.level, policySource: policy.source, ...(o.nexthop ? { nextHop: `[${o.nexthop.host}]:${port}` } : {}) };
  let decision: MxDecision;
  if (o.nexthop) {
    // A fixed next hop from the policy table: no MX lookup; it is local configuration,
    // as trustworthy as a secure MX RRset.
    decision = { kind: 'hosts', hosts: [{ name: o.nexthop.host, preference: 0, implicit: true, ...(isAddressLiteral(o.nexthop.host) ? { addressLiteral: true as const } : {}) }], mxProof: 'secure', mx: { name: domain, type: 'MX', status: 'nodata', proof: 'secure', records: [], reason: `next hop [${o.nexthop.host}]:${port} from local policy` }, nextHopNames: [normalizeName(o.nexthop.host)] };
  } else {
    const mxAnswer = await o.resolver.lookup(domain, 'MX', o.signal ? { signal: o.signal } : {});
    decision = decideMx(domain, mxAnswer, o.random);
  }
  if (decision.kind !== 'hosts') {
    return { ...base, verdict: decision.kind, host: null, address: null, tls: false, reason: decision.reason, mx: decision.mx, hosts: [] };
  }
  const daneOn = policy.level === 'dane' || policy.level === 'dane-only';
  const hosts: HostReport[] = [];
  type Chosen = { host: string; address: string; tls: boolean; verdict: SessionVerdict; reason: string; session: SmtpSessionResult };
  // The first session that settled the job (a probe that worked, or a transaction that
  // delivered or bounced a recipient): it names the domain's verdict and host.
  let chosen: Chosen | undefined;
  // A session that deferred every recipient it was given with a reply of the server's own
  // (a 4xx to MAIL, to every RCPT, to DATA or after the data): like Postfix (smtp_trouble.c,
  // a soft error on a server that is not the last keeps the recipient for the next one),
  // the next address or MX host is tried; this stands only if no later session settles anything.
  let softFallback: { chosen: Chosen; report: HostReport } | undefined;
  // send: recipients not settled yet, what settled the others, and the first soft reply each got.
  let pending = job.kind === 'send' ? [...job.envelope.to] : [];
  const settled = new Map<string, DomainRecipient>();
  const firstSoft = new Map<string, DomainRecipient>();
  const finished = () => chosen !== undefined && pending.length === 0;
  const verdictOf = new Map<string, SessionVerdict>();

  for (const mxHost of decision.hosts) {
    if ((finished() && !o.all) || o.signal?.aborted) break;
    // RFC 7672 §3.2.2: with a fixed next hop, the next-hop domain is that host, not the
    // name the result is reported under.
    const plan = await planHost(o.resolver, mxHost, decision.nextHopNames, decision.mxProof, {
      port,
      dane: daneOn,
      ...(o.daneWithInsecureMx ? { daneWithInsecureMx: true } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const report = hostReportOf(plan);
    hosts.push(report);
    if (plan.kind !== 'usable') continue;
    const sec = hostSecurity(plan, domain, policy, security);
    if ('fail' in sec) {
      report.status = 'failed';
      report.failure = sec.fail;
      continue;
    }
    for (const address of plan.addresses) {
      if ((finished() && !o.all) || o.signal?.aborted) break;
      // With --all, once the job is settled the remaining hosts are only probed, never sent to.
      const thisJob: Job = finished() || job.kind === 'probe' ? { kind: 'probe' } : { kind: 'send', envelope: { ...job.envelope, to: pending } };
      const a = await attempt(address, port, plan, sec, thisJob, o);
      report.attempts.push(a.report);
      if (a.session.outcome === 'host-failed') continue;
      if (thisJob.kind === 'probe') {
        if (chosen) report.status = report.status === 'used' ? 'used' : 'probed';
        else {
          report.status = 'used';
          chosen = { host: plan.host.name, address, tls: a.session.tls, verdict: sec.verdict, reason: sessionReason(sec, plan, a.report, policy), session: a.session };
        }
        continue;
      }
      const here: Chosen = { host: plan.host.name, address, tls: a.session.tls, verdict: sec.verdict, reason: sessionReason(sec, plan, a.report, policy), session: a.session };
      const replies: RecipientResult[] = a.session.recipients ?? pending.map((r) => ({ address: r, status: 'deferred' as const, reply: a.session.error?.message ?? 'no reply' }));
      // Only a deferral with the server's own reply goes on to the next host: a connection
      // lost or timed out after the data may have been accepted, and a second copy
      // elsewhere is worse than a deferral. Delivered and bounced recipients are final.
      const retry = replies.filter((r) => r.status === 'deferred' && r.replyCode !== undefined);
      for (const r of replies) {
        const withHost: DomainRecipient = { ...r, host: plan.host.name };
        if (retry.includes(r)) {
          if (!firstSoft.has(r.address)) firstSoft.set(r.address, withHost);
        } else settled.set(r.address, withHost);
      }
      pending = retry.map((r) => r.address);
      if (retry.length === replies.length) {
        softFallback ??= { chosen: here, report };
        continue;
      }
      report.status = 'used';
      verdictOf.set(here.host, here.verdict);
      chosen ??= here;
    }
    if (report.status === 'not-tried') {
      report.status = 'failed';
      report.failure = report.attempts.map((x) => `${x.address}: ${x.error ?? x.result}`).join('; ');
    }
  }

  if (!chosen && softFallback) {
    chosen = softFallback.chosen;
    softFallback.report.status = 'used';
    delete softFallback.report.failure;
  }
  if (chosen) {
    const result: DomainResult = { ...base, verdict: chosen.verdict, host: chosen.host, address: chosen.address, tls: chosen.tls, reason: chosen.reason + failedFirst(hosts, chosen.host), mx: decision.mx, hosts };
    if (job.kind === 'send') {
      const fallback = chosen;
      result.recipients = job.envelope.to.map(
        (address) => settled.get(address) ?? firstSoft.get(address) ?? { address, status: 'deferred' as const, reply: fallback.session.error?.message ?? 'no reply', host: fallback.host },
      );
      // Hosts after the chosen one that settled recipients it had deferred.
      const others = [...new Set([...settled.values()].map((r) => r.host!))].filter((h) => h !== fallback.host);
      if (others.length > 0) result.reason += `; recipients ${fallback.host} deferred went on to ${others.map((h) => `${h} (${verdictOf.get(h)})`).join(', ')}`;
      else if (chosen.session.outcome === 'rejected' && chosen.session.error) result.reason += `; transaction refused: ${chosen.session.error.message}`;
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

const SHORT_WHY = 100;

/** Why a host failed, in a few words: its DNS or policy failure, else its connections' distinct errors. */
function shortWhy(h: HostReport): string {
  if (h.status === 'no-address') return 'no address record';
  const errors = [...new Set(h.attempts.filter((a) => a.result !== 'ok').map((a) => a.error ?? a.result))];
  const why = h.attempts.length > 0 && errors.length > 0 ? errors.join('; ') : (h.failure ?? h.status);
  return why.length > SHORT_WHY ? `${why.slice(0, SHORT_WHY - 1)}…` : why;
}

/**
 * "; mx1.example.test (preference 10) failed first: <why>" when hosts tried before the one
 * used failed (it is a backup); '' when the host used came first. Hosts after it (--all) never count.
 */
function failedFirst(hosts: readonly HostReport[], used: string): string {
  const at = hosts.findIndex((h) => h.name === used);
  const before = hosts.slice(0, Math.max(0, at)).filter((h) => h.status === 'failed' || h.status === 'no-address');
  if (before.length === 0) return '';
  const named = (h: HostReport) => (h.implicit ? h.name : `${h.name} (preference ${h.preference})`);
  if (before.length === 1) return `; ${named(before[0]!)} failed first: ${shortWhy(before[0]!)}`;
  return `; ${before.map(named).join(', ')} failed first (${before.map((h) => `${h.name}: ${shortWhy(h)}`).join('; ')})`;
}

/** "DANE does not apply: <why>", without saying it twice where <why> already does (an insecure MX RRset). */
function daneDoesNotApply(level: HostLevel): string {
  if (level.kind !== 'may') return 'DANE does not apply';
  return level.cause === 'mx-insecure' ? level.why : `DANE does not apply: ${level.why}`;
}
