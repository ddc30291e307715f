/**
 * better-sqlite3 is an optional peer dependency, needed only by scan and report: without
 * it they say so in one line and exit 69 (EX_UNAVAILABLE); nothing else loads it. The
 * missing module is simulated with an injected loader (the real one is exercised by
 * package-install.test.ts, on an install without better-sqlite3).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/program.js';
import { ScanStore, SqliteUnavailableError, setSqliteLoader } from '../../src/scan/store.js';
import { captureStderr } from '../support/capture.js';

const dir = mkdtempSync(join(tmpdir(), 'optional-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  setSqliteLoader(); // the real loader again
  vi.restoreAllMocks();
});

const missing = () => {
  throw new SqliteUnavailableError();
};

describe('without better-sqlite3', () => {
  it('scan: one line that says how to install it, exit 69, nothing read or created', async () => {
    setSqliteLoader(missing);
    const list = join(dir, 'list.txt');
    writeFileSync(list, 'example.test\n');
    const out = join(dir, 'scan.sqlite');
    const err = captureStderr();
    const code = await main(['node', 'dane-smtp', 'scan', '--resolver', '127.0.0.1:1', '--helo', 'client.test', '--out', out, list]);
    expect(code).toBe(69);
    expect(err.text()).toBe('dane-smtp: scan needs the better-sqlite3 package: npm install better-sqlite3\n');
    expect(existsSync(out)).toBe(false);
  });

  it('report: the same line for report, exit 69', async () => {
    setSqliteLoader(missing);
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'report', join(dir, 'none.sqlite')])).toBe(69);
    expect(err.text()).toBe('dane-smtp: report needs the better-sqlite3 package: npm install better-sqlite3\n');
  });

  it('ScanStore.open throws SqliteUnavailableError; the loader is asked only when a store is opened', () => {
    const loader = vi.fn(missing);
    setSqliteLoader(loader);
    expect(loader).not.toHaveBeenCalled();
    expect(() => ScanStore.open(join(dir, 'x.sqlite'))).toThrow(SqliteUnavailableError);
    expect(loader).toHaveBeenCalledTimes(1);
  });

  it('options are still checked first: a usage error stays a usage error (64)', async () => {
    setSqliteLoader(missing);
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'scan', '--shard', 'x', '--out', join(dir, 'y.sqlite'), join(dir, 'list.txt')])).toBe(64);
    expect(err.text()).not.toMatch(/better-sqlite3/);
  });
});

describe('with better-sqlite3 (a devDependency here)', () => {
  it('the real loader opens a store', () => {
    const s = ScanStore.open(join(dir, 'real.sqlite'));
    expect(s.count()).toBe(0);
    s.close();
  });
});
