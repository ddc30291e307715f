/**
 * The served chain is only what the server sent: with `ca: []` Node cannot complete it from
 * local stores. Proven in a child process whose NODE_EXTRA_CA_CERTS holds the root CA, against
 * a server that sends leaf + intermediate only; a control connection with Node's defaults in
 * the same child shows that the root would otherwise be added (and trusted).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RawServer, script, startRawServer } from '../../support/raw-smtp-server.js';
import { testPki } from '../../support/test-certs.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const servers: RawServer[] = [];
const tempDirs: string[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Compile src/smtp/session.ts (and what it imports) to plain ESM for a plain `node` child. */
function compileSession(): string {
  const out = mkdtempSync(join(tmpdir(), 'dane-smtp-child-'));
  tempDirs.push(out);
  execFileSync(
    join(repo, 'node_modules', '.bin', 'tsc'),
    ['--ignoreConfig', '--outDir', out, '--rootDir', repo, '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--types', 'node', '--skipLibCheck', '--strict', join(repo, 'src/smtp/session.ts')],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  writeFileSync(
    join(out, 'child.js'),
    `import * as tls from 'node:tls';
import { runSmtpSession } from './src/smtp/session.js';
const [smtpPort, tlsPort] = process.argv.slice(2).map(Number);
const result = await runSmtpSession(
  { address: '127.0.0.1', port: smtpPort, helo: 'client.example.test', timeoutMs: 5000, tls: 'required', servername: 'mx.example.test' },
  { kind: 'probe' },
);
// control: Node's default trust store (which includes NODE_EXTRA_CA_CERTS) completes the chain
const control = await new Promise((resolve, reject) => {
  const s = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'mx.example.test', rejectUnauthorized: false }, () => {
    const seen = new Set();
    for (let c = s.getPeerCertificate(true); c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) seen.add(c.fingerprint256);
    resolve({ length: seen.size, authorized: s.authorized });
    s.destroy();
  });
  s.on('error', reject);
});
process.stdout.write(JSON.stringify({
  outcome: result.outcome,
  error: result.error,
  chain: (result.served?.chain ?? []).map((b) => b.toString('base64')),
  control,
}));
`,
  );
  return out;
}

function runChild(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'child.js'), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

describe('served chain (RFC 7672: authenticate what the server sent)', () => {
  it('has exactly leaf + intermediate even when the root CA is in NODE_EXTRA_CA_CERTS', async () => {
    const pki = testPki();
    const cert = pki.leaf.pem + pki.intermediate.pem; // the server does not send the root
    const smtp = await startRawServer(async (c) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, '220 go']])(c);
      await c.startTls({ cert, key: pki.leaf.key });
      await script([[/^EHLO /, '250 mx.example.test'], [/^QUIT$/, '221 bye']])(c);
    });
    const implicitTls = await startRawServer(async (c) => {
      await c.startTls({ cert, key: pki.leaf.key });
      await c.closed;
    });
    servers.push(smtp, implicitTls);

    const dir = compileSession();
    const rootFile = join(dir, 'root.pem');
    writeFileSync(rootFile, pki.root.pem);
    const out = await runChild(dir, [String(smtp.port), String(implicitTls.port)], {
      ...process.env,
      NODE_EXTRA_CA_CERTS: rootFile,
    });
    const r = JSON.parse(out) as { outcome: string; chain: string[]; control: { length: number; authorized: boolean } };
    expect(smtp.errors).toEqual([]);
    // the control proves the root CA is available to Node in that process...
    expect(r.control).toEqual({ length: 3, authorized: true });
    // ...and the session still reports only what was served
    expect(r.outcome).toBe('ok');
    expect(r.chain).toHaveLength(2);
    expect(r.chain).toEqual([pki.leaf.der.toString('base64'), pki.intermediate.der.toString('base64')]);
  });
});
