/**
 * Coverage-guided fuzzing of every parser (test/fuzz/engine.ts: V8 block coverage through
 * node:inspector, libFuzzer-style byte mutations), a fixed budget and seed per target.
 * A crash (an error the parser's contract does not allow, or a hang) is written to
 * test/fuzz/corpus/<parser>/crash-<sha1>.<ext>, where fuzz-parsers.test.ts replays it, and
 * fails the test. FUZZ_RUNS=n changes the budget; `npm run fuzz` runs long campaigns.
 *
 * The self-test first shows that the guidance is real: a crash behind four magic bytes is
 * found with coverage feedback and not without it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCoverage, fuzz, type FuzzStats } from '../../fuzz/engine.js';

type Targets = typeof import('../../fuzz/targets.js');
type Toy = typeof import('../../fuzz/toy-target.js');

const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || 4000;
const SEED = 0x7672_0100;
const ROOT = join(import.meta.dirname, '..', '..', '..');
const SRC = pathToFileURL(join(ROOT, 'src')).href + '/';
const TOY = pathToFileURL(join(ROOT, 'test', 'fuzz', 'toy-target.ts')).href;

const coverage = new BlockCoverage();
let targets: Targets;
let toy: Toy;

beforeAll(async () => {
  // Block coverage only instruments code compiled after it is enabled: import the parsers now.
  coverage.start();
  targets = await import('../../fuzz/targets.js');
  toy = await import('../../fuzz/toy-target.js');
});
afterAll(() => coverage.stop());

const line = (s: FuzzStats) =>
  `${s.target.padEnd(10)} runs ${s.runs}  execs ${s.executions} (${s.execsPerSecond}/s)  corpus ${s.corpusSize} (${s.seeds} seeds + ${s.newCoverageInputs} new-coverage inputs)  blocks ${s.blocks}  takes ${s.takes} (${Math.round(s.takeMs)} ms)`;

describe('coverage-guided engine self-test', () => {
  const magic = (guided: boolean) =>
    fuzz(
      { name: guided ? 'magic' : 'magic-rnd', run: (b) => toy.magicBytes(b), seeds: [Buffer.from('AAAA')], maxLen: 16 },
      { runs: 100_000, seed: SEED, ...(guided ? { coverage, filter: (url: string) => url === TOY } : {}), stopOnCrash: true },
    );

  it('block coverage of the executed (vitest-transformed) modules is visible', () => {
    toy.magicBytes(Buffer.from('FUxx'));
    const ids = coverage.take((url) => url === TOY);
    // The function, the length check's block and the first comparison's block at least.
    expect(ids.length).toBeGreaterThanOrEqual(3);
    targets.checkDnsMessage(targets.dnsSeedMessages()[0]!);
    const src = coverage.take((url) => url.startsWith(SRC));
    expect(src.length).toBeGreaterThan(20);
  });

  it('finds four magic bytes with coverage feedback, not without', () => {
    const guided = magic(true);
    const random = magic(false);
    console.log(`guided: ${guided.crashes.length ? `found after ${guided.crashes[0]!.atRun} runs` : 'not found'} (corpus ${guided.corpusSize}, blocks ${guided.blocks}); ` +
      `unguided: ${random.crashes.length ? `found after ${random.crashes[0]!.atRun} runs` : `not found in ${random.runs} runs`}`);
    expect(guided.crashes.map((c) => c.input.subarray(0, 4).toString('latin1'))).toEqual(['FUZZ']);
    expect(guided.newCoverageInputs).toBeGreaterThanOrEqual(3); // one per byte learnt
    expect(random.crashes).toEqual([]);
  });

  it('reports an input that never returns as a hang (the watchdog interrupts it)', () => {
    const stats = fuzz(
      { name: 'hang', run: (b) => toy.hangsOnHang(b), seeds: [Buffer.from('HANX'), Buffer.from('HANG')], maxLen: 16 },
      { runs: 100, seed: SEED, coverage, filter: (url: string) => url === TOY, hangMs: 100 },
    );
    expect(stats.crashes.map((c) => [c.kind, c.input.toString('latin1')])).toEqual([['hang', 'HANG']]);
    expect(stats.runs).toBe(100); // and fuzzing went on
  });
});

describe(`coverage-guided fuzzing of the parsers (${RUNS} runs per target, seed ${SEED.toString(16)})`, () => {
  for (const name of ['dns', 'tlsa-rdata', 'smtp', 'policy', 'material', 'tlsa-rrset', 'x509', 'certificate', 'mime']) {
    it(name, () => {
      const target = targets.targetByName(name)!;
      const seeds = [...target.seeds(), ...targets.corpusInputs(target).map(([, input]) => input)];
      const written: string[] = [];
      const stats = fuzz(
        { name, run: target.run, seeds, dictionary: target.dictionary, maxLen: target.maxLen },
        {
          runs: RUNS,
          seed: SEED,
          coverage,
          filter: (url) => url.startsWith(SRC),
          hangMs: 5000,
          stopOnCrash: true,
          onCrash: (c) => {
            const f = targets.crashFile(target, c.input, `${c.kind} found by test/unit/fuzz/coverage-guided.test.ts: ${c.signature}`);
            mkdirSync(dirname(f.path), { recursive: true });
            writeFileSync(f.path, f.content);
            written.push(`${f.path}: ${c.signature}\n${(c.error as Error)?.stack ?? c.error}`);
          },
        },
      );
      console.log(line(stats));
      expect(written).toEqual([]);
      expect(stats.blocks).toBeGreaterThan(20);
    });
  }
});
