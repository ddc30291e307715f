/**
 * Throw-away PKI for tests, made with the openssl CLI in a temp dir (removed again) at test time:
 * root CA → intermediate CA → leaf (SAN mx.example.test), plus a self-signed leaf.
 * RSA keys, so the same certificates work from TLS 1.0 to TLS 1.3.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  pem: string;
  key: string;
  der: Buffer;
}

export interface TestPki {
  root: TestCert;
  intermediate: TestCert;
  /** Issued by the intermediate, SAN DNS:mx.example.test. */
  leaf: TestCert;
  /** Self-signed, CN/SAN self.example.test. */
  self: TestCert;
}

let cached: TestPki | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function load(dir: string, name: string): TestCert {
  const pem = readFileSync(join(dir, `${name}.pem`), 'utf8');
  return { pem, key: readFileSync(join(dir, `${name}.key`), 'utf8'), der: new X509Certificate(pem).raw };
}

/** Generated once per test process. */
export function testPki(): TestPki {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'dane-smtp-pki-'));
  const key = ['-newkey', 'rsa:2048', '-nodes'];
  const days = ['-days', '30'];
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(
    join(dir, 'leaf.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mx.example.test\n',
  );
  openssl(dir, ['req', '-x509', ...key, '-keyout', 'root.key', '-out', 'root.pem', '-subj', '/CN=dane-smtp test root', ...days,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(dir, ['req', ...key, '-keyout', 'intermediate.key', '-out', 'intermediate.csr', '-subj', '/CN=dane-smtp test intermediate']);
  openssl(dir, ['x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2',
    '-out', 'intermediate.pem', ...days, '-extfile', 'ca.ext']);
  openssl(dir, ['req', ...key, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=mx.example.test']);
  openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'intermediate.pem', '-CAkey', 'intermediate.key', '-set_serial', '3',
    '-out', 'leaf.pem', ...days, '-extfile', 'leaf.ext']);
  openssl(dir, ['req', '-x509', ...key, '-keyout', 'self.key', '-out', 'self.pem', '-subj', '/CN=self.example.test', ...days,
    '-addext', 'subjectAltName=DNS:self.example.test']);
  try {
    cached = {
      root: load(dir, 'root'),
      intermediate: load(dir, 'intermediate'),
      leaf: load(dir, 'leaf'),
      self: load(dir, 'self'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return cached;
}
