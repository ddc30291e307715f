/**
 * Human output of `dane-smtp tlsa`. Pure: reports in, text out. Generated records are
 * printed as zone-file lines, everything else as `;` comments so that the output of the
 * generate mode can be pasted into a zone as it is.
 */
import type { ComputedRecord } from './records.js';
import { parseRecordText, zoneLine } from './records.js';
import type { MultiRollover, RolloverRecord, RolloverReport } from './rollover.js';
import type { TlsaBaseReport, VerifyReport } from './verify.js';

export interface ServedSummary {
  address: string;
  port: number;
  tls: 'starttls' | 'implicit';
  version: string;
  cipher: string;
}

export function renderGenerate(owner: string, source: string, records: ComputedRecord[]): string {
  const lines = [`; TLSA records for ${owner} from ${source}`];
  for (const r of records) {
    const t = r.target;
    const who = t.depth !== undefined ? `${t.subject || '(empty subject DN)'} (depth ${t.depth})` : `key ${t.spkiSha256.slice(0, 16)}…`;
    lines.push(`; ${r.usage} ${r.selector} ${r.matchingType}: ${r.description} of ${who}`);
    lines.push(zoneLine(owner, r));
  }
  return `${lines.join('\n')}\n`;
}

function mark(m: RolloverRecord['current']): string {
  return m === 'yes' ? 'yes' : m === 'no' ? 'no ' : '?  ';
}

function recordTable(rows: RolloverRecord[]): string[] {
  if (rows.length === 0) return ['  (none)'];
  return rows.map((r) => `  current ${mark(r.current)} next ${mark(r.next)}  ${r.short}${r.usable ? '' : `  [unusable: ${r.detail}]`}`);
}

export function renderRollover(owner: string, publishedFrom: string, r: RolloverReport): string {
  const out: string[] = [];
  out.push(`rollover of ${owner}`);
  out.push(`  current: ${r.current.what}, SPKI SHA-256 ${r.current.spkiSha256}`);
  out.push(`           ${r.current.covered ? 'covered' : 'NOT covered'}: ${r.current.detail}`);
  out.push(`  next:    ${r.next.what}, SPKI SHA-256 ${r.next.spkiSha256}`);
  out.push(`           ${r.next.covered ? 'covered' : 'NOT covered'}: ${r.next.detail}`);
  out.push(`published RRset (${publishedFrom}):`);
  out.push(...recordTable(r.published));
  out.push(`status: ${r.status} — ${r.advice}`);
  out.push('');
  out.push(`; RRset to publish before the switch ("current + next"${r.added.length ? `, added: ${r.added.length}` : ', nothing to add'})`);
  for (const p of r.publish) {
    const what = p.current === 'yes' && p.next === 'yes' ? 'current + next' : p.current === 'yes' ? 'current' : p.next === 'yes' ? 'next' : 'neither';
    out.push(`; ${what}${r.added.includes(p.record) ? ' (new)' : ''}`);
    out.push(zoneLine(owner, parseRecordText(p.record)));
  }
  for (const d of r.dropped) out.push(`; left out (unusable): ${d.record.slice(0, 40)}… ${d.why}`);
  if (r.retireAfterSwitch.length) {
    out.push(`; after the switch (and 2 × TTL), remove: ${r.retireAfterSwitch.map((t) => `${t.slice(0, 24)}…`).join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}

/** The first line of the verify report: the TLSA RRset, its proof and where it came from. */
export function renderTlsaHeader(r: VerifyReport, resolver: string, selfValidating = false): string {
  const out: string[] = [];
  const d = r.dns;
  const proof = selfValidating
    ? d.proof === 'secure' ? 'DNSSEC secure (validated here)' : `DNSSEC ${d.proof}`
    : d.proof === 'secure' ? 'DNSSEC secure (AD bit)' : d.proof === 'insecure' ? 'DNSSEC insecure (no AD bit)' : `DNSSEC ${d.proof}`;
  const what = d.status === 'data' ? `${r.records.length} record(s), TTL ${d.ttl}` : d.status;
  out.push(`TLSA ${r.owner}: ${what}, ${proof}, from ${resolver}${d.reason ? ` (${d.reason})` : ''}`);
  if (d.cnameChain.length > 1) out.push(`  via CNAME ${d.cnameChain.join(' → ')}`);
  return `${out.join('\n')}\n`;
}

/** Which TLSA base domain --verify uses and why; the TLSA owner names queried. */
export function renderTlsaBase(r: TlsaBaseReport): string {
  const queried = r.queried.length ? r.queried.map((q) => `${q.owner} (${q.status}, ${q.proof})`).join(', ') : 'none';
  return `TLSA base domain: ${r.base ?? 'none'}: ${r.reason}\n  TLSA owner names queried: ${queried}\n`;
}

/** `192.0.2.1:25`, `[2001:db8::1]:25`. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One server (address): what it sent, which record matches what, and its result. */
export function renderServer(r: VerifyReport, served: ServedSummary | { error: string; address?: string; port?: number }): string {
  const out: string[] = [];
  if ('error' in served) {
    out.push(`server${served.address !== undefined && served.port !== undefined ? ` ${hostPort(served.address, served.port)}` : ''}: ${served.error}`);
  } else {
    out.push(`server ${hostPort(served.address, served.port)} (${served.tls === 'starttls' ? 'STARTTLS' : 'implicit TLS'}, ${served.version}, ${served.cipher}) sent ${r.served.length} certificate(s):`);
    for (const c of r.served) {
      out.push(`  depth ${c.depth}: ${c.subject || '(empty subject DN)'}${c.onIssuerPath ? '' : ' [not on the issuer path]'}`);
      out.push(`           issuer ${c.issuer}, valid ${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)}`);
      out.push(`           SPKI SHA-256 ${c.spkiSha256}`);
    }
  }
  // Nothing served (the connection failed): no record can match, so they are not listed.
  if (r.records.length && !('error' in served)) {
    out.push('records:');
    for (const rec of r.records) out.push(`  ${rec.short}\n      ${rec.verdict}`);
  }
  if (r.suggested?.length && !('error' in served)) {
    out.push('no usable record matches the served certificate; publish for its key (beside the old record until caches expire, or put the old key back):');
    for (const line of r.suggested) out.push(`  ${line}`);
  }
  out.push(`result: ${r.authenticated ? 'AUTHENTICATED' : 'NOT AUTHENTICATED'}: ${r.detail}`);
  return `${out.join('\n')}\n`;
}

export function renderVerify(r: VerifyReport, served: ServedSummary | { error: string }, resolver: string): string {
  return renderTlsaHeader(r, resolver) + renderServer(r, served);
}

/** Generated records when the addresses of a host serve different chains: one block per chain. */
export function renderGenerateGroups(owner: string, source: string, groups: { addresses: string[]; what: string; records: ComputedRecord[] }[]): string {
  const lines = [`; TLSA records for ${owner} from ${source}: the addresses serve ${groups.length} different chains, records for each`];
  const printed = new Set<string>();
  for (const g of groups) {
    lines.push(`; served by ${g.addresses.join(', ')}: ${g.what}`);
    for (const r of g.records) {
      const t = r.target;
      const who = t.depth !== undefined ? `${t.subject || '(empty subject DN)'} (depth ${t.depth})` : `key ${t.spkiSha256.slice(0, 16)}…`;
      if (printed.has(r.text)) {
        lines.push(`; ${r.usage} ${r.selector} ${r.matchingType}: ${r.description} of ${who}: the same record as above`);
        continue;
      }
      printed.add(r.text);
      lines.push(`; ${r.usage} ${r.selector} ${r.matchingType}: ${r.description} of ${who}`);
      lines.push(zoneLine(owner, r));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The combined RRset to publish when the addresses serve different current keys. */
export function renderCombinedPublish(owner: string, rows: { record: string; who: string }[], added: number): string {
  const lines = [`; RRset to publish before the switch, covering every address ("current + next"${added ? `, added: ${added}` : ', nothing to add'})`];
  for (const r of rows) {
    lines.push(`; ${r.who}`);
    lines.push(zoneLine(owner, parseRecordText(r.record)));
  }
  return `${lines.join('\n')}\n`;
}

/** Rollover readiness over the addresses of a host (rolloverAcross); one address's report as it is. */
export function renderMultiRollover(owner: string, publishedFrom: string, m: MultiRollover): string {
  if (m.keys.length === 1) {
    const k = m.keys[0]!;
    const text = renderRollover(owner, publishedFrom, k.report);
    return m.status === 'incomplete' ? `${text}status over every address: incomplete — not ready: not every address could be checked\n` : text;
  }
  const parts = m.keys.map((k) => `; current key served by ${k.addresses.join(', ')}\n${renderRollover(owner, publishedFrom, k.report)}`);
  parts.push(`status over every address: ${m.status}${m.status === 'ready' ? '' : ' — not ready'}\n${renderCombinedPublish(owner, m.publish, m.added.length)}`);
  return parts.join('\n');
}

