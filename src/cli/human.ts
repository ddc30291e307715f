/** Output for a person: per host the DNS security, TLSA usability, TLS and chain; then the verdict. */
import type { DomainResult, HostReport, InternalError } from '../core/result.js';

export interface Style {
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
}

export const plain: Style = { bold: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, dim: (s) => s };
const wrap = (a: number, b: number) => (s: string) => `\x1b[${a}m${s}\x1b[${b}m`;
export const ansi: Style = { bold: wrap(1, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22) };

function verdictColor(v: DomainResult['verdict'], st: Style): (s: string) => string {
  if (v === 'dane-authenticated' || v === 'fingerprint-authenticated' || v === 'pkix-authenticated') return st.green;
  if (v === 'tempfail' || v === 'undeliverable') return st.red;
  return st.yellow;
}

function proofColor(p: string, st: Style): string {
  return p === 'secure' ? st.green(p) : p === 'insecure' ? st.yellow(p) : st.red(p);
}

/** A fixed next hop (`[host]:port`): there was no MX lookup (the result's own `nextHop`). */
export function nextHopOf(r: DomainResult): string | undefined {
  return r.nextHop;
}

/** Levels of the policy table that replace the DANE rules (the host's `level` is then only what the rules would have said). */
const POLICY_LEVELS = new Set(['none', 'may', 'encrypt', 'fingerprint', 'verify', 'secure']);

function policyText(r: DomainResult): string {
  return r.policySource === 'default' ? 'default level' : r.policySource;
}

function hostLines(h: HostReport, r: DomainResult, st: Style, nextHop: string | undefined): string[] {
  const out: string[] = [];
  const title = nextHop ? `next hop ${h.name}` : `MX ${h.preference} ${h.name}${h.implicit ? ' (implicit MX)' : ''}`;
  out.push(`  ${st.bold(title)} — ${h.status}`);
  for (const d of h.dns) {
    // TLSA records are listed one per line below, each with its usability.
    const recs = d.type === 'TLSA' && d.records.length && h.tlsa?.length ? `${d.records.length} record${d.records.length === 1 ? '' : 's'}:` : d.records.length ? d.records.join(', ') : d.status;
    const chain = d.cnameChain ? ` via ${d.cnameChain.join(' → ')}` : '';
    out.push(`    ${d.type.padEnd(5)} ${d.name}: ${proofColor(d.proof, st)} ${st.dim(truncate(recs, 100))}${chain}${d.reason ? ` (${d.reason})` : ''}`);
  }
  for (const t of h.tlsa ?? []) {
    out.push(`      ${truncate(t.record, 60)}  ${t.usable ? st.green('usable') : st.yellow(`unusable: ${t.detail ?? t.reason}`)}`);
  }
  if (h.level === null) {
    // No TLS level: the host was skipped before any connection (DNS failure, no address).
    // (Printing 'none' here would read as the plaintext policy level.)
    out.push(`    ${st.red('skipped')}: ${h.failure ?? h.levelReason}`);
  } else if (POLICY_LEVELS.has(r.level)) {
    // The table's level replaces the DANE rules: their 'opportunistic' would contradict it.
    out.push(`    level: ${r.level} (${policyText(r)}) — ${h.levelWhy ?? h.levelReason}`);
  } else {
    out.push(`    level: ${h.level} — ${h.levelReason}`);
  }
  for (const a of h.attempts) {
    const tls = a.tls
      ? `${a.tlsVersion ?? 'TLS'} ${a.cipher ?? ''}`.trim()
      : a.tlsVersion
        ? `${a.tlsVersion} ${a.cipher ?? ''} handshake, closed before any command`.replace('  ', ' ')
        : a.plaintextRetry
          ? 'plaintext (STARTTLS failed, retried without TLS)'
          : a.result === 'failed'
            ? 'no TLS'
            : 'plaintext';
    out.push(`    → ${a.address}: ${a.result === 'ok' ? st.green('ok') : a.result === 'rejected' ? st.yellow('rejected') : st.red('failed')}, ${tls}${a.error ? ` — ${a.error}` : ''}`);
    for (const c of a.chain ?? []) {
      out.push(`      cert ${c.depth}: ${c.subject || '(empty subject)'} ${st.dim(`spki sha256 ${c.spkiSha256}`)}`);
    }
    if (a.policyCheck) out.push(`      ${a.policyCheck.ok ? st.green('policy check') : st.red('policy check failed')}: ${a.policyCheck.ok ? a.policyCheck.detail : a.policyCheck.reason}`);
    if (a.authentication?.ok) {
      out.push(`      ${st.green('matched')} ${truncate(a.authentication.record, 40)} (${a.authentication.usage}) at depth ${a.authentication.depth}${a.authentication.matchedName ? `, name ${a.authentication.matchedName}` : ''}`);
    } else if (a.authentication) {
      for (const r of a.authentication.records) out.push(`      ${st.red('no match')} ${truncate(r.record, 40)}: ${r.why}`);
    }
  }
  if (h.failure && h.attempts.length === 0 && h.level !== null) out.push(`    ${st.red('failed')}: ${h.failure}`);
  return out;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function renderDomain(r: DomainResult, st: Style = plain): string {
  const lines: string[] = [];
  const color = verdictColor(r.verdict, st);
  lines.push(`${st.bold(r.domain)}: ${color(st.bold(r.verdict))}${r.host ? ` via ${r.host} [${r.address}]` : ''}`);
  const early =
    r.deferredEarly === 'aborted'
      ? st.red(' — interrupted before this destination was checked')
      : r.deferredEarly === 'internal-error'
        ? st.red(' — dane-smtp failed on this destination')
        : r.deferredEarly === 'resolver'
          ? st.red(' — no usable answer from the resolver')
          : r.resolverValidates
            ? ''
            : st.red(' — resolver does not validate: DANE off');
  lines.push(`  policy: ${r.level} (${policyText(r)})${early}`);
  const nextHop = nextHopOf(r);
  if (nextHop) {
    lines.push(`  next hop ${nextHop}: no MX lookup`);
  } else if (r.mx) {
    // In preference order (the answer's own order is arbitrary), as the hosts are tried.
    const byPreference = [...r.mx.records].sort((a, b) => (Number.parseInt(a, 10) || 0) - (Number.parseInt(b, 10) || 0));
    const recs = byPreference.length ? byPreference.join(', ') : r.mx.status;
    const chain = r.mx.cnameChain && r.mx.cnameChain.length > 1 ? ` via ${r.mx.cnameChain.join(' → ')}` : '';
    lines.push(`  MX    ${r.mx.name}: ${proofColor(r.mx.proof, st)} ${recs}${chain}${r.mx.reason ? ` (${r.mx.reason})` : ''}`);
  }
  for (const h of r.hosts) lines.push(...hostLines(h, r, st, nextHop));
  for (const rc of r.recipients ?? []) {
    // The local reason already starts with the status ('bounced: …'): say it once.
    const reply = rc.reply.startsWith(`${rc.status}: `) ? rc.reply.slice(rc.status.length + 2) : rc.reply;
    // A recipient the first server deferred and another host decided: say which one.
    const via = rc.host && rc.host !== r.host ? ` (at ${rc.host})` : '';
    lines.push(`  rcpt ${rc.address}: ${rc.status}${via} — ${reply}`);
  }
  lines.push(`  ${color('verdict')}: ${r.verdict} — ${r.reason}`);
  for (const f of r.findings ?? []) {
    const sev = f.severity === 'error' ? st.red(f.severity) : f.severity === 'warning' ? st.yellow(f.severity) : st.dim(f.severity);
    lines.push(`  fix: ${sev} ${st.bold(f.code)}${f.host ? ` (${f.host})` : ''}: ${f.message}`);
  }
  return lines.join('\n');
}

/**
 * `send`, human output: one stderr line after a partial delivery (some recipients delivered,
 * some deferred), which the exit status 75 alone does not tell from "nothing delivered":
 * retrying every recipient would deliver the message twice to the others.
 */
export function partialDeliveryLine(results: DomainResult[]): string | undefined {
  const all = results.flatMap((r) => r.recipients ?? []);
  const delivered = all.filter((x) => x.status === 'delivered').length;
  const deferred = all.filter((x) => x.status === 'deferred').map((x) => x.address);
  if (delivered === 0 || deferred.length === 0) return undefined;
  const bounced = all.filter((x) => x.status === 'bounced').length;
  const shown = deferred.length <= 5 ? deferred.join(', ') : `${deferred.slice(0, 5).join(', ')}, …`;
  return `dane-smtp: partial delivery: ${delivered} of ${all.length} recipients delivered${bounced ? `, ${bounced} bounced` : ''}, ${deferred.length} deferred (${shown}): retry only the deferred recipients, or the others get the message twice\n`;
}

/** One stderr line for an internal error after the servers' decisions (they stand). */
export function internalErrorLine(domain: string, e: InternalError): string {
  return `dane-smtp: internal error for ${domain} (${e.stage}): ${e.message}; recipients a server accepted are delivered: do not send them again`;
}
