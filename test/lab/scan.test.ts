/**
 * `dane-smtp scan` against the lab world: every scenario domain into a temp SQLite file
 * (verdicts as designed), then a scan killed with SIGKILL mid-way (8 domains at once) and
 * rerun: nothing lost, nothing duplicated, everything done with its designed verdict. Uses the built CLI (dist/src/cli/main.js).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanStore } from '../../src/scan/store.js';
import { CLI_PATH, cliBuilt, runCli, scanKilledAfter } from './cli.js';
import { startWorld, type World } from './world.js';

let world: World | undefined;
const dir = mkdtempSync(join(tmpdir(), 'dane-scan-lab-'));

beforeAll(async () => {
  if (!cliBuilt()) throw new Error(`${CLI_PATH} missing: build first (npx tsc -p .)`);
  world = await startWorld({ log: (line) => console.log(line) });
}, 300_000);

afterAll(async () => {
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function w(): World {
  if (!world) throw new Error('lab world not started');
  return world;
}

function scanArgs(out: string, extra: string[] = []): string[] {
  return ['scan', '--resolver', w().resolver, '--timeout', '5', '--helo', 'client.test', '--out', out, '--json', ...extra];
}

interface Row {
  domain: string;
  verdict: string;
  host: string | null;
  finished_at: string;
  json: string;
}

function rows(file: string): Row[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT domain, verdict, host, finished_at, json FROM results ORDER BY domain').all() as Row[];
  } finally {
    db.close();
  }
}

function runsOf(file: string): { status: string; checked: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT status, checked FROM runs ORDER BY id').all() as { status: string; checked: number }[];
  } finally {
    db.close();
  }
}

describe('dane-smtp scan (lab)', () => {
  it('scans every scenario domain into SQLite with the verdict each scenario expects', async () => {
    const out = join(dir, 'all.sqlite');
    const domains = w().scenarios.map((s) => s.domain);
    const input = `# lab scenarios\n${domains.join('\n')}\n\nnot a domain\n`;
    const run = await runCli(scanArgs(out, ['-']), { input, timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/one domain per line/);
    // --json: one line per domain with the fields of check --json.
    expect(run.json.map((j) => j.domain).sort()).toEqual([...domains].sort());
    for (const j of run.json) for (const k of ['domain', 'verdict', 'host', 'address', 'tls', 'reason', 'mx', 'hosts', 'resolverValidates', 'level', 'policySource']) expect(j, `${j.domain}.${k}`).toHaveProperty(k);

    const byDomain = new Map(rows(out).map((r) => [r.domain, r]));
    expect(byDomain.size).toBe(domains.length);
    const wrong: string[] = [];
    for (const s of w().scenarios) {
      const r = byDomain.get(s.domain);
      if (!r || r.verdict !== s.expect.verdict) wrong.push(`${s.domain}: expected ${s.expect.verdict}, got ${r?.verdict ?? 'nothing'}`);
      else if (s.expect.hosts.length > 0 && !s.expect.hosts.includes(r.host ?? '')) wrong.push(`${s.domain}: host ${r.host}, expected ${s.expect.hosts.join(' or ')}`);
      if (r) expect(JSON.parse(r.json).domain).toBe(s.domain);
    }
    expect(wrong).toEqual([]);

    const report = await runCli(['report', out, '--json']);
    expect(report.code).toBe(0);
    const summary = report.json[0] as unknown as { domains: number; verdicts: Record<string, number>; sentences: string[] };
    expect(summary.domains).toBe(domains.length);
    const expected: Record<string, number> = {};
    for (const s of w().scenarios) expected[s.expect.verdict] = (expected[s.expect.verdict] ?? 0) + 1;
    expect(summary.verdicts).toEqual(expected);
    const human = await runCli(['report', out]);
    expect(human.stdout).toMatch(new RegExp(`${expected['dane-authenticated']} domains with usable TLSA records`));
  }, 300_000);

  it('usage errors exit 64 with one line on stderr and check nothing', async () => {
    const notScan = join(dir, 'not-a-scan.sqlite');
    writeFileSync(notScan, 'not sqlite');
    // A real scan file with its middle pages overwritten; a FIFO (an open of it would block).
    const damaged = join(dir, 'damaged.sqlite');
    const store = ScanStore.open(damaged);
    for (let i = 0; i < 400; i++) store.put({ domain: `d${i}.test`, verdict: 'tempfail', host: null, address: null, tls: false, reason: 'r'.repeat(200), mx: null, hosts: [], resolverValidates: true, level: 'dane', policySource: 'default' }, { startedAt: new Date(), finishedAt: new Date() });
    store.close();
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(statSync(damaged).size / 2 / 4096) * 4096);
    closeSync(fd);
    const fifo = join(dir, 'fifo.sqlite');
    execFileSync('mkfifo', [fifo]);
    const cases: [string[], RegExp][] = [
      [scanArgs(damaged, ['-']), /damaged\.sqlite is damaged or not a database/],
      [['report', damaged], /damaged\.sqlite is damaged or not a database/],
      [scanArgs(fifo, ['-']), /fifo\.sqlite is a FIFO/],
      [['report', fifo], /fifo\.sqlite is a FIFO/],
      [scanArgs(join(dir, 'u1.sqlite'), ['--shard', '3/2', '-']), /--shard/],
      [scanArgs(join(dir, 'u2.sqlite'), ['--domain-budget', 'soon', '-']), /--domain-budget/],
      [scanArgs(join(dir, 'u3.sqlite'), [join(dir, 'missing.txt')]), /cannot read/],
      [scanArgs(notScan, ['-']), /not a database|not a dane-smtp scan file/],
      [['report', join(dir, 'missing.sqlite')], /no such file/],
      [['report', notScan], /not a database|not a dane-smtp scan file/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { input: 'example.test\n' });
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr.trim().split('\n').filter((l) => !/ domain\(s\)|malformed/.test(l))).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('a scan killed with SIGKILL mid-way (8 domains at once) and rerun loses nothing, duplicates nothing and finishes', async () => {
    const out = join(dir, 'killed.sqlite');
    const domains = w().scenarios.map((s) => s.domain);
    const input = `${domains.join('\n')}\n`;

    // First run, 8 domains at once: several are in flight when it is killed after the tenth result.
    const killed = await scanKilledAfter(scanArgs(out, ['--concurrency', '8']), input, 10);
    const printed = killed.printed;
    expect(killed.signal).toBe('SIGKILL');
    const afterKill = rows(out);
    expect(afterKill.length).toBeGreaterThanOrEqual(10);
    expect(afterKill.length).toBeLessThan(domains.length);
    // Every result printed was committed before it was printed; each stored domain once.
    for (const d of printed) expect(afterKill.map((r) => r.domain)).toContain(d);
    expect(new Set(printed).size).toBe(printed.length);
    expect(new Set(afterKill.map((r) => r.domain)).size).toBe(afterKill.length);
    const expectOf = new Map(w().scenarios.map((s) => [s.domain, s.expect.verdict]));
    expect(afterKill.filter((r) => r.verdict !== expectOf.get(r.domain)).map((r) => r.domain)).toEqual([]);

    // Rerun: only what is missing is checked.
    const rerun = await runCli(scanArgs(out), { input, timeoutMs: 300_000 });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`${afterKill.length} already in`);
    const second = rerun.json.map((j) => j.domain);
    expect(second.filter((d) => afterKill.some((r) => r.domain === d))).toEqual([]);
    expect(second.length + afterKill.length).toBe(domains.length);
    expect(new Set(second).size).toBe(second.length);

    const final = rows(out);
    expect(final.map((r) => r.domain)).toEqual([...domains].sort());
    for (const r of afterKill) expect(final.find((x) => x.domain === r.domain)?.finished_at).toBe(r.finished_at);
    expect(final.filter((r) => r.verdict !== expectOf.get(r.domain)).map((r) => r.domain)).toEqual([]);
    // Each domain was stored exactly once over both runs (a row replaced would count twice).
    expect(runsOf(out).map((r) => r.status)).toEqual(['running', 'complete']); // `running`: killed
    expect(runsOf(out).reduce((n, r) => n + r.checked, 0)).toBe(domains.length);

    // A third run has nothing to do.
    const third = await runCli(scanArgs(out), { input, timeoutMs: 60_000 });
    expect(third.code).toBe(0);
    expect(third.json).toEqual([]);
    expect(rows(out)).toHaveLength(domains.length);
  }, 300_000);
});
