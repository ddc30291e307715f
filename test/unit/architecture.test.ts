/**
 * docs/ARCHITECTURE.md as rules the code must keep: no import cycle anywhere in src/,
 * imports point down the layers (edges → engine → core → below), and src/core is pure
 * (no sockets, files, processes or clock). Read from the sources, type imports included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(process.cwd(), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const IMPORT = /(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;
const files = sources(SRC);
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));

/** Relative imports of a file, as repository paths of .ts files; bare ones (node:, packages) apart. */
function imports(file: string): { local: string[]; bare: string[] } {
  const local: string[] = [];
  const bare: string[] = [];
  for (const m of text.get(file)!.matchAll(IMPORT)) {
    const spec = m[1]!;
    if (spec.startsWith('.')) local.push(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
    else bare.push(spec);
  }
  return { local, bare };
}

const rel = (f: string) => relative(SRC, f);

/** The layer of a module: lower numbers may not import higher ones. */
function layer(file: string): number {
  const r = rel(file);
  if (r.startsWith('core/')) return 1;
  if (r.startsWith('engine/')) return 2;
  if (r.startsWith('scan/') || r.startsWith('tools/')) return 3;
  if (r.startsWith('cli/') || r === 'api.ts' || r === 'index.ts' || r.startsWith('nodemailer/')) return 4;
  return 0; // below: dns, x509, smtp, policy, errors
}

describe('layers (docs/ARCHITECTURE.md)', () => {
  it('no import cycle in src/', () => {
    const graph = new Map(files.map((f) => [f, imports(f).local.filter((t) => text.has(t))]));
    const cycles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f)!) {
        if (state.get(t) === 'open') cycles.push(stack.slice(stack.indexOf(t)).map(rel));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('imports point down: below ← core ← engine ← scan, tools ← cli, library', () => {
    const upward = files.flatMap((f) => imports(f).local.filter((t) => text.has(t) && layer(t) > layer(f)).map((t) => `${rel(f)} → ${rel(t)}`));
    expect(upward).toEqual([]);
  });

  it('src/core is pure: no sockets, files, processes, timers or clock', () => {
    const impure = files
      .filter((f) => layer(f) === 1)
      .flatMap((f) => {
        const found = imports(f).bare.filter((b) => /^node:(fs|net|tls|dgram|child_process|os|timers)/.test(b)).map((b) => `${rel(f)} imports ${b}`);
        if (/new Date\(\)|Date\.now\(\)|setTimeout|setInterval|process\./.test(text.get(f)!)) found.push(`${rel(f)} reads the clock or the process`);
        return found;
      });
    expect(impure).toEqual([]);
  });

  it('the control: the rules see a cycle and an upward import when there is one', () => {
    // Guard against a regex that matches nothing: src/engine imports src/core.
    expect(files.some((f) => layer(f) === 2 && imports(f).local.some((t) => layer(t) === 1))).toBe(true);
  });
});
