/**
 * A small coverage-guided fuzzer with no native addon: V8's own block coverage
 * (node:inspector → Profiler.startPreciseCoverage { callCount, detailed }) is the feedback.
 *
 * Loop (libFuzzer's, simplified): pick a corpus entry, apply 1-5 byte-level mutations
 * (bit flip, byte set, insert/erase/duplicate/shuffle ranges, interesting integers and
 * lengths, ASCII numbers, dictionary tokens, splice with another entry), run the target,
 * read the blocks it reached; an input that reaches a block no earlier input reached
 * joins the corpus. A crash is anything the target throws (the target itself lets its
 * parser's documented errors through), or a hang (a watchdog interrupts the run).
 *
 * Taking coverage costs ~1-2 ms in a big isolate (vitest), a parser run ~10-100 µs, so inputs
 * run in batches with one take per batch; a batch that found something new is split in
 * halves and re-run until the inputs responsible are found (deterministic targets only).
 * Everything is driven by one seeded PRNG: the same seed and budget give the same run.
 */
import { Session } from 'node:inspector';
import vm from 'node:vm';

// ---------------------------------------------------------------- PRNG

/** sfc32: small, fast, good enough, deterministic from a 32-bit seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** An integer in [0, n); 0 when n <= 0. */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

// ---------------------------------------------------------------- coverage

interface V8Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface V8Function {
  functionName: string;
  ranges: V8Range[];
  isBlockCoverage: boolean;
}
interface V8Script {
  scriptId: string;
  url: string;
  functions: V8Function[];
}

/**
 * V8 block coverage for this thread's isolate. V8 reports, per function, its range and the
 * nested ranges whose count differs from their parent's (a branch taken as often as its
 * function is folded into it). So every range ever reported is remembered per function, and
 * a known block counts as reached when the innermost range reported around it has count > 0.
 * Block ids are small integers; a block is (script URL, function start, range start/end).
 *
 * start() must run before the code under test is loaded: functions compiled before precise
 * block coverage was enabled only report function-level counts.
 */
export class BlockCoverage {
  private readonly session = new Session();
  private started = false;
  private readonly ids = new Map<string, number>();
  private readonly blocks: { url: string; fn: string; start: number; end: number }[] = [];
  /** Per function key: the block ranges ever reported, as [start, end, id]. */
  private readonly known = new Map<string, [number, number, number][]>();
  private readonly knownKeys = new Set<string>();
  /** Takes so far and the time they cost. */
  takes = 0;
  takeMs = 0;

  start(): this {
    if (this.started) return this;
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    this.started = true;
    return this;
  }

  stop(): void {
    if (!this.started) return;
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.disable');
    this.session.disconnect();
    this.started = false;
  }

  /** Where a block is: script URL, function name, character offsets in the script. */
  block(id: number): { url: string; fn: string; start: number; end: number } | undefined {
    return this.blocks[id];
  }

  /** The ids of every block seen so far (reached or not) in scripts `filter` accepts. */
  knownBlocks(filter: (url: string) => boolean): number[] {
    return this.blocks.flatMap((b, id) => (filter(b.url) ? [id] : []));
  }

  /**
   * Ids of the blocks executed since the previous take (in scripts `filter` accepts); resets
   * the counts. Blocks of other scripts are read and dropped.
   */
  take(filter: (url: string) => boolean): number[] {
    const t0 = performance.now();
    const result = this.post('Profiler.takePreciseCoverage') as { result: V8Script[] };
    const out: number[] = [];
    for (const script of result.result) {
      if (!filter(script.url)) continue;
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        if (!ranges.some((r) => r.count > 0)) continue;
        const fnKey = `${script.url} ${fn.functionName || '(anonymous)'}@${ranges[0]!.startOffset}`;
        let blocks = this.known.get(fnKey);
        if (!blocks) this.known.set(fnKey, (blocks = []));
        for (const r of ranges) {
          const key = `${fnKey} [${r.startOffset},${r.endOffset})`;
          if (this.knownKeys.has(key)) continue;
          this.knownKeys.add(key);
          let id = this.ids.get(key);
          if (id === undefined) {
            id = this.blocks.length;
            this.blocks.push({ url: script.url, fn: fn.functionName || '(anonymous)', start: r.startOffset, end: r.endOffset });
            this.ids.set(key, id);
          }
          blocks.push([r.startOffset, r.endOffset, id]);
        }
        for (const [start, end, id] of blocks) {
          // Ranges come parent first, sorted by start: the last one around the block is innermost.
          let count = 0;
          for (const r of ranges) if (r.startOffset <= start && end <= r.endOffset) count = r.count;
          if (count > 0) out.push(id);
        }
      }
    }
    this.takes++;
    this.takeMs += performance.now() - t0;
    return out;
  }

  private post(method: string, params?: object): unknown {
    // Same-thread inspector sessions dispatch synchronously: the callback runs before post returns.
    let out: unknown;
    let error: Error | null = null;
    let done = false;
    this.session.post(method, params ?? {}, (err, res) => {
      error = err;
      out = res;
      done = true;
    });
    if (!done) throw new Error(`inspector ${method} did not answer synchronously`);
    if (error) throw error;
    return out;
  }
}

// ---------------------------------------------------------------- mutations

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x40, 0x3f, 0xc0, 0x20, 0x0a, 0x0d, 0x30, 0x39];
const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xffff, 0xc00c, 12, 255, 256, 512, 1232, 4096];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0x7fff, 0xffff];
const ASCII_NUMBERS = [0, 1, 2, 3, 9, 10, 99, 100, 199, 200, 255, 256, 599, 600, 999, 1000, 4096, 65535, 65536, 2147483648, 4294967296];
const LONG_RUNS = [255, 256, 1023, 1024, 4095, 4096, 4097, 8192];

export type Mutator =
  | 'EraseBytes'
  | 'InsertByte'
  | 'InsertRepeatedBytes'
  | 'ChangeByte'
  | 'ChangeBit'
  | 'ShuffleBytes'
  | 'ChangeBinaryInteger'
  | 'ChangeASCIIInteger'
  | 'CopyPart'
  | 'CrossOver'
  | 'DictInsert'
  | 'DictOverwrite'
  | 'Truncate';

const MUTATORS: readonly Mutator[] = [
  'EraseBytes', 'InsertByte', 'InsertRepeatedBytes', 'ChangeByte', 'ChangeBit', 'ShuffleBytes', 'ChangeBinaryInteger',
  'ChangeASCIIInteger', 'CopyPart', 'CrossOver', 'DictInsert', 'DictOverwrite', 'Truncate',
];

function writeInt(b: Buffer, pos: number, width: 1 | 2 | 4, value: number, le: boolean): void {
  const v = value >>> 0;
  for (let i = 0; i < width; i++) {
    const shift = 8 * (le ? i : width - 1 - i);
    b[pos + i] = Math.floor(v / 2 ** shift) & 0xff;
  }
}

function readInt(b: Buffer, pos: number, width: 1 | 2 | 4, le: boolean): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + b[pos + (le ? width - 1 - i : i)]!;
  return v;
}

/** One mutation; undefined when it does not apply to this input. */
function mutateOnce(rng: Rng, data: Buffer, kind: Mutator, other: () => Buffer, dictionary: readonly Buffer[], maxLen: number): Buffer | undefined {
  const size = data.length;
  const pos = (n = size) => rng.below(n);
  switch (kind) {
    case 'EraseBytes': {
      if (size < 2) return undefined;
      const n = 1 + rng.below(rng.chance(4) ? size >> 1 : Math.min(8, size - 1));
      const at = pos(size - n + 1);
      return Buffer.concat([data.subarray(0, at), data.subarray(at + n)]);
    }
    case 'InsertByte': {
      const at = pos(size + 1);
      return Buffer.concat([data.subarray(0, at), Buffer.from([rng.chance(2) ? rng.pick(INTERESTING_8) : rng.below(256)]), data.subarray(at)]);
    }
    case 'InsertRepeatedBytes': {
      const n = rng.chance(16) ? rng.pick(LONG_RUNS) : 3 + rng.below(126);
      const byte = rng.chance(2) ? rng.pick([0x00, 0xff, 0x41, 0x20, 0x30]) : rng.below(256);
      const at = pos(size + 1);
      return Buffer.concat([data.subarray(0, at), Buffer.alloc(Math.min(n, Math.max(0, maxLen - size)), byte), data.subarray(at)]);
    }
    case 'ChangeByte': {
      if (size === 0) return undefined;
      const b = Buffer.from(data);
      b[pos()] = rng.below(256);
      return b;
    }
    case 'ChangeBit': {
      if (size === 0) return undefined;
      const b = Buffer.from(data);
      const at = pos();
      b[at] = b[at]! ^ (1 << rng.below(8));
      return b;
    }
    case 'ShuffleBytes': {
      if (size < 2) return undefined;
      const n = 2 + rng.below(Math.min(8, size) - 1);
      const at = pos(size - n + 1);
      const b = Buffer.from(data);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.below(i + 1);
        const t = b[at + i]!;
        b[at + i] = b[at + j]!;
        b[at + j] = t;
      }
      return b;
    }
    case 'ChangeBinaryInteger': {
      const width = rng.pick([1, 2, 2, 4] as const);
      if (size < width) return undefined;
      const at = pos(size - width + 1);
      const le = rng.chance(4); // network byte order mostly
      const b = Buffer.from(data);
      let v: number;
      const r = rng.below(4);
      if (r === 0) v = readInt(b, at, width, le) + rng.below(33) - 16; // small step
      else if (r === 1) v = size - at - width + rng.below(3) - 1; // a length up to the end
      else if (r === 2) v = rng.below(size + 1); // an offset (compression pointers, positions)
      else v = rng.pick(width === 1 ? INTERESTING_8 : width === 2 ? INTERESTING_16 : INTERESTING_32);
      if (r === 2 && width === 2 && rng.chance(2)) v = 0xc000 | (v & 0x3fff);
      writeInt(b, at, width, v < 0 ? v + 2 ** (8 * width) : v, le);
      return b;
    }
    case 'ChangeASCIIInteger': {
      if (size === 0) return undefined;
      let start = pos();
      while (start < size && (data[start]! < 0x30 || data[start]! > 0x39)) start++;
      if (start >= size) return undefined;
      let end = start;
      while (end < size && data[end]! >= 0x30 && data[end]! <= 0x39 && end - start < 18) end++;
      const old = Number(data.subarray(start, end).toString('latin1'));
      const choices = [old + 1, old - 1, old * 2, Math.floor(old / 2), rng.below(1000), rng.pick(ASCII_NUMBERS)];
      const v = Math.max(0, rng.pick(choices));
      return Buffer.concat([data.subarray(0, start), Buffer.from(String(v), 'latin1'), data.subarray(end)]);
    }
    case 'CopyPart': {
      if (size < 1) return undefined;
      const from = pos();
      const n = 1 + rng.below(Math.min(size - from, rng.chance(4) ? size : 32));
      const part = data.subarray(from, from + n);
      const to = pos(size + 1);
      if (rng.chance(2)) return Buffer.concat([data.subarray(0, to), part, data.subarray(to)]); // duplicate a range
      const b = Buffer.from(data);
      part.copy(b, Math.min(to, size - 1));
      return b;
    }
    case 'CrossOver': {
      const o = other();
      if (o.length === 0) return undefined;
      const r = rng.below(3);
      const oFrom = rng.below(o.length);
      const oN = 1 + rng.below(o.length - oFrom);
      const at = pos(size + 1);
      if (r === 0) return Buffer.concat([data.subarray(0, at), o.subarray(oFrom)]); // splice: head of one, tail of another
      if (r === 1) return Buffer.concat([data.subarray(0, at), o.subarray(oFrom, oFrom + oN), data.subarray(at)]); // insert a part
      const b = Buffer.from(data);
      o.subarray(oFrom, oFrom + Math.min(oN, size - at)).copy(b, at); // overwrite with a part
      return b;
    }
    case 'DictInsert':
    case 'DictOverwrite': {
      if (dictionary.length === 0) return undefined;
      const token = rng.pick(dictionary);
      const at = pos(size + 1);
      if (kind === 'DictInsert' || at + token.length > size) return Buffer.concat([data.subarray(0, at), token, data.subarray(at)]);
      const b = Buffer.from(data);
      token.copy(b, at);
      return b;
    }
    case 'Truncate': {
      if (size === 0) return undefined;
      return data.subarray(0, pos());
    }
  }
}

/** 1-5 stacked mutations (libFuzzer's default depth), the result capped at maxLen bytes. */
export function mutate(rng: Rng, data: Buffer, other: () => Buffer, dictionary: readonly Buffer[], maxLen: number): { data: Buffer; steps: Mutator[] } {
  let b = data;
  const steps: Mutator[] = [];
  const depth = 1 + rng.below(5);
  for (let tries = 0; steps.length < depth && tries < depth * 4; tries++) {
    const kind = rng.pick(MUTATORS);
    const m = mutateOnce(rng, b, kind, other, dictionary, maxLen);
    if (m === undefined) continue;
    b = m.length > maxLen ? m.subarray(0, maxLen) : m;
    steps.push(kind);
  }
  if (steps.length === 0) b = Buffer.from([rng.below(256)]);
  return { data: b === data ? Buffer.from(b) : b, steps };
}

// ---------------------------------------------------------------- the loop

export interface EngineTarget {
  name: string;
  /** Runs one input; throws only when the target's contract is broken (a crash). */
  run(input: Buffer): void;
  seeds: readonly Buffer[];
  dictionary?: readonly Buffer[];
  maxLen: number;
}

export interface Crash {
  kind: 'crash' | 'hang';
  input: Buffer;
  error: unknown;
  /** The error's first line and where it was thrown: the same bug gives the same signature. */
  signature: string;
  atRun: number;
}

export interface FuzzOptions {
  /** Mutated inputs to run (seeds and re-runs not counted). */
  runs: number;
  seed: number;
  /** The feedback; without it the corpus never grows (a purely random mutational fuzzer). */
  coverage?: BlockCoverage;
  /** Which scripts count (coverage URLs). */
  filter?: (url: string) => boolean;
  /** Stop after this long (ms), even before `runs`. */
  maxTimeMs?: number;
  /** A run longer than this is a hang (a watchdog interrupts it). 0: no watchdog. */
  hangMs?: number;
  /** Largest batch between two coverage takes. */
  maxBatch?: number;
  /** Stop at the first crash (else go on; each signature is reported once). */
  stopOnCrash?: boolean;
  onNewInput?(input: Buffer, newBlocks: number): void;
  onCrash?(crash: Crash): void;
  /** Progress lines (libFuzzer-like) every `statusEveryMs`. */
  log?(line: string): void;
  statusEveryMs?: number;
}

export interface FuzzStats {
  target: string;
  runs: number;
  /** Target executions including seeds and the re-runs that locate new coverage. */
  executions: number;
  corpusSize: number;
  seeds: number;
  blocks: number;
  /** Mutated inputs that reached a new block (and joined the corpus). */
  newCoverageInputs: number;
  crashes: Crash[];
  /** The blocks reached. */
  covered: Set<number>;
  elapsedMs: number;
  execsPerSecond: number;
  takes: number;
  takeMs: number;
}

const WATCHDOG = new vm.Script('globalThis.__daneSmtpFuzzStep()', { filename: 'fuzz-watchdog.js' });

export function signatureOf(kind: Crash['kind'], error: unknown): string {
  if (kind === 'hang') return 'hang';
  const e = error as Error | undefined;
  // The first stack frame of the innermost cause (check helpers wrap the real error).
  let inner: unknown = e;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  const frame = inner instanceof Error ? (inner.stack ?? '').split('\n').find((l) => l.trim().startsWith('at ')) : undefined;
  const msg = (inner instanceof Error ? `${inner.name}: ${inner.message}` : String(inner)).split('\n')[0]!.replace(/\d+/g, 'N');
  return `${msg} ${frame?.trim().replace(/:\d+:\d+\)?$/, '') ?? ''}`.trim();
}

export function fuzz(target: EngineTarget, options: FuzzOptions): FuzzStats {
  const rng = new Rng(options.seed);
  const coverage = options.coverage;
  const filter = options.filter ?? (() => true);
  const hangMs = options.hangMs ?? 0;
  const maxBatch = options.maxBatch ?? 512;
  const dictionary = target.dictionary ?? [];
  const corpus: Buffer[] = [];
  const seen = new Set<number>();
  const crashes: Crash[] = [];
  const signatures = new Set<string>();
  const t0 = performance.now();
  const takes0 = coverage?.takes ?? 0;
  const takeMs0 = coverage?.takeMs ?? 0;
  let runs = 0;
  let executions = 0;
  let newCoverageInputs = 0;
  let stop = false;
  let lastStatus = t0;

  const take = (): number[] => (coverage ? coverage.take(filter) : []);
  const commit = (ids: number[]): number => {
    let n = 0;
    for (const id of ids) if (!seen.has(id)) (seen.add(id), n++);
    return n;
  };
  const anyNew = (ids: number[]): boolean => ids.some((id) => !seen.has(id));

  const report = (kind: Crash['kind'], input: Buffer, error: unknown): void => {
    const signature = signatureOf(kind, error);
    if (options.stopOnCrash) stop = true;
    if (signatures.has(signature)) return;
    signatures.add(signature);
    const crash: Crash = { kind, input: Buffer.from(input), error, signature, atRun: runs };
    crashes.push(crash);
    options.onCrash?.(crash);
  };

  /** The input being run (for the watchdog). */
  let current: Buffer | undefined;
  const execute = (inputs: Buffer[]): void => {
    for (const input of inputs) {
      executions++;
      current = input;
      try {
        target.run(input);
      } catch (e) {
        report('crash', input, e);
      }
      current = undefined;
    }
  };

  /**
   * Runs a batch and keeps the inputs that reach new blocks: a batch that did is split in
   * halves. The first half is run again; the blocks it does not explain belong to the second
   * half, which needs no run of its own (only its halves do), and when it explains them all
   * the second half has nothing new. About log2(batch) + 1 takes per new input.
   * `ids`: the blocks of `inputs`, when already known.
   */
  const evaluate = (inputs: Buffer[], mutated: boolean, ids?: number[]): boolean => {
    if (!coverage) {
      execute(inputs);
      return false;
    }
    if (!ids) {
      execute(inputs);
      ids = take();
    }
    if (!anyNew(ids)) return false;
    if (inputs.length === 1) {
      const n = commit(ids);
      corpus.push(inputs[0]!);
      if (mutated) {
        newCoverageInputs++;
        options.onNewInput?.(inputs[0]!, n);
      }
      return true;
    }
    const half = inputs.length >> 1;
    evaluate(inputs.slice(0, half), mutated);
    if (anyNew(ids)) evaluate(inputs.slice(half), mutated, ids);
    return true;
  };

  take(); // flush whatever ran before
  const seedList: Buffer[] = [];
  const seedSet = new Set<string>();
  for (const s of target.seeds) {
    const input = s.length > target.maxLen ? s.subarray(0, target.maxLen) : s;
    const key = input.toString('latin1');
    if (seedSet.has(key)) continue;
    seedSet.add(key);
    seedList.push(input);
  }
  let seedIndex = 0;

  let batch = 1;
  const deadline = options.maxTimeMs ? t0 + options.maxTimeMs : Infinity;
  const other = () => rng.pick(corpus);
  const done = () => stop || (seedIndex >= seedList.length && runs >= options.runs) || performance.now() > deadline;
  const step = (): void => {
    if (seedIndex < seedList.length) {
      // The seeds first (all join the corpus), 64 at a time: one take for their blocks.
      const seeds = seedList.slice(seedIndex, seedIndex + 64);
      seedIndex += seeds.length;
      execute(seeds);
      commit(take());
      corpus.push(...seeds);
      return;
    }
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    const n = Math.min(batch, options.runs - runs);
    const inputs: Buffer[] = [];
    for (let k = 0; k < n; k++) {
      // Newer entries are the frontier: pick among the last 16 a quarter of the time.
      const parent = corpus.length > 16 && rng.chance(4) ? corpus[corpus.length - 1 - rng.below(16)]! : rng.pick(corpus);
      inputs.push(mutate(rng, parent, other, dictionary, target.maxLen).data);
    }
    runs += n;
    const found = evaluate(inputs, true);
    batch = found ? Math.max(1, batch >> 1) : Math.min(maxBatch, batch * 2);
    const now = performance.now();
    if (options.log && now - lastStatus >= (options.statusEveryMs ?? 10_000)) {
      lastStatus = now;
      options.log(`#${runs}\texecs: ${executions}\tcorpus: ${corpus.length}\tblocks: ${seen.size}\texec/s: ${Math.round(executions / ((now - t0) / 1000))}\tcrashes: ${crashes.length}`);
    }
  };

  if (hangMs <= 0) {
    while (!done()) step();
  } else {
    // One watchdog (a vm timeout: V8 TerminateExecution, which no try/catch stops) per chunk
    // of batches, not per input (starting one costs ~0.3 ms). A chunk ends by itself `hangMs`
    // before its timeout, so when the watchdog fires, the input running has run >= hangMs.
    const chunkMs = Math.max(1000, 4 * hangMs);
    const g = globalThis as { __daneSmtpFuzzStep?: () => void };
    while (!done()) {
      const chunkStart = performance.now();
      g.__daneSmtpFuzzStep = () => {
        while (!done() && performance.now() - chunkStart < chunkMs - hangMs) step();
      };
      try {
        WATCHDOG.runInThisContext({ timeout: chunkMs });
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT' || !current) throw e;
        const suspect = current;
        current = undefined;
        take(); // the interrupted batch is dropped, its counts too
        // Alone, under a watchdog of hangMs: a hang, or just a slow chunk?
        g.__daneSmtpFuzzStep = () => execute([suspect]);
        try {
          WATCHDOG.runInThisContext({ timeout: hangMs });
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
          current = undefined;
          report('hang', suspect, new Error(`no result after ${hangMs} ms`));
        }
        take();
        batch = 1;
      }
    }
    delete g.__daneSmtpFuzzStep;
  }
  const elapsedMs = performance.now() - t0;
  return {
    target: target.name,
    runs,
    executions,
    corpusSize: corpus.length,
    seeds: seedList.length,
    blocks: seen.size,
    newCoverageInputs,
    crashes,
    covered: seen,
    elapsedMs,
    execsPerSecond: Math.round(executions / (elapsedMs / 1000)),
    takes: (coverage?.takes ?? 0) - takes0,
    takeMs: (coverage?.takeMs ?? 0) - takeMs0,
  };
}

/**
 * A smaller input with the same crash signature: erase ranges (halving their size down to
 * one byte) while the crash stays. At most `maxExecs` runs.
 */
export function minimizeCrash(run: (input: Buffer) => void, crash: Crash, maxExecs = 2000): Buffer {
  if (crash.kind !== 'crash') return crash.input;
  let best = crash.input;
  let execs = 0;
  const same = (input: Buffer): boolean => {
    execs++;
    try {
      run(input);
      return false;
    } catch (e) {
      return signatureOf('crash', e) === crash.signature;
    }
  };
  for (let chunk = best.length >> 1; chunk >= 1 && execs < maxExecs; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.length && execs < maxExecs; ) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
      if (same(candidate)) best = candidate;
      else at += chunk;
    }
  }
  return best;
}
