/**
 * `npm run lab`: build (done by npm), install the lab packages if needed, start the lab
 * world, run `dane-smtp check` on every lab domain (human-readable output), then print a
 * compact table (domain | expected | verdict | host | reason) and stop the world — also
 * on error and on Ctrl-C (world.ts registers the exit/signal hooks).
 *
 * Exit status: 0 when every verdict and host is as expected, 1 otherwise, 2 when the lab
 * itself could not start.
 */
import { spawn } from 'node:child_process';
import { checkArgs, CLI_PATH, cliBuilt, runCli, type CliResult } from './cli.js';
import type { Scenario } from './scenarios.js';
import { startWorld, type World } from './world.js';

const isTty = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const color = (code: number, s: string): string => (isTty ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = (s: string): string => color(32, s);
const red = (s: string): string => color(31, s);
const dim = (s: string): string => color(2, s);
const bold = (s: string): string => color(1, s);

function runInherited(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
}

function truncate(s: string, n: number): string {
  if (n <= 1) return '';
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

interface Row {
  ok: boolean;
  cells: string[];
  /** Printed under the row when it differs from the expectation. */
  note?: string;
}

function matches(s: Scenario, r: CliResult | undefined): boolean {
  if (!r) return false;
  if (r.verdict !== s.expect.verdict) return false;
  if (s.expect.hosts.length === 0) return r.host === null || r.host === undefined;
  return typeof r.host === 'string' && s.expect.hosts.includes(r.host);
}

function printTable(rows: Row[], header: string[]): void {
  // A terminal: fit its width; a log file (CI): 200 columns.
  const width = process.stdout.isTTY ? Math.max(process.stdout.columns ?? 0, 100) : 200;
  const fixed = header.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? '').length)));
  const used = fixed.reduce((a, b) => a + b, 0) + 3 * fixed.length + 2;
  const reasonWidth = Math.max(20, width - used);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < fixed.length ? c.padEnd(fixed[i] ?? 0) : truncate(c, reasonWidth)))
      .join(' | ');
  console.log(bold(`  ${line(header)}`));
  console.log(dim(`  ${fixed.map((w) => '-'.repeat(w)).join('-+-')}-+-${'-'.repeat(Math.min(reasonWidth, 40))}`));
  for (const r of rows) {
    console.log(`${r.ok ? green('✓') : red('✗')} ${line(r.cells)}`);
    if (!r.ok && r.note) console.log(red(`    ${r.note}`));
  }
}

async function main(): Promise<number> {
  console.log(bold('dane-smtp lab: building a loopback world (nsd ×3, unbound, SMTP receivers)…'));
  let world: World;
  try {
    world = await startWorld({ log: (l) => console.log(dim(l)) });
  } catch (err) {
    console.error(red(`lab failed to start: ${(err as Error).message}`));
    return 2;
  }
  try {
    console.log(`resolver ${bold(world.resolver)}  block ${world.block}.0/24  receivers ${world.receiverList.length}  scenarios ${world.scenarios.length}`);
    for (const s of world.skipped) console.log(dim(`skipped ${s.domain}: ${s.reason}`));
    const domains = world.scenarios.map((s) => s.domain);
    if (!cliBuilt()) {
      console.error(red(`${CLI_PATH} does not exist: build it with 'npx tsc -p .' (npm run build)`));
      return 1;
    }

    console.log(bold(`\n$ dane-smtp check --resolver ${world.resolver} --timeout 5 <${domains.length} lab domains>\n`));
    await runInherited(checkArgs(world.resolver, domains, false));

    console.log(bold('\nSummary (from --json)\n'));
    const run = await runCli(checkArgs(world.resolver, domains, true), { timeoutMs: 300_000 });
    const byDomain = new Map(run.json.map((j) => [j.domain, j]));
    const rows: Row[] = world.scenarios.map((s) => {
      const r = byDomain.get(s.domain);
      return {
        ok: matches(s, r),
        cells: [s.domain, s.expect.verdict, r?.verdict ?? '(none)', r?.host ?? '-', (r?.reason ?? '').replace(/\s+/g, ' ')],
        note: `expected ${s.expect.verdict} via ${s.expect.hosts.length ? s.expect.hosts.join(' or ') : 'no host'} — ${s.description}`,
      };
    });
    printTable(rows, ['domain', 'expected', 'verdict', 'host', 'reason']);
    const bad = rows.filter((r) => !r.ok).length;
    console.log(
      `\n${bad === 0 ? green(`all ${rows.length} scenarios as expected`) : red(`${bad} of ${rows.length} scenarios differ from the expectation`)}` +
        (run.stderr.trim() ? `\n${dim(run.stderr.trim())}` : ''),
    );
    return bad === 0 ? 0 : 1;
  } finally {
    console.log(dim('stopping the lab…'));
    await world.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(red(String((err as Error)?.stack ?? err)));
    process.exit(2);
  },
);
