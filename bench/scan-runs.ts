/**
 * The scan runs of `npm run bench` (bench/scan-bench.ts): one `dane-smtp scan` process over a
 * big lab, and the kill-and-resume run.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import type { BigLab } from '../test/lab/big-lab.js';
import { CLI_PATH, repoRoot, scanKilledAfter } from '../test/lab/cli.js';

export const some = (xs: string[]): string => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, … (${xs.length})` : ''}`;

export function runScan(lab: BigLab, out: string, extra: string[]): Promise<{ wallMs: number; stderr: string; code: number | null }> {
  const input = lab.domains.map((d) => d.domain).join('\n') + '\n';
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'scan', '--resolver', lab.resolver, '--timeout', '10', '--helo', 'bench.test', '--out', out, '--no-progress', ...extra], {
      cwd: repoRoot(),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ wallMs: Date.now() - t0, stderr, code }));
    child.stdin.end(input);
  });
}

export interface KillRow {
  killedAfter: number;
  storedBeforeRerun: number;
  rerunChecked: number;
  stored: number;
  lost: number;
  storedTwice: number;
  agree: number;
}

/**
 * A scan (8 domains at once, --json) SIGKILLed once half the domains are printed, then the
 * same command again: every domain stored exactly once, with its designed verdict; the rows
 * from before the kill untouched.
 */
export async function killAndResume(lab: BigLab, out: string, problems: string[], log: (line: string) => void): Promise<KillRow> {
  const label = 'kill and resume';
  const input = lab.domains.map((d) => d.domain).join('\n') + '\n';
  const half = Math.floor(lab.domains.length / 2);
  log(`scan: ${label} (SIGKILL after ${half} results, then rerun)…`);
  const { signal: killed, printed } = await scanKilledAfter(['scan', '--resolver', lab.resolver, '--timeout', '10', '--helo', 'bench.test', '--out', out, '--no-progress', '--json', '--concurrency', '8'], input, half);
  if (killed !== 'SIGKILL') problems.push(`${label}: the first scan was not killed (it ended with ${killed ?? 'an exit'} before ${half} results)`);
  const read = () => {
    const db = new Database(out, { readonly: true });
    try {
      return {
        rows: db.prepare('SELECT domain, verdict, finished_at FROM results').all() as { domain: string; verdict: string; finished_at: string }[],
        runs: db.prepare('SELECT status, checked FROM runs ORDER BY id').all() as { status: string; checked: number }[],
      };
    } finally {
      db.close();
    }
  };
  const before = read();
  const beforeAt = new Map(before.rows.map((r) => [r.domain, r.finished_at]));
  const notCommitted = printed.filter((d) => !beforeAt.has(d));
  if (notCommitted.length) problems.push(`${label}: printed but not stored before the kill: ${some(notCommitted)}`);

  const rerun = await runScan(lab, out, ['--concurrency', '8']);
  if (rerun.code !== 0) problems.push(`${label}: the rerun exited ${rerun.code}`);
  const after = read();
  const expectOf = new Map(lab.domains.map((d) => [d.domain, d.expect]));
  const stored = new Set(after.rows.map((r) => r.domain));
  const lost = lab.domains.filter((d) => !stored.has(d.domain)).map((d) => d.domain);
  // runs.checked counts every row written in the same transaction: a domain stored twice
  // (checked again by the rerun) makes the sum exceed the domains.
  const writes = after.runs.reduce((n, r) => n + r.checked, 0);
  const afterAt = new Map(after.rows.map((r) => [r.domain, r.finished_at]));
  const changed = [...beforeAt].filter(([d, at]) => afterAt.get(d) !== at).map(([d]) => d);
  const wrong = after.rows.filter((r) => expectOf.get(r.domain) !== r.verdict).map((r) => `${r.domain} ${r.verdict} (designed: ${expectOf.get(r.domain) ?? 'not in the lab'})`);
  if (lost.length) problems.push(`${label}: ${lost.length} domain(s) lost: ${some(lost)}`);
  if (writes !== lab.domains.length || changed.length) problems.push(`${label}: ${writes} rows written for ${lab.domains.length} domains; checked again after the kill: ${some(changed)}`);
  if (wrong.length) problems.push(`${label}: ${wrong.length} verdict(s) not as designed: ${some(wrong)}`);
  const statuses = after.runs.map((r) => r.status).join(', ');
  if (statuses !== 'running, complete') problems.push(`${label}: run statuses ${statuses} (expected: running, complete)`);
  return {
    killedAfter: printed.length,
    storedBeforeRerun: before.rows.length,
    rerunChecked: after.runs[1]?.checked ?? 0,
    stored: stored.size,
    lost: lost.length,
    storedTwice: Math.max(0, writes - lab.domains.length),
    agree: after.rows.length - wrong.length,
  };
}
