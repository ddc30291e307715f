/**
 * The work behind `dane-smtp scan` and `dane-smtp report` (scan-command.ts registers them
 * and loads this module only when one of them runs: SQLite is not loaded for check).
 *
 * `dane-smtp scan [FILE]`: check many domains (one per line, from FILE or standard input)
 * as `check` does, concurrently and politely, storing each result in SQLite as it arrives
 * (resumable); `dane-smtp report FILE.sqlite`: the summary of a scan file.
 *
 * Exit codes (scan): 0 every domain of the input (or of this --shard) has a result in the
 * file; 75 not finished (interrupted, resolver unreachable: rerun the same command to
 * resume); 64 usage error (one line on stderr). report: 0, or 64.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { lookupPolicy } from '../policy/table.js';
import { remoteResolverWarning, resolverFor, resolverTrust } from '../dns/resolver-trust.js';
import { CachingResolver } from '../dns/cache.js';
import { probeValidation } from '../dns/probe.js';
import type { Resolver } from '../dns/types.js';
import type { Work } from '../engine/run.js';
import { parseDomainList } from '../scan/input.js';
import { inShard, parseShard, shardText, ShardSyntaxError, type Shard } from '../scan/shard.js';
import { ScanStore, SqliteUnavailableError, StoreError, loadSqlite } from '../scan/store.js';
import { scanDomains } from '../scan/scan.js';
import { ProgressBar } from '../scan/progress.js';
import { buildReport, renderReport } from '../scan/report.js';
import { EXIT } from '../core/outcome.js';
import { UsageError, commonSettings, intOption, policySettings, resolverConfig, trustWarning } from './options.js';
import { type CommonOptions } from './option-defs.js';
import { defaultScanConcurrency } from './scan-defaults.js';

/** scan's exit statuses, from the one table: an unfinished scan is temporary. */
export const SCAN_EXIT = { OK: EXIT.OK, USAGE: EXIT.USAGE, UNAVAILABLE: EXIT.UNAVAILABLE, INCOMPLETE: EXIT.TEMPFAIL } as const;

/**
 * better-sqlite3 is an optional peer dependency, needed only by scan and report: without
 * it, one line that says how to install it and 69 (EX_UNAVAILABLE), before anything is read.
 */
function sqliteMissing(command: 'scan' | 'report'): boolean {
  try {
    loadSqlite();
    return false;
  } catch (e) {
    if (!(e instanceof SqliteUnavailableError)) throw e;
    process.stderr.write(`dane-smtp: ${command} needs the better-sqlite3 package: npm install better-sqlite3\n`);
    return true;
  }
}

const MAX_MALFORMED_SHOWN = 20;

export interface ScanCliOptions extends Omit<CommonOptions, 'concurrency'> {
  concurrency?: string;
  out: string;
  domainBudget: string;
  shard?: string;
  retryTempfail?: boolean;
  progress: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function readInput(file: string | undefined): Promise<{ text: string; name: string }> {
  if (file === undefined || file === '-') {
    if (file === undefined && process.stdin.isTTY) throw new UsageError('give a FILE of domains (one per line), or - and the list on standard input');
    return { text: await readStdin(), name: 'standard input' };
  }
  try {
    return { text: readFileSync(file, 'utf8'), name: file };
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function budgetOption(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(seconds) || seconds > 86_400) {
    throw new UsageError(`--domain-budget must be a number of seconds from 0 (none) to 86400, not '${value}'`);
  }
  return Math.round(seconds * 1000);
}

export async function runScan(file: string | undefined, o: ScanCliOptions): Promise<number> {
  // Every option is checked before anything is read, opened or sent.
  const concurrency = o.concurrency ?? String(defaultScanConcurrency());
  const s = commonSettings({ ...o, concurrency });
  const p = policySettings({ ...o, concurrency });
  const config = resolverConfig(s.spec, s.timeoutMs, o);
  const budgetMs = budgetOption(o.domainBudget);
  let shard: Shard | undefined;
  if (o.shard !== undefined) {
    try {
      shard = parseShard(o.shard);
    } catch (e) {
      if (e instanceof ShardSyntaxError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (!o.out) throw new UsageError('--out needs a file name');
  if (sqliteMissing('scan')) return SCAN_EXIT.UNAVAILABLE;
  const json = Boolean(o.json);
  // A closed pipe (| head) does not stop the scan: the file has everything (guardStdout in main).

  const input = await readInput(file);
  const list = parseDomainList(input.text);
  const share = list.domains.filter((d) => inShard(d, shard));

  // The --out file is checked before the malformed lines are reported: a usage error
  // stays one line on stderr.
  let store: ScanStore;
  try {
    store = ScanStore.open(o.out);
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(e.message);
    throw e;
  }
  for (const m of list.malformed.slice(0, MAX_MALFORMED_SHOWN)) process.stderr.write(`dane-smtp: ${input.name}:${m.line}: ${m.reason}: '${m.text}'\n`);
  if (list.malformed.length > MAX_MALFORMED_SHOWN) process.stderr.write(`dane-smtp: … ${list.malformed.length - MAX_MALFORMED_SHOWN} more malformed lines\n`);
  if (list.malformed.length) process.stderr.write(`dane-smtp: ${list.malformed.length} malformed line(s) in ${input.name} skipped\n`);
  try {
    const settings = {
      resolver: `${s.spec.address}:${s.spec.port}`,
      port: s.port,
      helo: s.helo,
      timeoutMs: s.timeoutMs,
      level: p.level,
      ...(o.policy !== undefined ? { policy: resolvePath(o.policy) } : {}),
      ...(o.caFile !== undefined ? { caFile: resolvePath(o.caFile) } : {}),
      ...(o.trustAnchor !== undefined ? { trustAnchor: resolvePath(o.trustAnchor) } : o.validate ? { validate: true } : {}),
      ...(o.daneInsecureMx ? { daneInsecureMx: true } : {}),
    };
    const first = store.firstSettings();
    if (first) {
      const differ = Object.keys({ ...first, ...settings }).filter(
        // What changes verdicts; not the EHLO name, the concurrency or the budget.
        (k) => !['helo', 'concurrency', 'budgetMs', 'retryTempfail'].includes(k) && JSON.stringify((first as Record<string, unknown>)[k]) !== JSON.stringify((settings as Record<string, unknown>)[k]),
      );
      if (differ.length) process.stderr.write(`dane-smtp: warning: ${o.out} was started with other settings (${differ.join(', ')}); results will mix both\n`);
    }
    const done = store.doneDomains(o.retryTempfail ? { retryTempfail: true } : {});
    const pending = share.filter((d) => !done.has(d));
    const runId = store.beginRun({
      input: input.name,
      shard: shardText(shard),
      total: share.length,
      skipped: share.length - pending.length,
      malformed: list.malformed.length,
      duplicates: list.duplicates,
      settings: { ...settings, budgetMs, concurrency: s.concurrency, ...(o.retryTempfail ? { retryTempfail: true } : {}) },
    });
    const summaryOut = (text: string): void => {
      (json ? process.stderr : process.stdout).write(text);
    };
    const t0 = Date.now();
    const cpu0 = process.cpuUsage();
    const finish = (status: 'complete' | 'interrupted' | 'incomplete', checked: number): void => {
      const cpu = process.cpuUsage(cpu0);
      store.endRun(runId, { status, checked, wallMs: Date.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS });
    };
    process.stderr.write(
      `dane-smtp: ${share.length} domain(s)${shard ? ` in shard ${shardText(shard)} of ${list.domains.length}` : ''}, ${share.length - pending.length} already in ${o.out}, ${pending.length} to check\n`,
    );
    if (pending.length === 0) {
      finish('complete', 0);
      summaryOut(renderReport(buildReport(store, { notices: false }), { notices: false }));
      return SCAN_EXIT.OK;
    }

    const remote = remoteResolverWarning(config);
    if (remote) process.stderr.write(`dane-smtp: warning: ${remote}\n`);
    const upstream: Resolver = resolverFor(config);
    const resolver = new CachingResolver(upstream);

    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        process.stderr.write(`\ndane-smtp: ${sig}: stopping; every result so far is in ${o.out} (again to quit at once)\n`);
        controller.abort();
      } else {
        process.exit(sig === 'SIGINT' ? 130 : 143); // the file is consistent: every commit is complete
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const probe = await probeValidation(resolver, controller.signal).catch(() => undefined);
      if (!probe || !probe.reachable) {
        process.stderr.write(`dane-smtp: ${probe?.reason ?? 'interrupted'}: nothing checked; rerun when the resolver answers\n`);
        finish('incomplete', 0);
        return SCAN_EXIT.INCOMPLETE;
      }
      process.stderr.write(trustWarning(resolverTrust(resolver, probe), probe));

      const progress = o.progress && process.stderr.isTTY ? new ProgressBar(process.stderr, pending.length) : undefined;
      const works: Work[] = pending.map((domain) => ({ domain, job: { kind: 'probe' }, policy: lookupPolicy(p.table, { kind: 'domain', domain }, p.level) }));
      let stored = 0;
      const outcome = await scanDomains(works, {
        resolver,
        probe,
        concurrency: s.concurrency,
        budgetMs,
        signal: controller.signal,
        port: s.port,
        helo: s.helo,
        timeoutMs: s.timeoutMs,
        ...(o.daneInsecureMx ? { daneWithInsecureMx: true } : {}),
        ...(p.caCertificates ? { caCertificates: p.caCertificates } : {}),
        onResult: (result, times) => {
          store.put(result, times, runId); // committed before anything is said about it
          stored++;
          if (json) {
            // stdout and stderr on one terminal: clear the progress line first, so the JSON
            // line starts at column 0 and the bar is redrawn below it.
            if (process.stdout.isTTY) progress?.clear();
            process.stdout.write(`${JSON.stringify(result)}\n`);
          }
          progress?.add(result.verdict);
        },
      });
      progress?.finish();
      const status = outcome.interrupted ? 'interrupted' : outcome.unfinished > 0 ? 'incomplete' : 'complete';
      finish(status, stored);
      const report = buildReport(store, { notices: false });
      summaryOut(renderReport(report, { notices: false }));
      const c = resolver.stats;
      process.stderr.write(`dane-smtp: DNS cache: ${c.misses} lookups sent, ${c.hits + c.joined} answered from the cache or shared\n`);
      if (status !== 'complete') {
        process.stderr.write(`dane-smtp: ${outcome.unfinished} domain(s) not checked (${status}): rerun the same command to resume\n`);
        return SCAN_EXIT.INCOMPLETE;
      }
      process.stderr.write(`dane-smtp: notices per domain: dane-smtp report ${o.out}\n`);
      return SCAN_EXIT.OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } catch (e) {
    // A damaged file: a usage error (a rerun cannot help). Disk full, an I/O error: temporary.
    if (e instanceof StoreError) throw new UsageError(e.message);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) {
      process.stderr.write(`dane-smtp: ${o.out}: ${String((e as Error).message).replace(/\s+/g, ' ')} (${code}): every result stored so far is kept; rerun the same command to resume\n`);
      return SCAN_EXIT.INCOMPLETE;
    }
    throw e;
  } finally {
    store.close();
  }
}

export interface ReportCliOptions {
  json?: boolean;
  maxNotices: string;
  notices: boolean;
}

export function runReport(file: string, o: ReportCliOptions): number {
  const maxNotices = intOption(o.maxNotices, '--max-notices', 0, 1_000_000_000);
  if (sqliteMissing('report')) return SCAN_EXIT.UNAVAILABLE;
  let store: ScanStore;
  try {
    store = ScanStore.open(file, { readonly: true });
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(e.message);
    throw e;
  }
  try {
    const report = buildReport(store, { notices: o.notices });
    if (o.json) {
      const out = maxNotices > 0 ? { ...report, notices: report.notices.slice(0, maxNotices) } : report;
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write(renderReport(report, { maxNotices, notices: o.notices }));
    }
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(e.message); // damaged pages found while reading
    throw e;
  } finally {
    store.close();
  }
  return 0;
}
