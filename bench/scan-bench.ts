/**
 * `npm run bench`: numbers, not a test (needs root: ports 25 and 53 on 127/8; nsd,
 * unbound, ldnsutils, dnsutils, openssl; postfix for posttls-finger).
 *
 * 1. Scanner throughput: builds a larger lab (test/lab/big-lab.ts: N signed customer
 *    domains, each its own zone, on a few hundred MX hosts shared by hosting providers),
 *    runs `dane-smtp scan` over it (cold resolver cache, then warm, then with more
 *    concurrency) and prints domains per second, CPU time per domain and peak memory,
 *    and whether every verdict is the designed one. Then kill and resume: a scan
 *    SIGKILLed half-way (8 domains at once) and rerun must store every domain exactly once
 *    with its designed verdict.
 * 2. `dane-smtp check` next to Postfix's `posttls-finger -c -l dane` over the standard
 *    lab's scenario domains, one process per domain, sequentially, both through the same
 *    wrapper: a private mount namespace (`unshare -m`) where /etc/resolv.conf is the lab's
 *    unbound (posttls-finger uses the system resolver), `MAIL_CONFIG` a minimal main.cf,
 *    and GNU time for CPU and memory.
 *
 *   npm run bench [-- DOMAINS]        (default 1000)
 *
 * Exits 1 (after printing the tables) when a verdict differs from the designed one, a
 * domain is lost or stored twice, or a scan does not complete.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startBigLab } from '../test/lab/big-lab.js';
import { CLI_PATH } from '../test/lab/cli.js';
import { BENCH_BINARIES, ensureLabPackages, findBinary } from '../test/lab/install.js';
import { startWorld, type World } from '../test/lab/world.js';
import { killAndResume, runScan, some, type KillRow } from './scan-runs.js';

const execFileAsync = promisify(execFile);
const N = Number(process.argv[2] ?? 1000);
const work = mkdtempSync(join(tmpdir(), 'dane-scan-bench-'));
const log = (line: string): void => void process.stderr.write(`${line}\n`);
/** What makes `npm run bench` exit non-zero. */
const problems: string[] = [];

interface ScanRow {
  label: string;
  domains: number;
  wallS: number;
  perSecond: number;
  cpuMsPerDomain: number;
  peakRssMb: number;
  rssKbPerDomain: number;
  agree: number;
  cache: string;
}

async function scanBench(): Promise<{ rows: ScanRow[]; kill: KillRow | undefined }> {
  const lab = await startBigLab({ domains: N, log });
  const rows: ScanRow[] = [];
  let kill: KillRow | undefined;
  try {
    log(`big lab built in ${lab.buildSeconds.toFixed(1)} s: ${lab.domains.length} domains, ${lab.zones} zones, ${lab.receivers} receivers`);
    const expectOf = new Map(lab.domains.map((d) => [d.domain, d.expect]));
    const configs: [string, string[]][] = [
      ['cold resolver cache, --concurrency 8', ['--concurrency', '8']],
      ['warm resolver cache, --concurrency 8', ['--concurrency', '8']],
      ['warm resolver cache, default concurrency (16 per CPU)', []],
    ];
    for (const [i, [label, extra]] of configs.entries()) {
      const out = join(work, `scan-${i}.sqlite`);
      log(`scan: ${label}…`);
      const r = await runScan(lab, out, extra);
      if (r.code !== 0) log(`scan exited ${r.code}:\n${r.stderr}`);
      const db = new Database(out, { readonly: true });
      const run = db.prepare('SELECT checked, wall_ms, cpu_ms, max_rss_kb FROM runs ORDER BY id DESC LIMIT 1').get() as { checked: number; wall_ms: number; cpu_ms: number; max_rss_kb: number };
      const verdicts = db.prepare('SELECT domain, verdict FROM results').all() as { domain: string; verdict: string }[];
      db.close();
      const agree = verdicts.filter((v) => expectOf.get(v.domain) === v.verdict).length;
      if (r.code !== 0) problems.push(`${label}: scan exited ${r.code}`);
      const stored = new Set(verdicts.map((v) => v.domain));
      const lost = lab.domains.filter((d) => !stored.has(d.domain)).map((d) => d.domain);
      if (lost.length) problems.push(`${label}: ${lost.length} domain(s) lost: ${some(lost)}`);
      const wrong = verdicts.filter((v) => expectOf.get(v.domain) !== v.verdict).map((v) => `${v.domain} ${v.verdict} (designed: ${expectOf.get(v.domain) ?? 'not in the lab'})`);
      if (wrong.length) problems.push(`${label}: ${wrong.length} verdict(s) not as designed: ${some(wrong)}`);
      rows.push({
        label,
        domains: run.checked,
        wallS: run.wall_ms / 1000,
        perSecond: (run.checked * 1000) / run.wall_ms,
        cpuMsPerDomain: run.cpu_ms / run.checked,
        peakRssMb: run.max_rss_kb / 1024,
        rssKbPerDomain: run.max_rss_kb / run.checked,
        agree,
        cache: /DNS cache: ([^\n]+)/.exec(r.stderr)?.[1] ?? '',
      });
    }
    kill = await killAndResume(lab, join(work, 'scan-killed.sqlite'), problems, log);
  } finally {
    await lab.stop();
  }
  return { rows, kill };
}

interface Timed {
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
  stdout: string;
  stderr: string;
}

/** Runs argv in a private mount namespace whose /etc/resolv.conf is `resolvConf`, under GNU time. */
async function inNamespace(resolvConf: string, env: Record<string, string>, argv: string[]): Promise<Timed> {
  const timeFile = join(work, 'time.out');
  const script = 'mount --bind "$1" /etc/resolv.conf && shift && exec /usr/bin/time -f "%e %U %S %M" -o "$0" "$@"';
  const t0 = Date.now();
  const r = await execFileAsync('unshare', ['-m', 'sh', '-c', script, timeFile, resolvConf, ...argv], {
    env: { ...process.env, ...env },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  const wallMs = Date.now() - t0;
  const t = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wallMs, cpuMs: ((t[1] ?? 0) + (t[2] ?? 0)) * 1000, maxRssKb: t[3] ?? 0, stdout: r.stdout, stderr: r.stderr };
}

function fingerSummary(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^posttls-finger: /, '').trim()).filter(Boolean);
  const pick =
    lines.find((l) => /TLS connection established/.test(l)) ??
    lines.find((l) => /fatal|error|failed|not found|refused|unavailable|Name service/i.test(l)) ??
    lines[lines.length - 1] ??
    '';
  return pick.length > 90 ? `${pick.slice(0, 89)}…` : pick;
}

interface CompareRow {
  domain: string;
  expect: string;
  check: Timed & { verdict: string };
  finger: Timed & { summary: string };
}

async function compareBench(): Promise<{ rows: CompareRow[]; batch: Timed; serial: Timed; world: { resolver: string } }> {
  const world: World = await startWorld({ log });
  try {
    const resolvConf = join(work, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${world.resolverAddress}\noptions edns0 trust-ad\n`);
    const mailConfig = join(work, 'postfix');
    rmSync(mailConfig, { recursive: true, force: true });
    await execFileAsync('mkdir', ['-p', mailConfig]);
    writeFileSync(join(mailConfig, 'main.cf'), 'compatibility_level = 3.6\nsmtp_dns_support_level = dnssec\n');
    const finger = findBinary('posttls-finger') ?? '/usr/sbin/posttls-finger';
    const rows: CompareRow[] = [];
    for (const s of world.scenarios) {
      const check = await inNamespace(resolvConf, { NO_COLOR: '1' }, [process.execPath, CLI_PATH, 'check', '--resolver', world.resolver, '--timeout', '5', '--helo', 'bench.test', '--json', s.domain]);
      const verdict = (() => {
        try {
          return (JSON.parse(check.stdout.trim().split('\n').pop() ?? '{}') as { verdict?: string }).verdict ?? '?';
        } catch {
          return '?';
        }
      })();
      const f = await inNamespace(resolvConf, { MAIL_CONFIG: mailConfig }, [finger, '-c', '-l', 'dane', '-t', '5', '-T', '5', '-P', '/etc/ssl/certs', s.domain]);
      rows.push({ domain: s.domain, expect: s.expect.verdict, check: { ...check, verdict }, finger: { ...f, summary: fingerSummary(`${f.stdout}\n${f.stderr}`) } });
      log(`${s.domain}: check ${check.wallMs} ms (${verdict}), posttls-finger ${f.wallMs} ms`);
    }
    const batchArgs = (concurrency: number) => [
      process.execPath, CLI_PATH, 'check', '--resolver', world.resolver, '--timeout', '5', '--helo', 'bench.test', '--json', '--concurrency', String(concurrency), ...world.scenarios.map((s) => s.domain),
    ];
    const serial = await inNamespace(resolvConf, { NO_COLOR: '1' }, batchArgs(1));
    const batch = await inNamespace(resolvConf, { NO_COLOR: '1' }, batchArgs(8));
    return { rows, batch, serial, world: { resolver: world.resolver } };
  } finally {
    await world.stop();
  }
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : 0;
};

async function main(): Promise<void> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} missing: npm run build`);
  // The lab packages and postfix (for posttls-finger; its service is not started: policy-rc.d).
  await ensureLabPackages({ binaries: BENCH_BINARIES, log });
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`;
  const { rows: scan, kill } = await scanBench();
  console.log(`\n## dane-smtp scan over the big lab (${N} domains) — ${machine}\n`);
  console.log('| run | domains | wall s | domains/s | CPU ms/domain | peak RSS MB | RSS KB/domain | verdicts as designed | DNS cache |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of scan) {
    console.log(`| ${r.label} | ${r.domains} | ${r.wallS.toFixed(1)} | ${r.perSecond.toFixed(1)} | ${r.cpuMsPerDomain.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${r.rssKbPerDomain.toFixed(1)} | ${r.agree}/${r.domains} | ${r.cache} |`);
  }
  if (kill) {
    console.log(`\n### kill and resume (--concurrency 8)\n`);
    console.log('| SIGKILL after results printed | stored before the rerun | checked by the rerun | stored | lost | stored twice | verdicts as designed |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| ${kill.killedAfter} | ${kill.storedBeforeRerun} | ${kill.rerunChecked} | ${kill.stored}/${N} | ${kill.lost} | ${kill.storedTwice} | ${kill.agree}/${kill.stored} |`);
  }

  const cmp = await compareBench();
  console.log(`\n## dane-smtp check vs posttls-finger over the ${cmp.rows.length} lab scenario domains (one process per domain, sequential)\n`);
  console.log('| domain | expected | check ms | check verdict | posttls-finger ms | posttls-finger says |');
  console.log('| --- | --- | ---: | --- | ---: | --- |');
  for (const r of cmp.rows) console.log(`| ${r.domain} | ${r.expect} | ${r.check.wallMs} | ${r.check.verdict} | ${r.finger.wallMs} | ${r.finger.summary.replace(/\|/g, '\\|')} |`);
  const cw = sum(cmp.rows.map((r) => r.check.wallMs));
  const fw = sum(cmp.rows.map((r) => r.finger.wallMs));
  const cc = sum(cmp.rows.map((r) => r.check.cpuMs));
  const fc = sum(cmp.rows.map((r) => r.finger.cpuMs));
  const agree = cmp.rows.filter((r) => r.check.verdict === r.expect).length;
  console.log('\n| | dane-smtp check | posttls-finger | ratio check/finger |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(`| total wall, ${cmp.rows.length} processes | ${(cw / 1000).toFixed(2)} s | ${(fw / 1000).toFixed(2)} s | ${(cw / fw).toFixed(2)} |`);
  console.log(`| median wall per domain | ${median(cmp.rows.map((r) => r.check.wallMs)).toFixed(0)} ms | ${median(cmp.rows.map((r) => r.finger.wallMs)).toFixed(0)} ms | ${(median(cmp.rows.map((r) => r.check.wallMs)) / median(cmp.rows.map((r) => r.finger.wallMs))).toFixed(2)} |`);
  console.log(`| total CPU (user+sys) | ${(cc / 1000).toFixed(2)} s | ${(fc / 1000).toFixed(2)} s | ${(cc / Math.max(1, fc)).toFixed(2)} |`);
  console.log(`| median peak RSS | ${(median(cmp.rows.map((r) => r.check.maxRssKb)) / 1024).toFixed(0)} MB | ${(median(cmp.rows.map((r) => r.finger.maxRssKb)) / 1024).toFixed(0)} MB | |`);
  console.log(`| all ${cmp.rows.length} domains in one check process, one after the other (--concurrency 1) | ${(cmp.serial.wallMs / 1000).toFixed(2)} s wall, ${(cmp.serial.cpuMs / 1000).toFixed(2)} s CPU | | ${(cmp.serial.wallMs / fw).toFixed(2)} |`);
  console.log(`| all ${cmp.rows.length} domains in one check process (concurrency 8) | ${(cmp.batch.wallMs / 1000).toFixed(2)} s wall, ${(cmp.batch.cpuMs / 1000).toFixed(2)} s CPU | | ${(cmp.batch.wallMs / fw).toFixed(2)} |`);
  console.log(`\ncheck verdicts as the scenarios expect: ${agree}/${cmp.rows.length}`);
  const wrongCheck = cmp.rows.filter((r) => r.check.verdict !== r.expect).map((r) => `${r.domain} ${r.check.verdict} (designed: ${r.expect})`);
  if (wrongCheck.length) problems.push(`check: ${wrongCheck.length} verdict(s) not as designed: ${some(wrongCheck)}`);

  if (problems.length) {
    console.error(`\nbench: FAILED\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exitCode = 1;
  }
}

main()
  .then(() => rmSync(work, { recursive: true, force: true }))
  .catch((e: unknown) => {
    rmSync(work, { recursive: true, force: true });
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
