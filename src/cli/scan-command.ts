/**
 * `dane-smtp scan` and `dane-smtp report`: options and help here; the work is in
 * scan-actions.ts, loaded only when one of these commands runs.
 *
 * Exit codes (scan): 0 every domain of the input (or of this --shard) has a result in the
 * file; 75 not finished (interrupted, resolver unreachable: rerun the same command to
 * resume); 64 usage error (one line on stderr). report: 0, or 64.
 */
import type { Command } from 'commander';
import { COMMON_OPTIONS } from './option-defs.js';
import { DEFAULT_DOMAIN_BUDGET, defaultScanConcurrency } from './scan-defaults.js';


export function registerScanCommand(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('scan')
    .description('check many domains (one per line from FILE or standard input) as check does; results go to SQLite as they arrive; rerun to resume')
    .argument('[file]', 'domains, one per line (# comments); - or nothing: standard input');
  for (const [flags, description, defaultValue] of COMMON_OPTIONS) {
    if (flags.startsWith('--concurrency')) cmd.option('--concurrency <n>', `domains checked at once (default: 16 per CPU, at most 128: ${defaultScanConcurrency()} here)`);
    else if (flags.startsWith('--json')) cmd.option('--json', 'also print each result as one JSON line on stdout (the fields of check --json); the summary goes to stderr');
    else if (defaultValue === undefined) cmd.option(flags, description);
    else cmd.option(flags, description, defaultValue);
  }
  cmd
    .option('--out <file>', 'SQLite file of results (created; resumed when it exists)', 'scan.sqlite')
    .option('--domain-budget <seconds>', 'time budget per domain, waiting for a busy MX address excluded (0: none)', String(DEFAULT_DOMAIN_BUDGET))
    .option('--shard <i/n>', 'check only shard I of N (by a hash of the domain), to split a survey between machines')
    .option('--retry-tempfail', 'check again the domains whose stored verdict is tempfail')
    .option('--no-progress', 'no progress line on stderr (it is shown only on a terminal anyway)')
    .action(async (file: string | undefined, o: import('./scan-actions.js').ScanCliOptions) => {
      const { runScan } = await import('./scan-actions.js');
      setExit(await runScan(file, o));
    });
}

export function registerReportCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('report')
    .description('summary of a scan file: counts per verdict and per finding, and a notice per domain that needs action')
    .argument('<file>', 'the SQLite file written by scan')
    .option('--json', 'one JSON object instead of the human report')
    .option('--max-notices <n>', 'list at most N domains (0: all)', '0')
    .option('--no-notices', 'only the counts')
    .action(async (file: string, o: import('./scan-actions.js').ReportCliOptions) => {
      const { runReport } = await import('./scan-actions.js');
      setExit(runReport(file, o));
    });
}
