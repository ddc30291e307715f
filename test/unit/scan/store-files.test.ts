/**
 * Scan files as an operator meets them: one writer per scan file (a second scan refused, a kill -9
 * lock), files that are not scan files, an --out that cannot be written, damaged or special files
 * (a usage error, exit 64, not a temporary failure).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { captureStderr, captureStdout } from '../../support/capture.js';
import { main } from '../../../src/cli/program.js';
import { runReport } from '../../../src/cli/scan-actions.js';
import { parseDomainList } from '../../../src/scan/input.js';
import { ScanStore, StoreError } from '../../../src/scan/store.js';
import { result, times } from '../../support/scan-files.js';

const dir = mkdtempSync(join(tmpdir(), 'scan-review-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => vi.restoreAllMocks());

let n = 0;

const file = () => join(dir, `r${++n}.sqlite`);

function storeError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StoreError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toMatch(/\n/);
}

/** A real scan file of 400 rows whose middle pages are then overwritten (the header stays valid). */
function damagedScanFile(): string {
  const f = file();
  const s = ScanStore.open(f);
  for (let i = 0; i < 400; i++) s.put({ ...result(`d${i}.example`), reason: 'r'.repeat(200) }, times);
  s.close();
  const size = statSync(f).size;
  const fd = openSync(f, 'r+');
  writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(size / 2 / 4096) * 4096);
  closeSync(fd);
  return f;
}

describe('scan file: one writer per scan file', () => {
  it('a second scan on the same file is refused with one clear line; a reader (report) is not', () => {
    const f = file();
    const first = ScanStore.open(f);
    first.put(result('a.example'), times);
    storeError(() => ScanStore.open(f), /is being written by another scan .*-lock.*another --out/);
    const reader = ScanStore.open(f, { readonly: true });
    expect(reader.count()).toBe(1);
    reader.close();
    first.close();
    expect(existsSync(`${f}-lock`)).toBe(false);
    const again = ScanStore.open(f); // free again after close
    expect(again.count()).toBe(1);
    again.close();
  });

  it('the lock of a scan killed with kill -9 is not stale', async () => {
    const f = file();
    ScanStore.open(f).close();
    const storeJs = resolve('dist/src/scan/store.js');
    // Held in a global: an unreferenced store may be collected, and its lock with it (seen on Node 22).
    const script = `const { ScanStore } = await import(${JSON.stringify(storeJs)}); globalThis.held = ScanStore.open(${JSON.stringify(f)}); console.log('locked'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    storeError(() => ScanStore.open(f), /being written by another scan/);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const s = ScanStore.open(f);
    s.close();
  });

  it('scan --out on a file being written: exit 64, nothing checked', async () => {
    const f = file();
    const holder = ScanStore.open(f);
    const list = join(dir, 'list.txt');
    writeFileSync(list, 'a.example\n');
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'scan', list, '--resolver', '127.0.0.1:9', '--out', f, '--no-progress'])).toBe(64);
    expect(err.text()).toMatch(/^dane-smtp: .*is being written by another scan/);
    expect(err.text().trim().split('\n')).toHaveLength(1);
    holder.close();
  });
});

describe('scan file: files that are not scan files, an --out that cannot be written', () => {
  it('report on an SQLite file of something else, a text file, a missing file: exit 64, one line', async () => {
    const other = file();
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    const text = join(dir, 'domains.txt');
    writeFileSync(text, 'example.com\n');
    for (const [f, re] of [
      [other, /is not a dane-smtp scan file/],
      [text, /file is not a database/],
      [join(dir, 'missing.sqlite'), /no such file/],
    ] as const) {
      expect(() => runReport(f, { maxNotices: '0', notices: true })).toThrow(re);
      const err = captureStderr();
      expect(await main(['node', 'dane-smtp', 'report', f])).toBe(64);
      expect(err.text().trim().split('\n')).toHaveLength(1);
      vi.restoreAllMocks();
    }
  });

  it('scan --out naming the input list (a text file) is refused and the list is left as it was', async () => {
    const list = join(dir, 'list2.txt');
    writeFileSync(list, 'a.example\nb.example\n');
    captureStderr();
    expect(await main(['node', 'dane-smtp', 'scan', list, '--resolver', '127.0.0.1:9', '--out', list, '--no-progress'])).toBe(64);
    vi.restoreAllMocks();
    expect(parseDomainList(readFileSync(list, 'utf8')).domains).toEqual(['a.example', 'b.example']);
    expect(existsSync(`${list}-lock`)).toBe(false);
  });

  it('an --out in a directory that cannot be written, or a directory: one line naming the file', () => {
    storeError(() => ScanStore.open('/proc/dane-smtp-review.sqlite'), /dane-smtp-review\.sqlite/);
    const d = join(dir, 'a-directory');
    mkdirSync(d);
    storeError(() => ScanStore.open(d), /a-directory/);
    storeError(() => ScanStore.open(join(dir, 'no', 'such', 'dir', 'x.sqlite')), /x\.sqlite/);
  });
});

describe('a damaged or special scan file is a usage error, not a temporary failure', () => {
  const list = join(dir, 'damage-list.txt');
  writeFileSync(list, 'a.example\n');

  it('report and scan --out on a file with damaged pages: exit 64, one line naming the file', async () => {
    const f = damagedScanFile();
    for (const args of [['report', f], ['scan', list, '--resolver', '127.0.0.1:9', '--out', f, '--no-progress']]) {
      const err = captureStderr();
      const out = captureStdout();
      expect(await main(['node', 'dane-smtp', ...args]), args[0]).toBe(64);
      vi.restoreAllMocks();
      expect(err.text()).toMatch(new RegExp(`^dane-smtp: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged or not a database \\(.+\\); restore it`));
      expect(err.text().trim().split('\n')).toHaveLength(1);
      expect(out.text()).toBe('');
    }
    expect(existsSync(`${f}-lock`)).toBe(false);
  });

  it('report and scan --out on a FIFO: exit 64 at once with one line (no open that blocks for ever)', () => {
    const fifo = join(dir, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    const cli = resolve('dist/src/cli/main.js');
    expect(existsSync(cli), `${cli} missing: build first (npx tsc -p .)`).toBe(true);
    for (const args of [['report', fifo], ['scan', list, '--resolver', '127.0.0.1:9', '--out', fifo, '--no-progress']]) {
      // The timeout only keeps a hanging open from hanging the suite.
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(64);
      expect(r.stderr).toBe(`dane-smtp: ${fifo} is a FIFO, not a scan file\n`);
    }
    // and a FIFO where the writer's lock file goes
    const f = file();
    execFileSync('mkfifo', [`${f}-lock`]);
    storeError(() => ScanStore.open(f), /-lock is a FIFO/);
  });

  it('damage found while reading, after the open check: a StoreError naming the file (exit 64); disk full stays temporary (exit 75)', async () => {
    const f = file();
    const s0 = ScanStore.open(f);
    s0.put(result('a.example'), times);
    s0.close();
    const failWith = (code: string, message: string) => {
      const prepare = Database.prototype.prepare;
      vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
        if (sql.startsWith('SELECT domain FROM results') || sql.startsWith('SELECT verdict, count(*)')) throw new Database.SqliteError(message, code);
        return prepare.call(this, sql);
      } as typeof prepare);
    };

    const reader = ScanStore.open(f, { readonly: true });
    failWith('SQLITE_CORRUPT', 'database disk image is malformed');
    storeError(() => reader.verdictCounts(), /is damaged or not a database \(database disk image is malformed\)/);
    vi.restoreAllMocks();
    failWith('SQLITE_FULL', 'database or disk is full');
    expect(() => reader.verdictCounts()).toThrow(Database.SqliteError);
    vi.restoreAllMocks();
    reader.close();

    for (const [code, message, exit, line] of [
      ['SQLITE_CORRUPT_INDEX', 'database disk image is malformed', 64, /is damaged or not a database/],
      ['SQLITE_IOERR_WRITE', 'disk I/O error', 75, /disk I\/O error \(SQLITE_IOERR_WRITE\): every result stored so far is kept; rerun/],
    ] as const) {
      const err = captureStderr();
      failWith(code, message);
      expect(await main(['node', 'dane-smtp', 'scan', list, '--resolver', '127.0.0.1:9', '--out', f, '--no-progress']), code).toBe(exit);
      vi.restoreAllMocks();
      expect(err.text()).toMatch(line);
      expect(err.text()).not.toMatch(/internal error/);
      expect(existsSync(`${f}-lock`)).toBe(false);
    }
  });
});
