/**
 * Idempotent installation of the lab's system packages (Debian/Ubuntu, apt-get).
 *
 * Packages: nsd, unbound, ldnsutils, openssl, dnsutils. Postfix is not needed: the SMTP
 * receivers are `smtp-server` instances inside the test process.
 * As LAB-NOTES.md says: a `/usr/sbin/policy-rc.d` exiting 101 keeps package scripts from
 * starting system daemons; it is removed afterwards only when this module created it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Every binary the lab runs, with the Debian package that ships it. */
export const LAB_BINARIES: Record<string, string> = {
  nsd: 'nsd',
  unbound: 'unbound',
  'ldns-keygen': 'ldnsutils',
  'ldns-signzone': 'ldnsutils',
  'ldns-key2ds': 'ldnsutils',
  openssl: 'openssl',
  dig: 'dnsutils',
};

export const LAB_PACKAGES = ['nsd', 'unbound', 'ldnsutils', 'openssl', 'dnsutils'] as const;

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a binary (PATH plus the sbin directories), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_PATH];
  for (const dir of dirs) {
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The benchmark also runs Postfix's posttls-finger. */
export const BENCH_BINARIES: Record<string, string> = { ...LAB_BINARIES, 'posttls-finger': 'postfix' };

/** Packages whose binaries are missing on this machine. */
export function missingPackages(binaries: Record<string, string> = LAB_BINARIES): string[] {
  const missing = new Set<string>();
  for (const [bin, pkg] of Object.entries(binaries)) {
    if (!findBinary(bin)) missing.add(pkg);
  }
  return [...missing];
}

function run(cmd: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'l' },
    });
    let tail = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) log(`  ${cmd}: ${line.trim()}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${tail}`));
    });
  });
}

export interface InstallOptions {
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Binaries needed, with their packages (default LAB_BINARIES). */
  binaries?: Record<string, string>;
}

/**
 * Installs the missing lab packages with apt-get (root only). Does nothing when every
 * binary is already present. Returns the packages it installed.
 */
export async function ensureLabPackages(options: InstallOptions = {}): Promise<string[]> {
  const log = options.log ?? ((): void => {});
  const binaries = options.binaries ?? LAB_BINARIES;
  const missing = missingPackages(binaries);
  if (missing.length === 0) return [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      `lab packages missing (${missing.join(', ')}) and not running as root: ` +
        `run 'apt-get install -y ${[...new Set(Object.values(binaries))].join(' ')}' first`,
    );
  }
  if (!findBinary('apt-get')) throw new Error(`lab packages missing (${missing.join(', ')}) and no apt-get`);
  log(`installing ${missing.join(' ')} with apt-get (this takes a while)`);
  const policy = '/usr/sbin/policy-rc.d';
  let addedPolicy = false;
  if (!existsSync(policy)) {
    writeFileSync(policy, '#!/bin/sh\n# added by dane-smtp test/lab/install.ts\nexit 101\n', { mode: 0o755 });
    addedPolicy = true;
  }
  try {
    await run('apt-get', ['update'], log);
    await run(
      'apt-get',
      ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', ...missing],
      log,
    );
  } finally {
    if (addedPolicy) {
      try {
        unlinkSync(policy);
      } catch {
        /* already gone */
      }
    }
  }
  const still = missingPackages(binaries);
  if (still.length > 0) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
  return missing;
}

/** `openssl version`, `nsd -v`, `unbound -V` first lines, for the report. */
export async function toolVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const probe = async (name: string, args: string[]): Promise<void> => {
    const bin = findBinary(name);
    if (!bin) return;
    try {
      const r = await execFileAsync(bin, args, { timeout: 5000 });
      out[name] = `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim()) ?? '';
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      out[name] = `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n').find((l) => l.trim()) ?? '?';
    }
  };
  await Promise.all([probe('nsd', ['-v']), probe('unbound', ['-V']), probe('openssl', ['version'])]);
  return out;
}
