/**
 * Tests written to kill mutants that survived the rest of the suite (mutation testing of the
 * TLSA-usability, certificate-authentication, TLS and SMTP-session rules). Each case names the
 * rule it pins and the RFC section it comes from.
 *
 * Certificates that test/support/pki.ts cannot make (a forged signature under a real issuer
 * name, an issuer that is not a CA, a client-only leaf) are made here with the openssl CLI in
 * a temporary directory that is removed again.
 */
import { servedTls } from '../../src/smtp/served-chain.js';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, type AuthResult } from '../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../src/core/rfc7672/tlsa.js';
import { processDestination, type DestinationOptions } from '../../src/engine/destination.js';
import type { TlsaData } from '../../src/dns/types.js';
import { runSmtpSession } from '../../src/smtp/session.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import { FixtureResolver, mx } from '../support/fixture-resolver.js';
import { makeChain, type Chain } from '../support/pki.js';
import { type RawServer, script, startRawServer } from '../support/raw-smtp-server.js';
import { testPki } from '../support/test-certs.js';

const DAY = 86_400_000;
const now = new Date();
const names = ['mx.example.test', 'example.test'];

interface Cert {
  der: Buffer;
  spkiDer: Buffer;
}

function assoc(cert: Cert, selector: number, matchingType: number): Buffer {
  const selected = selector === 0 ? cert.der : cert.spkiDer;
  if (matchingType === 0) return Buffer.from(selected);
  return createHash(matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest();
}
const tlsa = (usage: number, selector: number, matchingType: number, cert: Cert): TlsaData => ({ usage, selector, matchingType, data: assoc(cert, selector, matchingType) });

function run(records: TlsaData[], served: Cert[], referenceNames = names, at = new Date()): AuthResult {
  return authenticate({ records: usableRecords(classifyTlsa(records)), served: served.map((c) => c.der), referenceNames, now: at });
}
function failureCodes(r: AuthResult): string[] {
  return r.ok ? [] : r.records.map((x) => x.code);
}

/** Hand-made certificates with exactly the extensions given (openssl CLI, temp dir). */
class Forge {
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

const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
const leafExt = (name: string, eku = 'serverAuth') => ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${eku}`, `subjectAltName=DNS:${name}`];

let forge: Forge;
let good: Chain;
let other: Chain;
beforeAll(async () => {
  forge = new Forge();
  [good, other] = await Promise.all([makeChain({ leafCn: 'mx.example.test' }), makeChain({ leafCn: 'mx.example.test' })]);
});
afterAll(() => forge?.dispose());

describe('every usable record is tried (RFC 7672 §3.1, RFC 7671 §8: several records during a key rollover)', () => {
  it('a DANE-EE record that does not match does not stop a later one that does', () => {
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
    expect(run([tlsa(3, 0, 1, other.leaf), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
  });
  it('a failing DANE-TA record does not stop a later DANE-EE one, nor the reverse', () => {
    expect(run([tlsa(2, 0, 1, other.intermediate), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(2, 0, 1, good.intermediate)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-TA' });
  });
});

describe('DANE-TA: only the certificates the server sent count, unless the record is the whole anchor (RFC 7672 §3.1.2, RFC 7671 §5.2.2–5.2.3)', () => {
  it('a digest record (2 0 1, 2 1 1) of an anchor the server did not send never authenticates', () => {
    for (const [s, m] of [[0, 1], [1, 1], [0, 2]] as const) {
      const r = run([tlsa(2, s, m, good.intermediate)], [good.leaf]);
      expect(r.ok).toBe(false);
      expect(failureCodes(r)).toEqual(['ta-not-served']);
    }
  });
  it('a full-certificate record (2 0 0) supplies the anchor the server left out (RFC 7671 §5.2.2), as OpenSSL and Postfix do', () => {
    expect(run([tlsa(2, 0, 0, good.intermediate)], [good.leaf])).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 1, anchor: 'tlsa-record' });
    // served: the same record matches the served certificate
    expect(run([tlsa(2, 0, 0, good.intermediate)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, depth: 1, anchor: 'served' });
    // a 2 0 0 certificate that did not issue the served top is no anchor
    expect(failureCodes(run([tlsa(2, 0, 0, other.intermediate)], [good.leaf]))).toEqual(['ta-not-served']);
  });
  it('a full-key record (2 1 0) is an anchor key: the top of the served path must be signed by it (RFC 7671 §5.2.3)', () => {
    expect(run([tlsa(2, 1, 0, good.intermediate)], [good.leaf])).toMatchObject({ ok: true, usage: 'DANE-TA', anchor: 'tlsa-record' });
    expect(failureCodes(run([tlsa(2, 1, 0, other.intermediate)], [good.leaf]))).toEqual(['ta-not-served']);
  });
});

describe('DANE-TA: the usual checks on every certificate from the leaf up to the anchor (RFC 7672 §3.1.2, RFC 7671 §5.2)', () => {
  it('an expired intermediate below a root trust anchor fails (dates of the whole path, not only leaf and anchor)', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test', intermediateNotBefore: new Date(now.getTime() - 100 * DAY), intermediateNotAfter: new Date(now.getTime() - DAY) });
    const r = run([tlsa(2, 0, 1, c.root)], [c.leaf, c.intermediate, c.root]);
    expect(r.ok).toBe(false);
    expect(failureCodes(r)).toEqual(['ta-date']);
    // control: the same shape with a valid intermediate authenticates at depth 2
    expect(run([tlsa(2, 0, 1, good.root)], [good.leaf, good.intermediate, good.root])).toMatchObject({ ok: true, depth: 2 });
  });

  it('an issuer below the anchor that is not a CA (basicConstraints CA:FALSE) fails', () => {
    const rootKey = forge.key();
    const root = forge.cert('Forge Root CA', rootKey, CA_EXT);
    const midKey = forge.key();
    // No keyUsage: OpenSSL's issuer check alone would accept it; only the CA flag says no.
    const midSigned = forge.cert('Forge Not A CA', midKey, ['basicConstraints=critical,CA:FALSE'], { cert: root.name, key: rootKey });
    const leaf = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test'), { cert: midSigned.name, key: midKey });
    const r = run([tlsa(2, 0, 1, root)], [leaf, midSigned, root]);
    expect(r.ok).toBe(false);
    expect(failureCodes(r)).toEqual(['ta-not-ca']);
    // control: the same path with a CA in the middle authenticates
    const midCa = forge.cert('Forge Real Intermediate', midKey, CA_EXT, { cert: root.name, key: rootKey });
    const leaf2 = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test'), { cert: midCa.name, key: midKey });
    expect(run([tlsa(2, 0, 1, root)], [leaf2, midCa, root])).toMatchObject({ ok: true, depth: 2 });
  });

  it('a leaf whose extended key usage excludes TLS server authentication fails', () => {
    const caKey = forge.key();
    const ca = forge.cert('Forge EKU CA', caKey, CA_EXT);
    const clientOnly = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test', 'clientAuth'), { cert: ca.name, key: caKey });
    const r = run([tlsa(2, 1, 1, ca)], [clientOnly, ca]);
    expect(r.ok).toBe(false);
    expect(failureCodes(r)).toEqual(['ta-eku']);
    // controls: serverAuth, and anyExtendedKeyUsage, are accepted
    const server = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test', 'clientAuth,serverAuth'), { cert: ca.name, key: caKey });
    expect(run([tlsa(2, 1, 1, ca)], [server, ca])).toMatchObject({ ok: true, usage: 'DANE-TA' });
    const any = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test', 'anyExtendedKeyUsage'), { cert: ca.name, key: caKey });
    expect(run([tlsa(2, 1, 1, ca)], [any, ca])).toMatchObject({ ok: true, usage: 'DANE-TA' });
    // DANE-EE has no such check (RFC 7672 §3.1.1)
    expect(run([tlsa(3, 1, 1, clientOnly)], [clientOnly, ca])).toMatchObject({ ok: true, usage: 'DANE-EE' });
  });

  it('a leaf that names the anchor as its issuer but is not signed by it fails (forged signature)', () => {
    const realKey = forge.key();
    const real = forge.cert('Forge Bank CA', realKey, CA_EXT);
    // The attacker's CA has the same subject name; its leaf carries no authority key id, so
    // names alone cannot tell the two issuers apart: only the signature can.
    const fakeKey = forge.key();
    const fake = forge.cert('Forge Bank CA', fakeKey, CA_EXT);
    const forged = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test'), { cert: fake.name, key: fakeKey });
    expect(new X509Certificate(forged.der).checkIssued(new X509Certificate(real.der))).toBe(true);
    for (const record of [tlsa(2, 0, 1, real), tlsa(2, 1, 1, real), tlsa(2, 1, 2, real)]) {
      const r = run([record], [forged, real]);
      expect(r.ok).toBe(false);
      expect(failureCodes(r)).toEqual(['ta-off-path']);
    }
    // control: a leaf really signed by the anchor authenticates
    const genuine = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test'), { cert: real.name, key: realKey });
    expect(run([tlsa(2, 0, 1, real)], [genuine, real])).toMatchObject({ ok: true, depth: 1 });
  });

  it('a leaf signed with the anchor key under another issuer name is not issued by the anchor certificate (name chaining)', () => {
    const key = forge.key();
    const anchor = forge.cert('Forge Anchor CA', key, CA_EXT);
    const twin = forge.cert('Forge Twin CA', key, CA_EXT); // same key, other name
    const leaf = forge.cert('mx.example.test', forge.key(), leafExt('mx.example.test'), { cert: twin.name, key });
    expect(new X509Certificate(leaf.der).verify(new X509Certificate(anchor.der).publicKey)).toBe(true);
    const r = run([tlsa(2, 0, 1, anchor)], [leaf, anchor]);
    expect(r.ok).toBe(false);
    expect(failureCodes(r)).toEqual(['ta-off-path']);
  });
});

describe('SNI is the TLSA base domain (RFC 7672 §8.1), also for a CNAME-expanded MX host (RFC 7672 §2.2.2)', () => {
  const spki311 = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.leaf.spkiDer).digest() });
  const chain = ['mx.example.test', 'mx.hosting.test'];
  const resolver = (tlsaRecords: unknown[]) =>
    new FixtureResolver({
      'example.test MX': { proof: 'secure', records: [mx(10, 'mx.example.test')] },
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata', cnameChain: chain },
      '_25._tcp.mx.hosting.test TLSA': { proof: 'secure', records: tlsaRecords },
    });
  async function servernameFor(tlsaRecords: unknown[]): Promise<{ servername: string | undefined; tls: string; result: Awaited<ReturnType<typeof processDestination>> }> {
    const seen: SmtpSessionOptions[] = [];
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      seen.push(o);
      const served = servedTls('TLSv1.3', 'TLS_AES_128_GCM_SHA256', [good.leaf.der, good.intermediate.der]);
      const check = o.checkTls ? o.checkTls(served) : { ok: true as const };
      if (!check.ok) return { outcome: 'host-failed', tls: false, extensions: {}, served, error: { code: 'AUTHENTICATION', message: check.reason } };
      return { outcome: 'ok', tls: true, extensions: {}, served };
    };
    const result = await processDestination('example.test', { kind: 'probe' }, {
      resolver: resolver(tlsaRecords), resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000,
      session: session as DestinationOptions['session'],
    });
    expect(seen).toHaveLength(1);
    return { servername: seen[0]!.servername, tls: seen[0]!.tls, result };
  }

  it('DANE level: SNI is the expanded name the TLSA records were found under, not the MX host name', async () => {
    const { servername, tls, result } = await servernameFor([spki311(good)]);
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.example.test' });
    expect(result.hosts[0]?.tlsaBase).toBe('mx.hosting.test');
    expect(tls).toBe('required');
    expect(servername).toBe('mx.hosting.test');
  });

  it('encrypt level (a secure TLSA RRset with no usable record): SNI is the TLSA base domain too', async () => {
    const { servername, tls, result } = await servernameFor([{ ...spki311(good), usage: 1 }]);
    expect(result).toMatchObject({ verdict: 'encrypt-unauthenticated', host: 'mx.example.test' });
    expect(tls).toBe('required');
    expect(servername).toBe('mx.hosting.test');
  });
});

describe('SNI on the wire (RFC 6066 §3: a host name without the trailing dot)', () => {
  const servers: RawServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  it('a servername given as an absolute name "mx.example.test." is sent as "mx.example.test"', async () => {
    const pki = testPki();
    const server = await startRawServer(async (c) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, '220 go']])(c);
      await c.startTls({ cert: pki.leaf.pem + pki.intermediate.pem, key: pki.leaf.key });
      await script([[/^EHLO /, '250 mx.example.test'], [/^QUIT$/, '221 bye']])(c);
    });
    servers.push(server);
    const result = await runSmtpSession(
      { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: 5000, tls: 'required', servername: 'mx.example.test.' },
      { kind: 'probe' },
    );
    await server.allClosed();
    expect(result).toMatchObject({ outcome: 'ok', tls: true });
    expect(server.connections[0]!.tlsInfo?.servername).toBe('mx.example.test');
  });
});

describe('every step has a deadline: the TCP connect too (hostile or unreachable peers)', () => {
  it('a connect that never completes (SYNs dropped: full accept queue) ends as host-failed TIMEOUT within the deadline', async () => {
    // A listener in a stopped child process: the kernel completes handshakes until the accept
    // queue (backlog 1) is full, then drops every further SYN, so a connect just hangs.
    const child = spawn(process.execPath, ['-e', "const s=require('net').createServer(()=>{}).listen({host:'127.0.0.1',port:0,backlog:1},()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'ignore'] });
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
        child.once('error', reject);
      });
      process.kill(child.pid!, 'SIGSTOP');
      for (let i = 0; i < 6; i++) {
        const f = net.connect(port, '127.0.0.1');
        f.on('error', () => {});
        fillers.push(f);
      }
      for (let i = 0; i < 50 && fillers.filter((f) => !f.connecting).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      // control: a plain connect to it now hangs
      const probe = net.connect(port, '127.0.0.1');
      probe.on('error', () => {});
      fillers.push(probe);
      await new Promise((r) => setTimeout(r, 300));
      expect(probe.connecting).toBe(true);

      const started = Date.now();
      const result = await runSmtpSession({ address: '127.0.0.1', port, helo: 'client.example.test', timeoutMs: 400, tls: 'required' }, { kind: 'probe' });
      expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'TIMEOUT' } });
      expect(result.error?.message).toMatch(/connecting/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    }
  });
});

describe('DANE requires STARTTLS: no plaintext after an odd STARTTLS reply (RFC 7672 §2.2, RFC 3207 §4)', () => {
  const servers: RawServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  it.each(['250 2.0.0 ok, go on', '221 2.0.0 bye', '354 what'])('STARTTLS answered "%s" with TLS required → host-failed, nothing more sent in plaintext', async (answer) => {
    const server = await startRawServer(async (c) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, answer]])(c);
      // a plaintext transaction would go on here
      await Promise.resolve(script([[/^(MAIL|EHLO|QUIT)/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA/, '354 go']])(c)).catch(() => undefined);
      await c.closed;
    });
    servers.push(server);
    const result = await runSmtpSession(
      { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: 2000, tls: 'required', servername: 'mx.example.test' },
      { kind: 'send', envelope: { from: 'sender@example.test', to: ['a@example.test'], message: Buffer.from('Subject: t\r\n\r\nhello\r\n') } },
    );
    await server.allClosed();
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'PROTOCOL' } });
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'STARTTLS']);
  });
});
