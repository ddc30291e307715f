/**
 * The package as a user installs it (the build in dist/: `npm run build` first, as
 * `npm run test:unit` does): what `npm pack` ships, `require('dane-smtp')` from CommonJS
 * (require(esm), Node 20.19+, 22, 24) and `import` from ESM through "exports", and an
 * install without better-sqlite3 (an optional peer dependency): everything but scan and
 * report works, and those two say in one line what to install.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; main: string; types: string };
const dir = mkdtempSync(join(tmpdir(), 'package-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function node(args: string[], cwd: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let packed: string[] = [];
beforeAll(() => {
  if (!existsSync(join(root, 'dist/src/index.js'))) throw new Error('no build in dist/: run `npm run build` first (npm run test:unit does)');
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  packed = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
});

describe('npm pack', () => {
  it('ships only the build (JavaScript and declarations), package.json, README.md and LICENSE', () => {
    const outside = packed.filter((p) => !p.startsWith('dist/src/'));
    expect(outside.sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    const odd = packed.filter((p) => p.startsWith('dist/src/') && !/\.(js|d\.ts)$/.test(p));
    expect(odd, 'no source maps (their sources are not shipped), no stray files').toEqual([]);
    for (const needed of [pkg.main, pkg.types, ...Object.values(pkg.bin)]) expect(packed).toContain(needed.replace(/^\.\//, ''));
    // Each built file has its source (npm pack and publish rebuild dist first: the prepack script).
    const stale = packed.filter((p) => p.startsWith('dist/src/') && !existsSync(join(root, p.replace(/^dist\//, '').replace(/(\.d\.ts|\.js)$/, '.ts'))));
    expect(stale, 'a stale build in dist/: rm -rf dist && npm run build').toEqual([]);
  });
});

describe('"exports"', () => {
  beforeAll(() => {
    mkdirSync(join(dir, 'user/node_modules'), { recursive: true });
    symlinkSync(root, join(dir, 'user/node_modules/dane-smtp'), 'dir');
  });

  it('require() from CommonJS gets the library (require(esm)) and package.json', () => {
    writeFileSync(
      join(dir, 'user/a.cjs'),
      "const m = require('dane-smtp');\nconst p = require('dane-smtp/package.json');\nconsole.log(JSON.stringify({ check: typeof m.check, deliver: typeof m.deliver, transport: typeof m.daneTransport, VERSION: m.VERSION, version: p.version }));\n",
    );
    const r = node(['a.cjs'], join(dir, 'user'));
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ check: 'function', deliver: 'function', transport: 'function', VERSION: pkg.version, version: pkg.version });
  });

  it('import from ESM gets the same', () => {
    writeFileSync(join(dir, 'user/b.mjs'), "import { check, VERSION } from 'dane-smtp';\nimport * as m from 'dane-smtp';\nconsole.log(JSON.stringify({ check: typeof check, VERSION, same: m.check === check }));\n");
    const r = node(['b.mjs'], join(dir, 'user'));
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ check: 'function', VERSION: pkg.version, same: true });
  });
});

describe('an install without better-sqlite3', () => {
  // The packed files, with the one runtime dependency (commander) beside them.
  const app = join(dir, 'app');
  const installed = join(app, 'node_modules/dane-smtp');
  beforeAll(() => {
    for (const p of packed) {
      mkdirSync(dirname(join(installed, p)), { recursive: true });
      cpSync(join(root, p), join(installed, p));
    }
    symlinkSync(realpathSync(join(root, 'node_modules/commander')), join(app, 'node_modules/commander'), 'dir');
    expect(() => createRequire(join(installed, 'package.json')).resolve('better-sqlite3'), 'better-sqlite3 must not be reachable from the copy').toThrow();
  });
  const cli = () => join(installed, Object.values(pkg.bin)[0]!);

  it('the library loads from CommonJS and ESM; the CLI runs (--version, check --help)', () => {
    writeFileSync(join(app, 'a.cjs'), "const m = require('dane-smtp');\nconsole.log(typeof m.check, m.VERSION);\n");
    writeFileSync(join(app, 'b.mjs'), "import { check, VERSION } from 'dane-smtp';\nconsole.log(typeof check, VERSION);\n");
    for (const f of ['a.cjs', 'b.mjs']) {
      const r = node([f], app);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(`function ${pkg.version}\n`);
    }
    expect(node([cli(), '--version'], app)).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    expect(node([cli(), 'check', '--help'], app).code).toBe(0);
  });

  it('scan and report: one line saying what to install, exit 69, no stack trace', () => {
    writeFileSync(join(app, 'list.txt'), 'example.test\n');
    const scan = node([cli(), 'scan', '--resolver', '127.0.0.1:1', '--helo', 'client.test', '--out', 'scan.sqlite', 'list.txt'], app);
    expect(scan).toMatchObject({ code: 69, out: '', err: 'dane-smtp: scan needs the better-sqlite3 package: npm install better-sqlite3\n' });
    expect(existsSync(join(app, 'scan.sqlite'))).toBe(false);
    const report = node([cli(), 'report', 'scan.sqlite'], app);
    expect(report).toMatchObject({ code: 69, err: 'dane-smtp: report needs the better-sqlite3 package: npm install better-sqlite3\n' });
  });
});
