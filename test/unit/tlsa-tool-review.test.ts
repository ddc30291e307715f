/**
 * `dane-smtp tlsa` reviewed as a mail operator uses it: key material in the forms found on
 * real servers (openssl output: PKCS#1, PKCS#8, SEC1, encrypted keys, Ed25519, bundles,
 * CRLF, a BOM, trailing bytes), digests cross-checked with openssl for RSA, ECDSA and
 * Ed25519, `--connect` (SNI, STARTTLS or implicit TLS by port, no STARTTLS, timeouts),
 * `--verify` (which record matches what, digest agility) and rollover.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMaterial, type Material } from '../../src/tools/tlsa/material.js';
import { computeRecords, DEFAULT_PARAMS } from '../../src/tools/tlsa/records.js';
import { analyzeRollover } from '../../src/tools/tlsa/rollover.js';
import { verifyServed } from '../../src/tools/tlsa/verify.js';
import { parseZoneTlsa } from '../../src/tools/tlsa/zone.js';
import type { DnsAnswer, TlsaData } from '../../src/dns/types.js';
import { expectUsageError, runTlsaCli, useTempDir } from '../support/tlsa-cli.js';
import { loopbackNet, useTlsaServers } from '../support/tlsa-servers.js';
import { certSha256, makeCert, makeChain, spkiSha256, spkiSha512, type Chain, type Issued } from '../support/pki.js';

let chain: Chain;
let next: Issued;
const { path, file } = useTempDir('tlsa-review-');
const servers = useTlsaServers(() => ({ certPem: chain.servedPem, keyPem: chain.leaf.keyPem }));

function openssl(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('openssl', args, { ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'ignore'] });
}
const read = (name: string) => readFileSync(path(name));
const dgst = (alg: 'sha256' | 'sha512', data: Buffer) => openssl(['dgst', `-${alg}`, '-r'], data).toString().split(' ')[0]!;

beforeAll(async () => {
  // Keys and self-signed certificates as an operator makes them with openssl.
  const newkey: Record<string, string[]> = { rsa: ['rsa:2048'], ec: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ed: ['ed25519'] };
  for (const [k, spec] of Object.entries(newkey)) {
    openssl(['req', '-x509', '-newkey', ...spec, '-nodes', '-keyout', path(`${k}.key`), '-out', path(`${k}.crt`), '-subj', `/CN=mx.${k}.test`, '-days', '30']);
    openssl(['x509', '-in', path(`${k}.crt`), '-outform', 'DER', '-out', path(`${k}.der`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-outform', 'DER', '-out', path(`${k}.key.der`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-pubout', '-out', path(`${k}.pub`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-aes256', '-passout', 'pass:x', '-out', path(`${k}.enc.key`)]);
  }
  openssl(['rsa', '-in', path('rsa.key'), '-traditional', '-out', path('rsa.pkcs1.key')]);
  openssl(['rsa', '-in', path('rsa.key'), '-traditional', '-aes256', '-passout', 'pass:x', '-out', path('rsa.pkcs1.enc.key')]);
  openssl(['rsa', '-in', path('rsa.key'), '-RSAPublicKey_out', '-out', path('rsa.pkcs1.pub')]);
  openssl(['ec', '-in', path('ec.key'), '-out', path('ec.sec1.key')]);
  openssl(['ec', '-in', path('ec.key'), '-aes256', '-passout', 'pass:x', '-out', path('ec.sec1.enc.key')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-out', path('ecparam.key')]); // EC PARAMETERS + EC PRIVATE KEY
  chain = await makeChain({ leafCn: 'mx.example.test' });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 120_000);

const hexOf = (m: Material, p = DEFAULT_PARAMS) => computeRecords(m, [p]).records[0]!.data.toString('hex');
const certs = (m: Material) => (m.kind === 'certs' ? m.certs : []);


describe('the bytes hashed are exactly the SPKI / the certificate DER (openssl cross-check)', () => {
  for (const k of ['rsa', 'ec', 'ed']) {
    it(`${k}: 3 1 1, 3 1 2, 3 0 1, 3 1 0 and 3 0 0 from the certificate equal openssl's`, () => {
      const pub = openssl(['x509', '-in', path(`${k}.crt`), '-pubkey', '-noout']);
      const spki = openssl(['pkey', '-pubin', '-outform', 'DER'], pub);
      const der = read(`${k}.der`);
      const m = parseMaterial(read(`${k}.crt`), `${k}.crt`);
      expect(hexOf(m)).toBe(dgst('sha256', spki));
      expect(hexOf(m, { usage: 3, selector: 1, matchingType: 2 })).toBe(dgst('sha512', spki));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 1 })).toBe(dgst('sha256', der));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 2 })).toBe(dgst('sha512', der));
      expect(hexOf(m, { usage: 3, selector: 1, matchingType: 0 })).toBe(spki.toString('hex'));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 0 })).toBe(der.toString('hex'));
    });

    it(`${k}: the certificate PEM and DER, the private key (PEM, DER) and the public key give one 3 1 1`, () => {
      const want = hexOf(parseMaterial(read(`${k}.crt`)));
      for (const f of [`${k}.der`, `${k}.key`, `${k}.key.der`, `${k}.pub`]) {
        const m = parseMaterial(read(f), f);
        expect(hexOf(m), f).toBe(want);
        expect(m.warnings, f).toEqual([]);
      }
    });
  }

  it('PKCS#1 RSA (BEGIN RSA PRIVATE KEY / RSA PUBLIC KEY), SEC1 EC (BEGIN EC PRIVATE KEY) and ecparam -genkey output', () => {
    expect(parseMaterial(read('rsa.pkcs1.key'))).toMatchObject({ kind: 'key', fromPrivate: true, keyType: 'RSA 2048' });
    expect(hexOf(parseMaterial(read('rsa.pkcs1.key')))).toBe(hexOf(parseMaterial(read('rsa.crt'))));
    expect(hexOf(parseMaterial(read('rsa.pkcs1.pub')))).toBe(hexOf(parseMaterial(read('rsa.crt'))));
    expect(read('ec.sec1.key').toString()).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(parseMaterial(read('ec.sec1.key'))).toMatchObject({ kind: 'key', keyType: 'EC prime256v1' });
    expect(hexOf(parseMaterial(read('ec.sec1.key')))).toBe(hexOf(parseMaterial(read('ec.crt'))));
    // "openssl ecparam -genkey": an EC PARAMETERS block, then the key
    const ecparam = read('ecparam.key');
    expect(ecparam.toString()).toMatch(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
    const pub = openssl(['pkey', '-in', path('ecparam.key'), '-pubout', '-outform', 'DER']);
    expect(hexOf(parseMaterial(ecparam))).toBe(dgst('sha256', pub));
    expect(parseMaterial(read('ed.key'))).toMatchObject({ kind: 'key', keyType: 'ED25519' });
  });
});

describe('key files as found on servers', () => {
  it('encrypted keys (PKCS#8, legacy PKCS#1 and SEC1 with Proc-Type, CRLF too) are one clear usage error', () => {
    for (const f of ['rsa.enc.key', 'ec.enc.key', 'ed.enc.key', 'rsa.pkcs1.enc.key', 'ec.sec1.enc.key']) {
      expectUsageError(() => parseMaterial(read(f), f), /the private key is encrypted; give the certificate or the public key/);
      expectUsageError(() => parseMaterial(Buffer.from(read(f).toString().replace(/\n/g, '\r\n')), f), /encrypted/);
    }
  });

  it('CRLF line endings, a UTF-8 BOM, text before and after the PEM blocks (openssl x509 -text) are fine', () => {
    const want = hexOf(parseMaterial(read('ec.crt')));
    const crt = read('ec.crt').toString();
    const variants = [
      crt.replace(/\n/g, '\r\n'),
      `\uFEFF${crt}`,
      `\uFEFF${read('ec.key').toString().replace(/\n/g, '\r\n')}`,
      `${crt}trailing garbage\n\x00\x01`,
      `${openssl(['x509', '-in', path('ec.crt'), '-text', '-noout']).toString()}${crt}`,
      `subject=CN = mx.ec.test\nissuer=CN = mx.ec.test\n${crt}`,
    ];
    for (const v of variants) expect(hexOf(parseMaterial(Buffer.from(v)))).toBe(want);
  });

  it('a bundle of key + certificate + chain, in any order of key and certificates, uses the leaf; another key is a warning', () => {
    const leaf = spkiSha256(chain.leaf.spkiDer);
    for (const bundle of [chain.leaf.keyPem + chain.servedPem, chain.servedPem + chain.leaf.keyPem, chain.leaf.certPem + chain.leaf.keyPem + chain.intermediate.certPem]) {
      const m = parseMaterial(Buffer.from(bundle));
      expect(m.warnings).toEqual([]);
      expect(hexOf(m)).toBe(leaf);
      expect(computeRecords(m, [{ usage: 2, selector: 1, matchingType: 1 }]).records[0]!.target).toMatchObject({ depth: 1, subject: 'CN=DANE Test Intermediate CA' });
    }
    const wrongKey = parseMaterial(Buffer.from(chain.servedPem + next.keyPem));
    expect(wrongKey.warnings.join()).toMatch(/private key in the file is not the key of the first certificate/);
  });

  it('a chain file in reverse order (CA first, as some CA bundles are) still gives the leaf\'s 3 1 1 and the CA\'s 2 x x', () => {
    const leaf = spkiSha256(chain.leaf.spkiDer);
    for (const bundle of [chain.intermediate.certPem + chain.leaf.certPem, chain.root.certPem + chain.intermediate.certPem + chain.leaf.certPem]) {
      const m = parseMaterial(Buffer.from(bundle));
      expect(certs(m)[0]!.subject).toBe('CN=mx.example.test');
      expect(m.warnings.join()).toMatch(/not the first certificate/);
      const r = computeRecords(m, [DEFAULT_PARAMS, { usage: 2, selector: 0, matchingType: 1 }]);
      expect(r.records[0]!.data.toString('hex')).toBe(leaf);
      expect(r.records[0]!.target).toMatchObject({ role: 'leaf', depth: 0, subject: 'CN=mx.example.test' });
      expect(r.records[1]!.target.role).toBe('ca');
      expect(r.records[1]!.target.depth).toBeGreaterThan(0);
    }
    // with the key in the file, the certificate of that key is the leaf
    const withKey = parseMaterial(Buffer.from(chain.intermediate.certPem + chain.leaf.certPem + chain.leaf.keyPem));
    expect(withKey.warnings.join()).not.toMatch(/not the key of/);
    expect(hexOf(withKey)).toBe(leaf);
  });

  it('DER with trailing bytes: a newline after the certificate is fine; other trailing data is named as such', () => {
    const der = read('ec.der');
    expect(hexOf(parseMaterial(Buffer.concat([der, Buffer.from('\n')])))).toBe(hexOf(parseMaterial(der)));
    expect(hexOf(parseMaterial(Buffer.concat([der, Buffer.from('\r\n\0')])))).toBe(hexOf(parseMaterial(der)));
    expectUsageError(() => parseMaterial(Buffer.concat([der, Buffer.from('junk')]), 'x.der'), /x\.der: 4 byte\(s\) of trailing data after the DER object\(s\), at byte \d+/);
  });

  it('a PKCS#7 bundle (.p7b) or an OpenSSH key is refused with what is expected', () => {
    expectUsageError(() => parseMaterial(Buffer.from('-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n')), /unsupported PEM block "PKCS7" \(expected CERTIFICATE, PUBLIC KEY or PRIVATE KEY\)/);
  });
});

// ---------------------------------------------------------------- the CLI, live servers



/** A loopback address of its own (127.x.y.z), so that ports 465 and 587 are free. */
const privateLoopback = () => loopbackNet()(2 + Math.floor(Math.random() * 250));

describe('--connect', () => {
  const leaf = () => spkiSha256(chain.leaf.spkiDer);

  it('STARTTLS to an IP address with --host: the SNI is the --host name; the owner uses the --connect port', async () => {
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--connect', `127.0.0.1:${srv.port}`, '--host', 'MX.Example.Test.', '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(srv.sni).toEqual(['mx.example.test']);
    expect(r.out).toContain(`_${srv.port}._tcp.mx.example.test. IN TLSA 3 1 1 ${leaf()}`);
    expect(srv.commands).toContain('STARTTLS');
  });

  it('port 465 means implicit TLS and port 587 STARTTLS, without --tls', async () => {
    const ip = privateLoopback();
    const implicit = await servers.implicit({ host: ip, port: 465 });
    const r465 = await runTlsaCli(['--connect', `${ip}:465`, '--host', 'mx.example.test', '--timeout', '5', '--json']);
    expect(r465.code).toBe(0);
    expect(JSON.parse(r465.out)).toMatchObject({ owner: '_465._tcp.mx.example.test.', addresses: [{ address: ip, tls: 'implicit', port: 465 }] });
    expect(implicit.sni).toEqual(['mx.example.test']);
    const submission = await servers.smtp({ host: ip, port: 587 });
    const r587 = await runTlsaCli(['--connect', `${ip}:587`, '--host', 'mx.example.test', '--timeout', '5', '--json']);
    expect(r587.code).toBe(0);
    expect(JSON.parse(r587.out)).toMatchObject({ owner: '_587._tcp.mx.example.test.', addresses: [{ address: ip, tls: 'starttls', port: 587 }] });
    expect(submission.sni).toEqual(['mx.example.test']);
  });

  it('a server without STARTTLS: exit 69, one line that says so', async () => {
    const srv = await servers.smtp({ starttls: false });
    const r = await runTlsaCli(['--connect', `mx.example.test:${srv.port}`, '--timeout', '5']);
    expect(r.code).toBe(69);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/STARTTLS not offered/);
  });

  it('a server that never greets: --timeout is honoured (exit 69, a timeout), STARTTLS and implicit TLS alike', async () => {
    const silent = await servers.smtp({ greet: false });
    for (const tlsMode of ['starttls', 'implicit']) {
      const r = await runTlsaCli(['--connect', `mx.example.test:${silent.port}`, '--tls', tlsMode, '--timeout', '0.5']);
      expect(r.code, tlsMode).toBe(69);
      expect(r.err, tlsMode).toMatch(/time|deadline/i);
      expect(r.ms, tlsMode).toBeLessThan(4000);
    }
  });

  it('implicit TLS to a plain SMTP port and STARTTLS to an implicit-TLS port fail with exit 69, not a hang', async () => {
    const plain = await servers.smtp();
    const a = await runTlsaCli(['--connect', `mx.example.test:${plain.port}`, '--tls', 'implicit', '--timeout', '2']);
    expect(a.code).toBe(69);
    expect(a.err.trim().split('\n')).toHaveLength(1);
    const implicit = await servers.implicit();
    const b = await runTlsaCli(['--connect', `mx.example.test:${implicit.port}`, '--tls', 'starttls', '--timeout', '1']);
    expect(b.code).toBe(69);
    expect(b.ms).toBeLessThan(5000);
  });

  it('2 x x: the top CA the server sends; from a file with a root the server does not send, the intermediate below it, with a note', async () => {
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--connect', `mx.example.test:${srv.port}`, '--record', '2', '0', '1', '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/; 2 0 1: DANE-TA, SHA-256 of the certificate of CN=DANE Test Intermediate CA \(depth 1\)/);
    const root = await runTlsaCli([file('full.pem', chain.servedPem + chain.root.certPem), '--record', '2', '1', '1', '--connect', `mx.example.test:${srv.port}`, '--timeout', '5']);
    expect(root.code).toBe(0);
    expect(root.out).toMatch(/of CN=DANE Test Intermediate CA \(depth 1\)/);
    expect(root.out).toContain(`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`);
    expect(root.err).toMatch(/warning: 2 x x records are for CN=DANE Test Intermediate CA, not for CN=DANE Test Root CA above it in the chain: .*CN=DANE Test Root CA is not in the chain the server sends/);
    expect(root.err).not.toMatch(/warning: the CA .* is not in the chain the server sends/);
    // Without --connect: the same record, and servers rarely send the root.
    const fileOnly = await runTlsaCli([file('full2.pem', chain.root.certPem + chain.intermediate.certPem + chain.leaf.certPem), '--record', '2', '0', '1', '--host', 'mx.example.test', '--json']);
    expect(fileOnly.code).toBe(0);
    const j = JSON.parse(fileOnly.out) as { records: { data: string; target: { depth: number } }[]; warnings: string[] };
    expect(j.records[0]).toMatchObject({ data: certSha256(chain.intermediate.der), target: { depth: 1 } });
    expect(j.warnings.join('\n')).toMatch(/servers rarely send the self-signed root CN=DANE Test Root CA/);
  });
});

// ---------------------------------------------------------------- verify and rollover (pure)

const tlsa = (usage: number, selector: number, matchingType: number, hex: string): TlsaData => ({ usage, selector, matchingType, data: Buffer.from(hex, 'hex') });

describe('--verify: which record matches which certificate', () => {
  const answer = (records: TlsaData[]): DnsAnswer<TlsaData> => ({
    qname: '_25._tcp.mx.example.test',
    qtype: 'TLSA',
    status: 'data',
    proof: 'secure',
    records,
    ttl: 300,
    cnameChain: ['_25._tcp.mx.example.test'],
    canonicalName: '_25._tcp.mx.example.test',
  });
  const verify = (records: TlsaData[]) =>
    verifyServed({ owner: '_25._tcp.mx.example.test', answer: answer(records), served: [chain.leaf.der, chain.intermediate.der], referenceNames: ['mx.example.test'], now: new Date() });

  it('a 3 1 1 of the intermediate matches depth 1 only and is said not to work', () => {
    const r = verify([tlsa(3, 1, 1, spkiSha256(chain.intermediate.spkiDer))]);
    expect(r.authenticated).toBe(false);
    expect(r.records[0]!.verdict).toMatch(/matches depth 1 .*but DANE-EE only matches the leaf/);
  });

  it('digest agility: a 3 1 1 next to a 3 1 2 is unusable (RFC 7671 §9), even when it is the one that matches', () => {
    const r = verify([tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer)), tlsa(3, 1, 2, spkiSha512(next.spkiDer))]);
    expect(r.authenticated).toBe(false);
    expect(r.records[0]).toMatchObject({ usable: false, unusableReason: 'weaker-digest' });
    expect(r.records[0]!.verdict).toMatch(/unusable: a stronger digest is published .*; matches depth 0/);
    expect(r.records[1]!.verdict).toBe('usable; matches no served certificate');
  });
});

describe('rollover', () => {
  const base = { host: 'mx.example.test', now: new Date() };
  const cur = () => parseMaterial(Buffer.from(chain.servedPem));

  it('ready through a DANE-TA record: nothing to add, the RRset to publish is the published one', () => {
    const published = [tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: parseMaterial(Buffer.from(next.certPem)) });
    expect(r.status).toBe('ready');
    expect(r.added).toEqual([]);
    expect(r.publish.map((p) => p.record)).toEqual([`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`]);
  });

  it('current covered by DANE-TA, next from another CA: only the next 3 1 1 is added', () => {
    const published = [tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))];
    const stranger = parseMaterial(readFileSync(path('ec.crt')));
    const r = analyzeRollover({ ...base, published, current: cur(), next: stranger });
    expect(r.status).toBe('current-only');
    expect(r.added).toEqual([`3 1 1 ${hexOf(stranger)}`]);
    expect(r.retireAfterSwitch).toEqual([`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`]);
  });

  it('digest agility: a next 3 1 1 published beside a current 3 1 2 does not count; the RRset adds a 3 1 2 and drops the 3 1 1', () => {
    const published = [tlsa(3, 1, 2, spkiSha512(chain.leaf.spkiDer)), tlsa(3, 1, 1, spkiSha256(next.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: parseMaterial(Buffer.from(next.keyPem)) });
    expect(r.status).toBe('current-only');
    expect(r.next.covered).toBe(false);
    expect(r.published[1]).toMatchObject({ usable: false, next: 'yes' });
    expect(r.added).toEqual([`3 1 2 ${spkiSha512(next.spkiDer)}`]);
    expect(r.dropped.map((d) => d.record)).toEqual([`3 1 1 ${spkiSha256(next.spkiDer)}`]);
    expect(r.publish.map((p) => p.record)).toEqual([`3 1 2 ${spkiSha512(chain.leaf.spkiDer)}`, `3 1 2 ${spkiSha512(next.spkiDer)}`]);
    expect(r.warnings.join()).toMatch(/SHA-512 \(3 1 2\) records are published/);
  });

  it('a next key equal to the current one with a certificate record (3 0 1): not ready, a 3 1 1 is added, the sameness said', () => {
    const certHex = dgst('sha256', chain.leaf.der);
    const renewed = parseMaterial(Buffer.from(chain.leaf.keyPem)); // same key
    const r = analyzeRollover({ ...base, published: [tlsa(3, 0, 1, certHex)], current: cur(), next: renewed });
    expect(r.sameKey).toBe(true);
    expect(r.warnings.join()).toMatch(/next key is the same as the current one/);
    expect(r.added).toEqual([`3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`]);
  });
});

describe('--rrset as pasted from dig', () => {
  it('dig +dnssec output with RRSIG lines (full and +short): the RRSIGs are skipped', () => {
    const d = spkiSha256(chain.leaf.spkiDer).toUpperCase();
    const full = [
      ';; ANSWER SECTION:',
      `_25._tcp.mx.example.test. 300 IN TLSA 3 1 1 ${d.slice(0, 56)} ${d.slice(56)}`,
      '_25._tcp.mx.example.test. 300 IN RRSIG TLSA 13 5 300 20300101000000 20200101000000 12345 example.test. AAAA',
    ].join('\n');
    expect(parseZoneTlsa(full).records.map((r) => r.data.toString('hex').toUpperCase())).toEqual([d]);
    const short = [`3 1 1 ${d.slice(0, 56)} ${d.slice(56)}`, 'TLSA 13 5 300 20300101000000 20200101000000 12345 example.test. AAAA'].join('\n');
    expect(parseZoneTlsa(short)).toMatchObject({ records: [{ usage: 3, selector: 1, matchingType: 1 }], ignored: 1 });
    // through a CNAME, dig +short prints the target name first
    expect(parseZoneTlsa(`_25._tcp.mx.provider.example.\n3 1 1 ${d}\n`)).toMatchObject({ records: [{ usage: 3 }], ignored: 1 });
  });
});
