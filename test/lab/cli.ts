/** Runs the built CLI (`dist/src/cli/main.js`) as a child process, as a user would. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file with the project's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export const CLI_PATH = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

export function cliBuilt(): boolean {
  return existsSync(CLI_PATH);
}

/** Exit codes of the CLI contract. */
export const EXIT = { OK: 0, UNDELIVERABLE: 69, TEMPFAIL: 75 } as const;

/** One line of `--json` output. */
export interface CliResult {
  domain: string;
  verdict: string;
  host: string | null;
  address?: string | null;
  tls?: boolean;
  reason?: string;
  hosts?: unknown[];
  resolverValidates?: boolean;
  [key: string]: unknown;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every stdout line that parses as a JSON object. */
  json: CliResult[];
  ms: number;
}

export function runCli(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: repoRoot(),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const json: CliResult[] = [];
      for (const line of stdout.split('\n')) {
        const t = line.trim();
        if (!t.startsWith('{')) continue;
        try {
          json.push(JSON.parse(t) as CliResult);
        } catch {
          /* not JSON */
        }
      }
      resolve({ code, signal, stdout, stderr, json, ms: Date.now() - t0 });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** `check --resolver R --timeout 5 --json <domains...>` */
export function checkArgs(resolver: string, domains: string[], json = true): string[] {
  return ['check', '--resolver', resolver, '--timeout', '5', ...(json ? ['--json'] : []), ...domains];
}

/** `send --resolver R --from sender@client.test --to user@<domain> --json --helo client.test` */
export function sendArgs(resolver: string, domain: string): string[] {
  return [
    'send', '--resolver', resolver, '--timeout', '5',
    '--from', 'sender@client.test', '--to', `user@${domain}`,
    '--json', '--helo', 'client.test',
  ];
}

/** A small RFC 5322 message carrying a unique token. */
export function labMessage(domain: string, token: string): string {
  return [
    'From: <sender@client.test>',
    `To: <user@${domain}>`,
    `Subject: dane-smtp lab ${domain}`,
    `Message-ID: <${token}@client.test>`,
    `Date: ${new Date().toUTCString()}`,
    '',
    `lab token ${token}`,
    '',
  ].join('\r\n');
}

/**
 * Runs `dane-smtp scan … --json` with `input` on stdin and SIGKILLs it once `killAfter`
 * results are printed: the domains printed, and the signal that ended it (null: it exited).
 */
export function scanKilledAfter(args: string[], input: string, killAfter: number): Promise<{ printed: string[]; signal: NodeJS.Signals | null }> {
  const printed: string[] = [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: repoRoot(), stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('{')) printed.push((JSON.parse(line) as { domain: string }).domain);
        if (printed.length === killAfter) child.kill('SIGKILL');
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ printed, signal }));
    child.stdin.end(input);
  });
}
