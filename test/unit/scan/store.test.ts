import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DomainResult, Verdict } from '../../../src/core/result.js';
import { ScanStore, StoreError } from '../../../src/scan/store.js';
import { buildReport, renderReport } from '../../../src/scan/report.js';

const dir = mkdtempSync(join(tmpdir(), 'scan-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `s${++n}.sqlite`);

function result(domain: string, verdict: Verdict, findings?: DomainResult['findings']): DomainResult {
  const failed = verdict === 'tempfail' || verdict === 'undeliverable';
  const r = { domain, verdict, host: failed ? null : `mx.${domain}`, address: failed ? null : '192.0.2.1', tls: !failed, reason: `reason for ${domain}`, mx: null, hosts: [], resolverValidates: true, level: 'dane', policySource: 'default' } as DomainResult;
  if (findings) r.findings = findings;
  return r;
}
const times = { startedAt: new Date('2026-01-01T00:00:00Z'), finishedAt: new Date('2026-01-01T00:00:01.5Z') };
const runInfo = { input: 'list.txt', shard: '1/1', total: 3, skipped: 0, malformed: 0, duplicates: 0, settings: { level: 'dane' } };

describe('ScanStore', () => {
  it('stores one row per domain with the JSON, verdict, host, reason and times; WAL mode', () => {
    const f = file();
    const s = ScanStore.open(f);
    const run = s.beginRun(runInfo);
    s.put(result('a.example', 'dane-authenticated'), times, run);
    s.put(result('b.example', 'tempfail'), times, run);
    const row = s.get('a.example')!;
    expect(row).toMatchObject({ domain: 'a.example', verdict: 'dane-authenticated', host: 'mx.a.example', reason: 'reason for a.example', tls: 1, duration_ms: 1500, run_id: run });
    expect(JSON.parse(row.json)).toEqual(result('a.example', 'dane-authenticated'));
    expect(row.started_at).toBe('2026-01-01T00:00:00.000Z');
    expect(s.runs()[0]).toMatchObject({ status: 'running', checked: 2, total: 3 });
    s.endRun(run, { status: 'complete', checked: 2, wallMs: 1000, cpuMs: 500, maxRssKb: 50_000 });
    expect(s.runs()[0]).toMatchObject({ status: 'complete', wall_ms: 1000, cpu_ms: 500 });
    s.close();
    expect(existsSync(`${f}-wal`) || statSync(f).size > 0).toBe(true);
  });

  it('resume: a reopened file knows what is done; a domain is never stored twice', () => {
    const f = file();
    const s1 = ScanStore.open(f);
    s1.put(result('a.example', 'dane-authenticated'), times);
    s1.put(result('b.example', 'tempfail'), times);
    s1.close();
    const s2 = ScanStore.open(f);
    expect([...s2.doneDomains()].sort()).toEqual(['a.example', 'b.example']);
    expect([...s2.doneDomains({ retryTempfail: true })]).toEqual(['a.example']);
    const pending = ['a.example', 'b.example', 'c.example'].filter((d) => !s2.doneDomains().has(d));
    expect(pending).toEqual(['c.example']);
    s2.put(result('b.example', 'opportunistic'), times); // --retry-tempfail: replaced, not duplicated
    expect(s2.count()).toBe(2);
    expect(s2.get('b.example')!.verdict).toBe('opportunistic');
    s2.close();
  });

  it('a result written is there after the writer is killed (SIGKILL, no close, no checkpoint)', () => {
    const f = file();
    const storeJs = resolve('dist/src/scan/store.js');
    expect(existsSync(storeJs), `${storeJs} missing: build first (npx tsc -p .)`).toBe(true);
    const script = `
      import { ScanStore } from ${JSON.stringify(storeJs)};
      const s = ScanStore.open(${JSON.stringify(f)});
      const run = s.beginRun(${JSON.stringify(runInfo)});
      s.put({ domain: 'crash.example', verdict: 'dane-authenticated', host: 'mx.crash.example', address: '127.0.0.1', tls: true, reason: 'r', mx: null, hosts: [], resolverValidates: true, level: 'dane', policySource: 'default' },
        { startedAt: new Date(), finishedAt: new Date() }, run);
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    expect(existsSync(`${f}-wal`)).toBe(true); // the commit is in the WAL, never checkpointed
    const s = ScanStore.open(f, { readonly: true });
    expect(s.get('crash.example')?.verdict).toBe('dane-authenticated');
    expect(s.runs()[0]).toMatchObject({ status: 'running', checked: 1 });
    s.close();
    const w = ScanStore.open(f);
    expect(w.doneDomains().has('crash.example')).toBe(true);
    w.close();
  });

  it('refuses a file that is not a scan file, and a missing file for reading', () => {
    const f = join(dir, 'not-a-scan.sqlite');
    writeFileSync(f, 'hello, not SQLite at all, just text'.repeat(200));
    expect(() => ScanStore.open(f)).toThrow(StoreError);
    expect(() => ScanStore.open(join(dir, 'missing.sqlite'), { readonly: true })).toThrow(/no such file/);
  });
});

describe('report', () => {
  it('counts verdicts and findings in sentences, with a notice per domain to act on', () => {
    const f = file();
    const s = ScanStore.open(f);
    for (let i = 0; i < 3; i++) s.put(result(`ok${i}.example`, 'dane-authenticated'), times);
    s.put(result('enc.example', 'encrypt-unauthenticated', [{ code: 'tlsa-pkix-usage', severity: 'error', host: 'mx.enc.example', message: 'usage 1 is not used by SMTP' }]), times);
    s.put(result('slack.example', 'dane-authenticated', [{ code: 'no-rollover-slack', severity: 'advice', message: 'publish the next key' }, { code: 'no-rollover-slack', severity: 'advice', message: 'publish the next key' }]), times);
    s.put(result('down.example', 'tempfail'), times);
    s.put(result('opp.example', 'opportunistic'), times);
    const report = buildReport(s);
    expect(report.domains).toBe(7);
    expect(report.verdicts).toEqual({ 'dane-authenticated': 4, 'encrypt-unauthenticated': 1, opportunistic: 1, tempfail: 1 });
    expect(report.sentences[0]).toMatch(/^7 domains checked: 4 domains with usable TLSA records .*; 1 with only unusable TLSA records/);
    expect(report.findings.map((x) => [x.code, x.severity, x.domains])).toEqual([
      ['no-rollover-slack', 'advice', 1],
      ['tlsa-pkix-usage', 'error', 1],
    ]);
    expect(report.sentences).toContain('1 domain with tlsa-pkix-usage (error): a TLSA record with usage 0 or 1, which SMTP ignores (RFC 7672 §3.1.3).');
    expect(report.notices.map((x) => [x.domain, x.severity])).toEqual([
      ['down.example', 'error'],
      ['enc.example', 'error'],
      ['slack.example', 'advice'],
    ]);
    expect(report.notices[1]!.notice).toBe('mx.enc.example: usage 1 is not used by SMTP.');
    expect(report.notices[2]!.notice).toBe('publish the next key.');
    const text = renderReport(report, { maxNotices: 2 });
    expect(text).toContain('Notices (3 domains, worst first):');
    expect(text).toContain('… and 1 more');
    s.close();
  });
});
