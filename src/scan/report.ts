/**
 * The summary of a scan file (`dane-smtp report`, and the end of `dane-smtp scan`): counts
 * per verdict and per finding code in sentences, and per domain a notice an operator can
 * act on (its findings, worst first; without findings the reason of a verdict that needs
 * action).
 */
import { VERDICTS, type Finding } from '../core/result.js';
import { FINDING_CODES } from '../core/findings.js';
import type { RunRow, ScanStore } from './store.js';

export interface Notice {
  domain: string;
  verdict: string;
  severity: 'error' | 'warning' | 'advice';
  /** One or more sentences. */
  notice: string;
  findings: Finding[];
}

export interface RunSummary {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  input: string;
  shard: string;
  total: number;
  skipped: number;
  checked: number;
  malformed: number;
  duplicates: number;
  wallMs: number | null;
  cpuMs: number | null;
  maxRssKb: number | null;
  domainsPerSecond: number | null;
}

export interface ScanReport {
  file: string;
  domains: number;
  verdicts: Record<string, number>;
  findings: { code: string; severity: string; domains: number; meaning: string }[];
  /** The summary in sentences. */
  sentences: string[];
  notices: Notice[];
  runs: RunSummary[];
}

const SEVERITY_RANK = { error: 0, warning: 1, advice: 2 } as const;

/** "with usable TLSA records" etc.: what a verdict says about a domain. */
const VERDICT_PHRASES: Record<string, string> = {
  'dane-authenticated': 'with usable TLSA records (dane-authenticated: the MX host was authenticated)',
  'encrypt-unauthenticated': 'with only unusable TLSA records (encrypt-unauthenticated: TLS without authentication)',
  opportunistic: 'without DANE (opportunistic: insecure DNS or no TLSA records)',
  'fingerprint-authenticated': 'authenticated by certificate fingerprints of the local policy',
  'pkix-authenticated': 'authenticated by WebPKI (verify/secure policy)',
  tempfail: 'deferred (tempfail: DNS failure, bogus answers or no usable MX host)',
  undeliverable: 'undeliverable (null MX, no such domain, or no MX host with an address)',
};

const VERDICT_ORDER = [...VERDICTS];

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * One finding as a sentence of a notice: with a full stop, also after a closing
 * parenthesis, so that several findings do not run together ("… (RFC 7672 §2.2). TLSA 0 0 1 …").
 */
export function sentence(message: string): string {
  const s = message.trim();
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function noticeOf(domain: string, verdict: string, reason: string, findings: Finding[]): Notice | undefined {
  if (findings.length > 0) {
    const sorted = [...findings].sort((a, b) => (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3));
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const f of sorted) {
      // The host first, always: the notice of a domain names the MX host each finding is about.
      const text = sentence(f.host ? `${f.host}: ${f.message}` : f.message);
      if (!seen.has(text)) parts.push(text);
      seen.add(text);
    }
    return { domain, verdict, severity: sorted[0]!.severity, notice: parts.join(' '), findings: sorted };
  }
  switch (verdict) {
    case 'tempfail':
      return { domain, verdict, severity: 'error', notice: `Mail to ${domain} is deferred: ${reason}.`, findings };
    case 'undeliverable':
      return { domain, verdict, severity: 'error', notice: `Mail to ${domain} cannot be delivered: ${reason}.`, findings };
    case 'encrypt-unauthenticated':
      return { domain, verdict, severity: 'warning', notice: `${reason}: publish a usable DANE-EE(3) or DANE-TA(2) record.`, findings };
    default:
      return undefined;
  }
}

export function buildReport(store: ScanStore, options: { notices?: boolean } = {}): ScanReport {
  const counts = store.verdictCounts();
  const domains = [...counts.values()].reduce((a, b) => a + b, 0);
  const verdicts: Record<string, number> = {};
  for (const v of [...VERDICT_ORDER, ...[...counts.keys()].filter((k) => !(VERDICT_ORDER as string[]).includes(k))]) {
    const n = counts.get(v);
    if (n) verdicts[v] = n;
  }
  const findings = store.findingCounts().map((f) => ({
    ...f,
    meaning: (FINDING_CODES as Record<string, { meaning: string }>)[f.code]?.meaning ?? f.example,
  }));

  const sentences: string[] = [];
  if (domains === 0) sentences.push('No domain checked yet.');
  else {
    const parts = Object.entries(verdicts).map(([v, n], i) => `${i === 0 ? plural(n, 'domain') : n} ${VERDICT_PHRASES[v] ?? `with verdict ${v}`}`);
    sentences.push(`${plural(domains, 'domain')} checked: ${parts.join('; ')}.`);
  }
  for (const f of findings) {
    sentences.push(`${plural(f.domains, 'domain')} with ${f.code} (${f.severity}): ${f.meaning}.`);
  }

  const notices: Notice[] = [];
  if (options.notices !== false) {
    for (const row of store.results()) {
      let findingsOf: Finding[] = [];
      try {
        const parsed = JSON.parse(row.json) as { findings?: unknown };
        if (Array.isArray(parsed.findings)) findingsOf = parsed.findings as Finding[];
      } catch {
        /* a row written by hand: no findings */
      }
      const n = noticeOf(row.domain, row.verdict, row.reason, findingsOf);
      if (n) notices.push(n);
    }
    notices.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  }

  return { file: store.path, domains, verdicts, findings, sentences, notices, runs: store.runs().map(runSummary) };
}

function runSummary(r: RunRow): RunSummary {
  return {
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    status: r.status,
    input: r.input,
    shard: r.shard,
    total: r.total,
    skipped: r.skipped,
    checked: r.checked,
    malformed: r.malformed,
    duplicates: r.duplicates,
    wallMs: r.wall_ms,
    cpuMs: r.cpu_ms,
    maxRssKb: r.max_rss_kb,
    domainsPerSecond: r.wall_ms ? Math.round((r.checked * 1000 * 10) / r.wall_ms) / 10 : null,
  };
}

export function renderRun(r: RunSummary): string {
  const perf =
    r.wallMs !== null
      ? `, ${(r.wallMs / 1000).toFixed(1)} s (${r.domainsPerSecond ?? 0}/s)` +
        (r.cpuMs !== null ? `, CPU ${(r.cpuMs / 1000).toFixed(1)} s` : '') +
        (r.maxRssKb !== null ? `, peak RSS ${Math.round(r.maxRssKb / 1024)} MB` : '')
      : '';
  const extra = [r.skipped ? `${r.skipped} already done` : '', r.malformed ? plural(r.malformed, 'malformed line') : '', r.duplicates ? plural(r.duplicates, 'duplicate') : '']
    .filter(Boolean)
    .join(', ');
  const status = r.status === 'running' && r.finishedAt === null ? 'running (or killed)' : r.status;
  return `run ${r.id} (${r.startedAt}, ${r.input}, shard ${r.shard}): ${status}, ${r.checked} of ${r.total - r.skipped} checked${extra ? ` (${extra})` : ''}${perf}`;
}

/** The human report; `maxNotices` (default all) bounds the per-domain list. */
export function renderReport(report: ScanReport, options: { maxNotices?: number; notices?: boolean } = {}): string {
  const out: string[] = [`${report.file}: ${plural(report.domains, 'domain')}`];
  out.push('', ...report.sentences.map((s) => `  ${s}`));
  if (options.notices !== false && report.notices.length > 0) {
    const limit = options.maxNotices && options.maxNotices > 0 ? options.maxNotices : report.notices.length;
    out.push('', `Notices (${plural(report.notices.length, 'domain')}, worst first):`);
    for (const n of report.notices.slice(0, limit)) out.push(`  ${n.severity.padEnd(7)} ${n.domain} (${n.verdict}): ${n.notice}`);
    if (limit < report.notices.length) out.push(`  … and ${report.notices.length - limit} more (--max-notices 0 shows all)`);
  }
  if (report.runs.length > 0) {
    out.push('', 'Runs:');
    for (const r of report.runs) out.push(`  ${renderRun(r)}`);
  }
  return `${out.join('\n')}\n`;
}
