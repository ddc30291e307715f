/**
 * Test helpers for `dane-smtp tlsa`: run the command in-process as main.ts would (usage
 * errors are exit 64 with one line) with injected I/O, assert a one-line usage error, and
 * a temp directory for the files given to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, expect } from 'vitest';
import { registerTlsaCommand } from '../../src/cli/tlsa-command.js';
import type { TlsaIo } from '../../src/cli/tlsa/io.js';
import { DaneSmtpError } from '../../src/errors.js';

export interface TlsaRun {
  code: number;
  out: string;
  err: string;
  /** Wall time of the command, ms. */
  ms: number;
}

/** `dane-smtp tlsa ARGS`; `mx.example.test` resolves to 127.0.0.1, everything else fails. */
export async function runTlsaCli(args: string[], io: Partial<TlsaIo> = {}): Promise<TlsaRun> {
  let out = '';
  let err = '';
  let code = 0;
  const program = new Command('dane-smtp').exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: (s) => (out += s) });
  registerTlsaCommand(program, (c) => (code = c), {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    resolveHost: async (name) => (name === 'mx.example.test' ? ['127.0.0.1'] : Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }))),
    resolvConf: () => '',
    ...io,
  });
  const t0 = Date.now();
  try {
    await program.parseAsync(['node', 'dane-smtp', 'tlsa', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = 64;
    else if (e instanceof DaneSmtpError && e.code === 'USAGE') {
      err += `dane-smtp: ${e.message}\n`;
      code = 64;
    } else throw e;
  }
  return { code, out, err, ms: Date.now() - t0 };
}

/** `f` throws DaneSmtpError USAGE with a one-line message matching `re`. */
export function expectUsageError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DaneSmtpError);
  expect((err as DaneSmtpError).code).toBe('USAGE');
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toMatch(/\n/);
}

export interface TempDir {
  /** The directory (set in beforeAll). */
  readonly dir: string;
  /** The path of `name` in the directory. */
  path(name: string): string;
  /** Write `name` in the directory; returns its path. */
  file(name: string, content: string | Buffer): string;
}

/** Call at the top level of a test file: a fresh temp directory for the file's tests, removed after them all. */
export function useTempDir(prefix: string): TempDir {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);
  return {
    get dir() {
      return dir;
    },
    path,
    file: (name, content) => {
      writeFileSync(path(name), content);
      return path(name);
    },
  };
}
