/** Output for a person: per host the DNS security, TLSA usability, TLS and chain; then the verdict. */
import type { DomainResult, HostReport } from '../delivery/result.js';

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

function hostLines(h: HostReport, st: Style): string[] {
  const out: string[] = [];
  out.push(`  ${st.bold(`MX ${h.preference} ${h.name}`)}${h.implicit ? ' (implicit MX)' : ''} — ${h.status}`);
  for (const d of h.dns) {
    const recs = d.records.length ? d.records.join(', ') : d.status;
    const chain = d.cnameChain ? ` via ${d.cnameChain.join(' → ')}` : '';
    out.push(`    ${d.type.padEnd(5)} ${d.name}: ${proofColor(d.proof, st)} ${st.dim(truncate(recs, 100))}${chain}${d.reason ? ` (${d.reason})` : ''}`);
  }
  for (const t of h.tlsa ?? []) {
    out.push(`    TLSA  ${truncate(t.record, 60)}  ${t.usable ? st.green('usable') : st.yellow(`unusable: ${t.detail ?? t.reason}`)}`);
  }
  out.push(`    level: ${h.level ?? 'none'} — ${h.levelReason}`);
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
      out.push(`      cert ${c.depth}: ${c.subject} ${st.dim(`spki sha256 ${c.spkiSha256}`)}`);
    }
    if (a.policyCheck) out.push(`      ${a.policyCheck.ok ? st.green('policy check') : st.red('policy check failed')}: ${a.policyCheck.ok ? a.policyCheck.detail : a.policyCheck.reason}`);
    if (a.authentication?.ok) {
      out.push(`      ${st.green('matched')} ${truncate(a.authentication.record, 40)} (${a.authentication.usage}) at depth ${a.authentication.depth}${a.authentication.matchedName ? `, name ${a.authentication.matchedName}` : ''}`);
    } else if (a.authentication) {
      for (const r of a.authentication.records) out.push(`      ${st.red('no match')} ${truncate(r.record, 40)}: ${r.why}`);
    }
  }
  if (h.failure && h.attempts.length === 0) out.push(`    ${st.red('failed')}: ${h.failure}`);
  return out;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function renderDomain(r: DomainResult, st: Style = plain): string {
  const lines: string[] = [];
  const color = verdictColor(r.verdict, st);
  lines.push(`${st.bold(r.domain)}: ${color(st.bold(r.verdict))}${r.host ? ` via ${r.host} [${r.address}]` : ''}`);
  lines.push(`  policy: ${r.level} (${r.policySource === 'default' ? 'default level' : r.policySource})${r.resolverValidates ? '' : r.deferredEarly === 'resolver' ? st.red(' — no usable answer from the resolver') : st.red(' — resolver does not validate: DANE off')}`);
  if (r.mx) {
    const recs = r.mx.records.length ? r.mx.records.join(', ') : r.mx.status;
    lines.push(`  MX    ${proofColor(r.mx.proof, st)} ${recs}${r.mx.reason ? ` (${r.mx.reason})` : ''}`);
  }
  for (const h of r.hosts) lines.push(...hostLines(h, st));
  for (const rc of r.recipients ?? []) lines.push(`  rcpt ${rc.address}: ${rc.status} — ${rc.reply}`);
  lines.push(`  ${color('verdict')}: ${r.verdict} — ${r.reason}`);
  for (const f of r.findings ?? []) {
    const sev = f.severity === 'error' ? st.red(f.severity) : f.severity === 'warning' ? st.yellow(f.severity) : st.dim(f.severity);
    lines.push(`  fix: ${sev} ${st.bold(f.code)}${f.host ? ` (${f.host})` : ''}: ${f.message}`);
  }
  return lines.join('\n');
}
