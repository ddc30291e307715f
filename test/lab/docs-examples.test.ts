/**
 * Every example in README.md and docs/*.md runs as written, against the lab (issue 14).
 *
 * A world with only the documentation's names (doc-domains.ts: example.org, example.com,
 * example.net under lab TLDs of the lab's own root) is started; each fenced block is then
 * run in a fresh temporary directory inside a private mount namespace whose
 * /etc/resolv.conf names the lab's validating unbound (`unshare -m` + `mount --bind`: the
 * machine's own file is untouched), with `dane-smtp` on PATH (as npm's bin link) and
 * `node_modules/dane-smtp` linked to this repository (as `npm install dane-smtp`):
 *
 * - ```sh blocks with a `dane-smtp …` / `npx dane-smtp …` / `node dist/src/cli/main.js …`
 *   command: one `sh -e` script; exit 0, or the status of an `<!-- exit: N -->` comment
 *   right before the block;
 * - ```console blocks: each `$ ` line is run and its output (stdout and stderr) must be the
 *   lines shown after it, with addresses, digests, dates and TTLs normalized;
 * - ```js / ```mjs blocks: written to a .mjs file and run with node; exit 0 (or `exit: N`);
 * - ```text blocks, and blocks without a language that hold no command: file contents,
 *   output and diagrams, not examples;
 * - `<!-- not-run: why -->` right before a block: not run, listed with the reason.
 * A block that sends mail must bring at least one message to the lab's receivers, over TLS.
 * Any other block (an unknown language, a command without one, an sh block without a dane-smtp command)
 * fails the test: an example the test cannot run must say why.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINDING_CODES } from '../../src/core/finding-codes.js';
import { VERDICTS } from '../../src/core/outcome.js';
import { CLI_PATH, repoRoot } from './cli.js';
import { docDomains } from './doc-domains.js';
import { startWorld, type World } from './world.js';

// ---------------------------------------------------------------------------------------
// Extraction (pure).

export interface DocBlock {
  /** Path relative to the repository, e.g. `docs/cli.md`. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
  /** `<!-- not-run: REASON -->` right before the block. */
  notRun?: string;
  /** `<!-- exit: N -->` right before the block. */
  exit?: number;
}

export type BlockKind = 'sh' | 'console' | 'js' | 'text' | 'not-run' | 'unrunnable';

/** The fenced blocks of a markdown text, with the HTML comments on the lines right before each. */
export function extractBlocks(file: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```\s*([\w-]*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    const block: DocBlock = { file, line: i + 1, lang: (open[1] ?? '').toLowerCase(), body: lines.slice(i + 1, end).join('\n') };
    for (let k = i - 1; k >= 0; k--) {
      const c = /^<!--\s*([\w-]+)\s*:\s*(.*?)\s*-->\s*$/.exec(lines[k] ?? '');
      if (!c) break;
      if (c[1] === 'not-run') block.notRun = c[2] ?? '';
      else if (c[1] === 'exit') block.exit = Number(c[2]);
      else throw new Error(`${file}:${k + 1}: unknown annotation <!-- ${c[1]}: … -->`);
    }
    blocks.push(block);
    i = end;
  }
  return blocks;
}

const CLI_COMMAND = /(^|[\s;&|(`$])((npx\s+)?dane-smtp|node\s+dist\/src\/cli\/main\.js)(\s|$)/;

/** A line of a shell block with a dane-smtp command (comments aside). */
function runsCli(body: string): boolean {
  return body.split('\n').some((l) => !l.trim().startsWith('#') && CLI_COMMAND.test(l));
}

export function kindOf(b: DocBlock): BlockKind {
  if (b.notRun !== undefined) return 'not-run';
  if (['sh', 'shell', 'bash'].includes(b.lang)) return runsCli(b.body) ? 'sh' : 'unrunnable';
  if (b.lang === 'console') return b.body.split('\n').some((l) => l.startsWith('$ ')) ? 'console' : 'unrunnable';
  if (['js', 'mjs', 'javascript'].includes(b.lang)) return 'js';
  if (b.lang === 'text') return 'text';
  // No language: a diagram or file contents is text; a command must say how it runs.
  if (b.lang === '') return runsCli(b.body) || b.body.split('\n').some((l) => l.startsWith('$ ')) ? 'unrunnable' : 'text';
  return 'unrunnable';
}

/** A console block: each `$ ` command with the output lines shown after it. */
export function consoleSteps(body: string): { command: string; output: string[] }[] {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of body.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: [] });
    else steps[steps.length - 1]?.output.push(line);
  }
  return steps;
}

/** What differs from one lab run to the next: loopback addresses, digests, dates, TTLs. */
export function normalize(lines: string[]): string[] {
  const out = lines.map((l) =>
    l
      .replace(/\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g, '<ip>')
      .replace(/\b[0-9a-f]{16,}…?/gi, '<hex>')
      .replace(/\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?/g, '<date>')
      .replace(/\bTTL \d+/g, 'TTL <n>')
      .replace(/\s+$/, ''),
  );
  while (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'), { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.md'))
    .map((d) => `docs/${d.name}`)
    .sort();
  return ['README.md', ...docs];
}

// ---------------------------------------------------------------------------------------

const ROOT = repoRoot();
const blocks = docFiles(ROOT).flatMap((f) => extractBlocks(f, readFileSync(join(ROOT, f), 'utf8')));
const byKind = (k: BlockKind): DocBlock[] => blocks.filter((b) => kindOf(b) === k);
const label = (b: DocBlock): string => `${b.file}:${b.line} (${b.lang || 'no language'})`;

let world: World;
let resolvConf: string;
let binDir: string;
let scratch: string;

beforeAll(async () => {
  world = await startWorld({ scenarios: docDomains });
  scratch = mkdtempSync(join(tmpdir(), 'dane-docs-'));
  resolvConf = join(scratch, 'resolv.conf');
  writeFileSync(resolvConf, `# the lab's validating unbound (docs-examples.test.ts)\nnameserver ${world.resolverAddress}\noptions edns0 trust-ad\n`);
  binDir = join(scratch, 'bin');
  mkdirSync(binDir);
  // What `npm install dane-smtp` puts on PATH, and what `npx dane-smtp` then runs.
  writeFileSync(join(binDir, 'dane-smtp'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(binDir, 'npx'), `#!/bin/sh\n[ "$1" = dane-smtp ] || { echo "npx $1: only dane-smtp in the docs examples" >&2; exit 127; }\nshift\nexec dane-smtp "$@"\n`, { mode: 0o755 });
}, 300_000);

afterAll(async () => {
  await world?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A fresh working directory with the package "installed": node_modules/dane-smtp, nodemailer, and dist for `node dist/…`. */
function workDir(): string {
  const dir = mkdtempSync(join(scratch, 'run-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'dane-smtp'));
  symlinkSync(realpathSync(join(ROOT, 'node_modules', 'nodemailer')), join(dir, 'node_modules', 'nodemailer'));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv in `cwd` inside a private mount namespace whose /etc/resolv.conf is the lab's. */
function inLab(argv: string[], cwd: string, timeoutMs = 90_000): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, NO_COLOR: '1' };
  delete env.DANE_RESOLVER;
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-m', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A block that sends mail (`dane-smtp send`, `deliver(`, `sendMail(`): the lab's receivers must get it, over TLS. */
const SENDS = /dane-smtp send\b|main\.js send\b|\bdeliver\(|\.sendMail\(/;

async function runAndCheckDelivery(b: DocBlock, run: () => Promise<Run>): Promise<Run> {
  const before = world.receivers.messages.length;
  const r = await run();
  if (SENDS.test(b.body) && (b.exit ?? 0) === 0) {
    const got = world.receivers.messages.slice(before);
    expect(got.length, `${label(b)}: no message reached the lab's receivers\n${shown(r)}`).toBeGreaterThan(0);
    expect(got.filter((m) => !m.tls).map((m) => m.receiver), `${label(b)}: delivered without TLS`).toEqual([]);
  }
  return r;
}

const shown = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('the documentation examples', () => {
  it('finds the examples, runs every block it can and lists those it cannot', () => {
    const notRun = byKind('not-run');
    const summary = [
      `${blocks.length} fenced blocks in ${docFiles(ROOT).length} files: ` +
        `${byKind('sh').length} sh, ${byKind('console').length} console, ${byKind('js').length} js run; ` +
        `${byKind('text').length} text; ${notRun.length} marked not-run:`,
      ...notRun.map((b) => `  ${label(b)}: ${b.notRun}`),
    ].join('\n');
    console.log(summary);
    expect(byKind('unrunnable').map((b) => `${label(b)}: mark it <!-- not-run: why --> or make it runnable`)).toEqual([]);
    for (const b of notRun) expect(b.notRun, `${label(b)}: not-run needs a reason`).not.toBe('');
    // The README's own example, with its real output.
    const readmeCheck = byKind('console').filter((b) => b.file === 'README.md' && consoleSteps(b.body).some((s) => s.command === 'dane-smtp check example.org'));
    expect(readmeCheck.length).toBe(1);
    expect(byKind('sh').length + byKind('console').length + byKind('js').length).toBeGreaterThanOrEqual(10);
  });

  it('the README names every verdict, docs/findings.md every finding code', () => {
    const tableCodes = (text: string): string[] => [...text.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1] ?? '');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect([...VERDICTS].filter((v) => !tableCodes(readme).includes(v))).toEqual([]);
    const findings = tableCodes(readFileSync(join(ROOT, 'docs/findings.md'), 'utf8'));
    expect(Object.keys(FINDING_CODES).filter((c) => !findings.includes(c))).toEqual([]);
    expect(findings.filter((c) => !(c in FINDING_CODES))).toEqual([]);
  });

  it('the lab publishes the documentation domains with their designed verdicts', async () => {
    const r = await inLab(['dane-smtp', 'check', '--json', ...docDomains.map((d) => d.domain)], workDir());
    const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { domain: string; verdict: string; host: string | null });
    for (const d of docDomains) {
      const line = got.find((g) => g.domain === d.domain);
      expect([line?.verdict, line?.host], `${d.domain}\n${shown(r)}`).toEqual([d.expect.verdict, d.expect.hosts[0] ?? null]);
    }
  });

  for (const b of byKind('sh')) {
    it(`${label(b)} runs as written`, async () => {
      const dir = workDir();
      writeFileSync(join(dir, 'example.sh'), `${b.body}\n`);
      const r = await runAndCheckDelivery(b, () => inLab(['sh', '-e', 'example.sh'], dir));
      expect(r.code, `${label(b)}\n${b.body}\n${shown(r)}`).toBe(b.exit ?? 0);
    });
  }

  for (const b of byKind('js')) {
    it(`${label(b)} runs as written`, async () => {
      const dir = workDir();
      writeFileSync(join(dir, 'example.mjs'), `${b.body}\n`);
      const r = await runAndCheckDelivery(b, () => inLab([process.execPath, 'example.mjs'], dir));
      expect(r.code, `${label(b)}\n${shown(r)}`).toBe(b.exit ?? 0);
    });
  }

  for (const b of byKind('console')) {
    it(`${label(b)} prints what it shows`, async () => {
      for (const step of consoleSteps(b.body)) {
        const dir = workDir();
        writeFileSync(join(dir, 'example.sh'), `exec 2>&1\n${step.command}\n`);
        const r = await inLab(['sh', 'example.sh'], dir);
        expect(r.code, `${label(b)}: $ ${step.command}\n${shown(r)}`).toBe(b.exit ?? 0);
        expect(normalize(r.stdout.split('\n')), `${label(b)}: $ ${step.command}`).toEqual(normalize(step.output));
      }
    });
  }
});
