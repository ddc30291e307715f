/** Hand-made certificates with exactly the extensions given, for DANE-TA path tests. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cert } from './authentication-fixtures.js';

/** Hand-made certificates with exactly the extensions given (openssl CLI, temp dir). */
export class Forge {
  private readonly dir = mkdtempSync(join(tmpdir(), 'dane-smtp-forge-'));
  private n = 0;
  private ssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  private load(name: string): Cert & { name: string } {
    const x = new X509Certificate(readFileSync(join(this.dir, `${name}.pem`)));
    return { name, der: x.raw, spkiDer: x.publicKey.export({ type: 'spki', format: 'der' }) };
  }
  /** A key (P-256), reusable across certificates. */
  key(): string {
    const name = `k${this.n++}`;
    this.ssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
    return name;
  }
  /**
   * A certificate for `key` with subject CN `cn`, signed by `issuer` (its certificate name and
   * its key name; omitted = self-signed), carrying exactly the extension lines `ext`.
   */
  cert(cn: string, key: string, ext: string[], issuer?: { cert: string; key: string }): Cert & { name: string } {
    const name = `c${this.n++}`;
    writeFileSync(join(this.dir, `${name}.ext`), `${[...ext, 'subjectKeyIdentifier=none', 'authorityKeyIdentifier=none'].join('\n')}\n`);
    this.ssl(['req', '-new', '-key', `${key}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
    const sign = issuer ? ['-CA', `${issuer.cert}.pem`, '-CAkey', `${issuer.key}.key`] : ['-signkey', `${key}.key`];
    this.ssl(['x509', '-req', '-in', `${name}.csr`, ...sign, '-set_serial', String(1000 + this.n), '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    return this.load(name);
  }
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
