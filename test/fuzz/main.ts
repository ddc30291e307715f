/**
 * Long coverage-guided fuzzing campaigns (test/fuzz/engine.ts) from the compiled tree:
 *
 *   npm run fuzz -- --target dns --runs 1000000
 *   npm run fuzz -- --target all --seconds 300
 *
 * Targets: dns, tlsa-rdata, smtp, policy, material, tlsa-rrset (or all). Inputs that reach
 * new blocks go to a corpus directory outside git (--corpus-dir, default
 * $TMPDIR/dane-smtp-fuzz/<target>/), which the next campaign starts from. A crash (an error the
 * parser's contract does not allow, or a hang) is minimized and written to
 * test/fuzz/corpus/<parser>/crash-<sha1>.<ext>, where test/unit/fuzz/parsers.test.ts replays
 * it; the campaign goes on (each crash signature once) and exits with status 1.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BlockCoverage, fuzz, minimizeCrash } from './engine.js';

const USAGE = `usage: npm run fuzz -- [--target NAME|all] [--runs N] [--seconds S] [--seed N] [--corpus-dir DIR] [--hang-ms MS] [--stop-on-crash]
  --target      dns, tlsa-rdata, smtp, policy, material, tlsa-rrset, x509, certificate, mime or all (default all)
  --runs        mutated inputs per target (default: no limit; then --seconds, default 60, applies)
  --seconds     time per target
  --seed        PRNG seed (default: from the clock, printed)
  --corpus-dir  where new-coverage inputs are kept, one directory per target (default ${join(tmpdir(), 'dane-smtp-fuzz')})
  --hang-ms     an input running longer is a hang (default 5000)
  --uncovered   at the end, list the blocks of the parsers' code seen but never reached`;

function main(): Promise<number> | number {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'all' },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      'corpus-dir': { type: 'string', default: join(tmpdir(), 'dane-smtp-fuzz') },
      'hang-ms': { type: 'string', default: '5000' },
      'stop-on-crash': { type: 'boolean', default: false },
      uncovered: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} ${v}: not a number\n${USAGE}`);
    return n;
  };
  const runs = num(values.runs, 'runs') ?? Number.MAX_SAFE_INTEGER;
  const seconds = num(values.seconds, 'seconds') ?? (values.runs === undefined ? 60 : undefined);
  const seed = num(values.seed, 'seed') ?? Date.now() % 2 ** 32;
  const hangMs = num(values['hang-ms'], 'hang-ms')!;
  return campaign({ target: values.target!, runs, seconds, seed, corpusDir: values['corpus-dir']!, hangMs, stopOnCrash: values['stop-on-crash']!, uncovered: values.uncovered! });
}

async function campaign(o: { target: string; runs: number; seconds: number | undefined; seed: number; corpusDir: string; hangMs: number; stopOnCrash: boolean; uncovered: boolean }): Promise<number> {
  // Block coverage only instruments code compiled after it is enabled: load the parsers now.
  const coverage = new BlockCoverage().start();
  const { TARGETS, ROOT, targetByName, corpusInputs, crashFile } = await import('./targets.js');
  const srcUrls = [join(ROOT, 'src'), join(ROOT, 'dist', 'src')].map((d) => `${pathToFileURL(d).href}/`);
  const filter = (url: string) => srcUrls.some((p) => url.startsWith(p));
  const chosen = o.target === 'all' ? TARGETS : [targetByName(o.target)];
  if (chosen.some((t) => !t)) throw new Error(`unknown target ${o.target}\n${USAGE}`);
  let crashes = 0;
  for (const target of chosen) {
    if (!target) continue;
    const dir = join(o.corpusDir, target.name);
    mkdirSync(dir, { recursive: true });
    const kept = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
    const regressions = corpusInputs(target).map(([, input]) => input);
    const seeds = [...target.seeds(), ...regressions, ...kept];
    console.log(`== ${target.name}: seed ${o.seed}, ${seeds.length} seeds (${regressions.length} from test/fuzz/corpus/${target.corpus}, ${kept.length} from ${dir}), ` +
      `${o.runs === Number.MAX_SAFE_INTEGER ? 'no run limit' : `${o.runs} runs`}${o.seconds !== undefined ? `, ${o.seconds} s` : ''}`);
    const stats = fuzz(
      { name: target.name, run: target.run, seeds, dictionary: target.dictionary, maxLen: target.maxLen },
      {
        runs: o.runs,
        seed: o.seed,
        coverage,
        filter,
        hangMs: o.hangMs,
        stopOnCrash: o.stopOnCrash,
        ...(o.seconds !== undefined ? { maxTimeMs: o.seconds * 1000 } : {}),
        log: (line) => console.log(line),
        onNewInput: (input) => {
          writeFileSync(join(dir, createHash('sha1').update(input).digest('hex')), input);
        },
        onCrash: (crash) => {
          const input = minimizeCrash(target.run, crash);
          const f = crashFile(target, input, `${crash.kind} found by npm run fuzz (seed ${o.seed}): ${crash.signature}`);
          mkdirSync(dirname(f.path), { recursive: true });
          if (!existsSync(f.path)) writeFileSync(f.path, f.content);
          const err = crash.error as Error;
          console.log(`\n** ${crash.kind.toUpperCase()} in ${target.name} after ${crash.atRun} runs: ${crash.signature}\n   input (${input.length} bytes, minimized from ${crash.input.length}) -> ${relative(process.cwd(), f.path)}\n   ${JSON.stringify(input.toString('latin1')).slice(0, 300)}`);
          let e: unknown = err;
          while (e instanceof Error) {
            console.log(`   ${(e.stack ?? String(e)).split('\n').slice(0, 8).join('\n   ')}`);
            e = e.cause;
          }
          console.log('');
        },
      },
    );
    crashes += stats.crashes.length;
    if (o.uncovered) {
      // Blocks V8 reported (in functions that ran) that no input reached, with their code.
      const sources = new Map<string, string>();
      // (Module bodies ran once, at import, before fuzzing: not listed.)
      const missed = coverage.knownBlocks(filter).filter((id) => !stats.covered.has(id) && coverage.block(id)!.start > 0);
      for (const id of missed) {
        const b = coverage.block(id)!;
        if (!sources.has(b.url)) sources.set(b.url, readFileSync(new URL(b.url), 'utf8'));
        const src = sources.get(b.url)!;
        const line = src.slice(0, b.start).split('\n').length;
        const code = src.slice(b.start, b.end).replace(/\s+/g, ' ').slice(0, 100);
        console.log(`   not reached: ${relative(ROOT, new URL(b.url).pathname)}:${line} ${b.fn}: ${code}`);
      }
    }
    console.log(`== ${target.name}: ${stats.runs} runs, ${stats.executions} executions in ${(stats.elapsedMs / 1000).toFixed(1)} s (${stats.execsPerSecond}/s), ` +
      `corpus ${stats.corpusSize} (${stats.newCoverageInputs} new), blocks ${stats.blocks}, crashes ${stats.crashes.length}, coverage takes ${stats.takes} (${Math.round(stats.takeMs)} ms)\n`);
  }
  coverage.stop();
  return crashes > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 2;
}
