/**
 * The scan's SQLite file (better-sqlite3, WAL): one row per domain, committed the moment
 * its result arrives, so an interrupted scan (Ctrl-C, SIGTERM, kill -9) loses nothing
 * already checked and a rerun skips it. `synchronous=NORMAL` in WAL mode: a committed row
 * survives the process being killed; only an OS crash or power loss can drop the last
 * commits, which a rerun then simply checks again (the file stays consistent).
 *
 * Tables: `meta` (format marker, settings of the first run), `runs` (one per invocation:
 * input, shard, counts, status, CPU and memory), `results` (the domains).
 */
import type Database from 'better-sqlite3';
import { statSync, unlinkSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import type { DomainResult } from '../core/result.js';

/** better-sqlite3's module: its Database constructor (with SqliteError on it). */
export type SqliteModule = typeof Database;

/**
 * better-sqlite3 is an optional peer dependency: only `scan` and `report` need it, so it is
 * loaded when a store is opened, never when this package is imported. Missing: this error
 * (the CLI says how to install it and exits 69, EX_UNAVAILABLE).
 */
export class SqliteUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the better-sqlite3 package is not installed: npm install better-sqlite3', options);
    this.name = 'SqliteUnavailableError';
  }
}

const requireHere = createRequire(import.meta.url);

/** Loads better-sqlite3 from where this package is installed; only its absence is SqliteUnavailableError. */
function requireSqlite(): SqliteModule {
  try {
    return requireHere('better-sqlite3') as SqliteModule;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && /'better-sqlite3'/.test((e as Error).message)) throw new SqliteUnavailableError({ cause: e });
    throw e;
  }
}

let loader: () => SqliteModule = requireSqlite;
let loaded: SqliteModule | undefined;

/** better-sqlite3, loaded on first use (SqliteUnavailableError when it is not installed). */
export function loadSqlite(): SqliteModule {
  return (loaded ??= loader());
}

/**
 * Replaces the loader (tests: a missing module is `() => { throw new SqliteUnavailableError() }`);
 * no argument restores the real one. Returns the previous loader.
 */
export function setSqliteLoader(next?: () => SqliteModule): () => SqliteModule {
  const previous = loader;
  loader = next ?? requireSqlite;
  loaded = undefined;
  return previous;
}

export const STORE_FORMAT = 'dane-smtp-scan';
export const STORE_VERSION = '1';

export class StoreError extends Error {}

/**
 * SQLite result codes that say the file itself is damaged or is no database (a rerun cannot
 * help): a StoreError. Disk full, I/O errors, busy and the like stay as they are (temporary).
 */
const DAMAGE_CODES = /^SQLITE_(CORRUPT|NOTADB|CANTOPEN|FORMAT)/;

export function isFileDamage(e: unknown): boolean {
  // No SqliteError can exist before better-sqlite3 is loaded.
  return loaded !== undefined && e instanceof loaded.SqliteError && DAMAGE_CODES.test(e.code);
}

function damaged(path: string, e: unknown): StoreError {
  const why = (e instanceof Error ? e.message : String(e)).replace(/\*\*\* in database \w+ \*\*\*/, '').replace(/\s+/g, ' ').trim();
  return new StoreError(`${path} is damaged or not a database (${why}); restore it from a copy, or give another file`);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** An existing path that is not a regular file (a FIFO would block the open for ever). */
function refuseSpecial(path: string): void {
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch {
    return; // missing (created, or refused by the caller) or unreadable (SQLite says why)
  }
  if (!st.isFile()) throw new StoreError(`${path} is ${kindOf(st)}, not a scan file`);
}

export interface RunInfo {
  input: string;
  shard: string;
  /** Domains in this run's share of the input. */
  total: number;
  /** Already done when the run started. */
  skipped: number;
  malformed: number;
  duplicates: number;
  settings: Record<string, unknown>;
}

export interface RunEnd {
  status: 'complete' | 'interrupted' | 'incomplete';
  checked: number;
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
}

export interface RunRow {
  id: number;
  started_at: string;
  finished_at: string | null;
  status: string;
  input: string;
  shard: string;
  total: number;
  skipped: number;
  checked: number;
  malformed: number;
  duplicates: number;
  settings: string;
  wall_ms: number | null;
  cpu_ms: number | null;
  max_rss_kb: number | null;
}

export interface ResultRow {
  domain: string;
  verdict: string;
  host: string | null;
  address: string | null;
  tls: number;
  reason: string;
  json: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  run_id: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  shard TEXT NOT NULL,
  total INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  checked INTEGER NOT NULL DEFAULT 0,
  malformed INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  settings TEXT NOT NULL,
  wall_ms INTEGER,
  cpu_ms INTEGER,
  max_rss_kb INTEGER
);
CREATE TABLE IF NOT EXISTS results (
  domain TEXT PRIMARY KEY,
  verdict TEXT NOT NULL,
  host TEXT,
  address TEXT,
  tls INTEGER NOT NULL,
  reason TEXT NOT NULL,
  json TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX IF NOT EXISTS results_verdict ON results(verdict);
`;

/**
 * One writer per scan file: two scans writing one file would check the same domains twice
 * (two connections to one MX address at a time). The writer holds an exclusive SQLite lock
 * on FILE-lock for as long as it runs; the OS releases it when the process ends, even by
 * kill -9, so a lock is never stale. Readers (report) do not take it.
 */
function takeWriterLock(Sqlite: SqliteModule, path: string): Database.Database {
  const lockPath = `${path}-lock`;
  let lock: Database.Database | undefined;
  refuseSpecial(lockPath);
  try {
    lock = new Sqlite(lockPath);
    lock.pragma('busy_timeout = 0');
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (e) {
    lock?.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new StoreError(`${path} is being written by another scan (it holds ${lockPath}); let it finish or stop it, or give another --out`);
    }
    throw new StoreError(`cannot lock ${path} (${lockPath}): ${e instanceof Error ? e.message : String(e)}`);
  }
}

function releaseWriterLock(path: string, lock: Database.Database): void {
  try {
    unlinkSync(`${path}-lock`); // before the lock is released: no one can take a lock on a file that is gone
  } catch {
    /* already gone */
  }
  lock.close();
}

export class ScanStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #lock: Database.Database | undefined;
  readonly #put: Database.Statement;
  readonly #checked: Database.Statement;

  private constructor(path: string, db: Database.Database, lock?: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#lock = lock;
    this.#put = db.prepare(
      `INSERT INTO results (domain, verdict, host, address, tls, reason, json, started_at, finished_at, duration_ms, run_id)
       VALUES (@domain, @verdict, @host, @address, @tls, @reason, @json, @started_at, @finished_at, @duration_ms, @run_id)
       ON CONFLICT(domain) DO UPDATE SET verdict=excluded.verdict, host=excluded.host, address=excluded.address, tls=excluded.tls,
         reason=excluded.reason, json=excluded.json, started_at=excluded.started_at, finished_at=excluded.finished_at,
         duration_ms=excluded.duration_ms, run_id=excluded.run_id`,
    );
    this.#checked = db.prepare('UPDATE runs SET checked = checked + 1 WHERE id = ?');
  }

  /**
   * Opens (or, unless `readonly`, creates) a scan file. A path that is not a regular file, a
   * file that is not a scan file, one of a newer format, or one that fails SQLite's
   * quick_check (damaged pages) is refused with a StoreError.
   */
  static open(path: string, options: { readonly?: boolean } = {}): ScanStore {
    const Sqlite = loadSqlite();
    refuseSpecial(path);
    let exists = true;
    try {
      statSync(path);
    } catch {
      exists = false;
    }
    if (options.readonly && !exists) throw new StoreError(`${path}: no such file`);
    let db: Database.Database;
    try {
      db = new Sqlite(path, options.readonly ? { readonly: true, fileMustExist: true } : {});
    } catch (e) {
      throw new StoreError(`cannot open ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let lock: Database.Database | undefined;
    try {
      db.pragma('busy_timeout = 10000');
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type='table'").pluck().all() as string[];
      if (tables.length > 0 || options.readonly) {
        const format = tables.includes('meta') ? (db.prepare("SELECT value FROM meta WHERE key='format'").pluck().get() as string | undefined) : undefined;
        if (format !== STORE_FORMAT) throw new StoreError(`${path} is not a dane-smtp scan file`);
        const version = db.prepare("SELECT value FROM meta WHERE key='version'").pluck().get() as string | undefined;
        if (version !== STORE_VERSION) throw new StoreError(`${path} is a scan file of format ${version ?? '?'}; this dane-smtp reads format ${STORE_VERSION}`);
        // Every page is read once (about a second per GB): damage is found now, not hours into a scan.
        const check = db.pragma('quick_check(1)', { simple: true }) as string;
        if (check !== 'ok') throw damaged(path, new Error(check));
      }
      if (!options.readonly) {
        lock = takeWriterLock(Sqlite, path);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.exec(SCHEMA);
        const insertMeta = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
        insertMeta.run('format', STORE_FORMAT);
        insertMeta.run('version', STORE_VERSION);
        insertMeta.run('created_at', new Date().toISOString());
      }
    } catch (e) {
      db.close();
      if (lock) releaseWriterLock(path, lock);
      if (e instanceof StoreError) throw e;
      if (isFileDamage(e)) throw damaged(path, e);
      throw new StoreError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new ScanStore(path, db, lock);
  }

  /** Runs a store operation; a damaged file found on the way is a StoreError naming it. */
  #guard<T>(op: () => T): T {
    try {
      return op();
    } catch (e) {
      if (isFileDamage(e)) throw damaged(this.path, e);
      throw e;
    }
  }

  /** Domains with a result (tempfail results left out with `retryTempfail`). */
  doneDomains(options: { retryTempfail?: boolean } = {}): Set<string> {
    const sql = options.retryTempfail ? "SELECT domain FROM results WHERE verdict <> 'tempfail'" : 'SELECT domain FROM results';
    return this.#guard(() => new Set(this.#db.prepare(sql).pluck().all() as string[]));
  }

  /** The settings the file was first scanned with (undefined for a new file). */
  firstSettings(): Record<string, unknown> | undefined {
    const v = this.#guard(() => this.#db.prepare("SELECT value FROM meta WHERE key='settings'").pluck().get() as string | undefined);
    return v ? (JSON.parse(v) as Record<string, unknown>) : undefined;
  }

  beginRun(info: RunInfo): number {
    return this.#guard(() => {
      this.#db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('settings', ?)").run(JSON.stringify(info.settings));
      const r = this.#db
        .prepare(
          `INSERT INTO runs (started_at, status, input, shard, total, skipped, malformed, duplicates, settings)
           VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(new Date().toISOString(), info.input, info.shard, info.total, info.skipped, info.malformed, info.duplicates, JSON.stringify(info.settings));
      return Number(r.lastInsertRowid);
    });
  }

  /** Stores one result; committed when this returns. */
  put(result: DomainResult, times: { startedAt: Date; finishedAt: Date }, runId?: number): void {
    const row = {
      domain: result.domain,
      verdict: result.verdict,
      host: result.host,
      address: result.address,
      tls: result.tls ? 1 : 0,
      reason: result.reason,
      json: JSON.stringify(result),
      started_at: times.startedAt.toISOString(),
      finished_at: times.finishedAt.toISOString(),
      duration_ms: Math.max(0, times.finishedAt.getTime() - times.startedAt.getTime()),
      run_id: runId ?? null,
    };
    this.#guard(() => {
      if (runId === undefined) {
        this.#put.run(row);
        return;
      }
      this.#db.transaction(() => {
        this.#put.run(row);
        this.#checked.run(runId);
      })();
    });
  }

  endRun(id: number, end: RunEnd): void {
    this.#guard(() =>
      this.#db
        .prepare('UPDATE runs SET finished_at = ?, status = ?, wall_ms = ?, cpu_ms = ?, max_rss_kb = ? WHERE id = ?')
        .run(new Date().toISOString(), end.status, Math.round(end.wallMs), Math.round(end.cpuMs), Math.round(end.maxRssKb), id),
    );
  }

  runs(): RunRow[] {
    return this.#guard(() => this.#db.prepare('SELECT * FROM runs ORDER BY id').all() as RunRow[]);
  }

  get(domain: string): ResultRow | undefined {
    return this.#guard(() => this.#db.prepare('SELECT * FROM results WHERE domain = ?').get(domain) as ResultRow | undefined);
  }

  count(): number {
    return this.#guard(() => this.#db.prepare('SELECT count(*) FROM results').pluck().get() as number);
  }

  verdictCounts(): Map<string, number> {
    const rows = this.#guard(() => this.#db.prepare('SELECT verdict, count(*) AS n FROM results GROUP BY verdict').all() as { verdict: string; n: number }[]);
    return new Map(rows.map((r) => [r.verdict, r.n]));
  }

  /** Domains per finding code (a domain with a code twice counts once), with the code's severity. */
  findingCounts(): { code: string; severity: string; domains: number; example: string }[] {
    return this.#guard(() =>
      this.#db
        .prepare(
          `SELECT json_extract(f.value, '$.code') AS code,
                  CASE min(CASE json_extract(f.value, '$.severity') WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)
                    WHEN 0 THEN 'error' WHEN 1 THEN 'warning' ELSE 'advice' END AS severity,
                  count(DISTINCT r.domain) AS domains,
                  min(json_extract(f.value, '$.message')) AS example
           FROM results r, json_each(r.json, '$.findings') f
           WHERE json_type(r.json, '$.findings') = 'array'
           GROUP BY code ORDER BY domains DESC, code`,
        )
        .all() as { code: string; severity: string; domains: number; example: string }[],
    );
  }

  /** Every result, in domain order (the report's notices). */
  *results(): IterableIterator<ResultRow> {
    const rows = this.#guard(() => this.#db.prepare('SELECT * FROM results ORDER BY domain').iterate() as IterableIterator<ResultRow>);
    try {
      for (;;) {
        const next = this.#guard(() => rows.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      rows.return?.(); // a reader that stops early frees the statement
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
    if (this.#lock?.open) releaseWriterLock(this.path, this.#lock);
  }
}
