/** `dane-smtp tlsa` pure logic: material parsing, record computation, zone lines, verify and rollover analysis. */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMaterial, splitDer, type Material } from '../../../src/tools/tlsa/material.js';
import { computeRecords, ownerName, parseHostName, parseRecordSpecs, parseUsage, zoneLine, DEFAULT_PARAMS } from '../../../src/tools/tlsa/records.js';
import { parseZoneTlsa } from '../../../src/tools/tlsa/zone.js';
import { analyzeRollover } from '../../../src/tools/tlsa/rollover.js';
import { verifyServed } from '../../../src/tools/tlsa/verify.js';
import type { DnsAnswer, TlsaData } from '../../../src/dns/types.js';
import { expectUsageError } from '../../support/tlsa-cli.js';
import { certSha256, makeCert, makeChain, spkiSha256, spkiSha512, type Chain, type Issued } from '../../support/pki.js';

let chain: Chain;
let other: Issued; // another leaf from the same intermediate (the "next" certificate)
let stranger: Issued; // self-signed, unrelated

beforeAll(async () => {
  chain = await makeChain({ leafCn: 'mx.example.test' });
  other = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
  stranger = await makeCert({ cn: 'other.example.test', sans: ['other.example.test'] });
}, 60_000);

const pem = (s: string) => Buffer.from(s);
const params = (usage: number, selector: number, matchingType: number) => ({ usage, selector, matchingType });
const hex = (r: { data: Buffer }) => r.data.toString('hex');


describe('record computation', () => {
  it('3 1 1 by default: SHA-256 of the SPKI, cross-checked with openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256', () => {
    const m = parseMaterial(pem(chain.leaf.certPem), 'leaf.pem');
    const { records, warnings } = computeRecords(m, [DEFAULT_PARAMS]);
    expect(warnings).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]!.text).toBe(`3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`);
    const pub = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: chain.leaf.certPem });
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: pub });
    const sum = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der }).toString().split(' ')[0];
    expect(hex(records[0]!)).toBe(sum);
    expect(zoneLine(ownerName('mx.example.test', 25), records[0]!)).toBe(`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${sum}`);
  });

  it('every selector and matching type', () => {
    const m = parseMaterial(pem(chain.leaf.certPem));
    const { records } = computeRecords(m, [params(3, 0, 1), params(3, 1, 2), params(3, 1, 0), params(3, 0, 0), params(1, 1, 1)]);
    expect(hex(records[0]!)).toBe(certSha256(chain.leaf.der));
    expect(hex(records[1]!)).toBe(spkiSha512(chain.leaf.spkiDer));
    expect(records[2]!.data.equals(chain.leaf.spkiDer)).toBe(true);
    expect(records[3]!.data.equals(chain.leaf.der)).toBe(true);
    expect(hex(records[4]!)).toBe(spkiSha256(chain.leaf.spkiDer));
  });

  it('warns that usages 0 and 1 are not used by SMTP', () => {
    const { warnings } = computeRecords(parseMaterial(pem(chain.leaf.certPem)), [params(1, 1, 1)]);
    expect(warnings.join('\n')).toMatch(/PKIX-EE.*not used by SMTP/);
  });

  it('DER, private keys (PKCS#8, SEC1, PKCS#1) and public keys give the same 3 1 1', async () => {
    const want = spkiSha256(chain.leaf.spkiDer);
    const inputs: Buffer[] = [
      chain.leaf.der,
      pem(chain.leaf.keyPem),
      pem(createPrivateKey(chain.leaf.keyPem).export({ type: 'sec1', format: 'pem' }) as string),
      createPrivateKey(chain.leaf.keyPem).export({ type: 'pkcs8', format: 'der' }),
      pem(createPublicKey(chain.leaf.keyPem).export({ type: 'spki', format: 'pem' }) as string),
      createPublicKey(chain.leaf.keyPem).export({ type: 'spki', format: 'der' }),
    ];
    for (const input of inputs) {
      const m = parseMaterial(input);
      expect(hex(computeRecords(m, [DEFAULT_PARAMS]).records[0]!)).toBe(want);
    }
    const rsa = await makeCert({ key: 'rsa', cn: 'rsa.example.test' });
    const pkcs1 = createPrivateKey(rsa.keyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    const m = parseMaterial(pem(pkcs1));
    expect(m).toMatchObject({ kind: 'key', fromPrivate: true, keyType: 'RSA 2048' });
    expect(hex(computeRecords(m, [DEFAULT_PARAMS]).records[0]!)).toBe(spkiSha256(rsa.spkiDer));
    const pubPkcs1 = createPublicKey(rsa.keyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(hex(computeRecords(parseMaterial(pem(pubPkcs1)), [DEFAULT_PARAMS]).records[0]!)).toBe(spkiSha256(rsa.spkiDer));
  });

  it('a key cannot give selector 0', () => {
    expectUsageError(() => computeRecords(parseMaterial(pem(chain.leaf.keyPem)), [params(3, 0, 1)]), /selector 0 .*needs a certificate/);
  });

  it('a combined key + chain PEM uses the certificates; a key of another certificate is reported', () => {
    const ok = parseMaterial(pem(chain.leaf.keyPem + chain.servedPem));
    expect(ok).toMatchObject({ kind: 'certs', warnings: [] });
    const bad = parseMaterial(pem(stranger.keyPem + chain.servedPem));
    expect(bad.warnings.join()).toMatch(/not the key of the first certificate/);
  });

  it('2 x x is for the issuing CA: the intermediate, also from a file that ends in the root (servers rarely send it, RFC 7672 §3.1.2)', () => {
    const served = parseMaterial(pem(chain.servedPem));
    const r = computeRecords(served, [params(2, 0, 1), params(2, 1, 1), params(3, 1, 1)]);
    expect(r.warnings).toEqual([]);
    expect(hex(r.records[0]!)).toBe(certSha256(chain.intermediate.der));
    expect(hex(r.records[1]!)).toBe(spkiSha256(chain.intermediate.spkiDer));
    expect(r.records[1]!.target).toMatchObject({ role: 'ca', depth: 1, subject: 'CN=DANE Test Intermediate CA' });
    expect(hex(r.records[2]!)).toBe(spkiSha256(chain.leaf.spkiDer));
    // A fullchain file with the root (in any order): the intermediate below the root, with a note.
    const full = parseMaterial(pem(chain.leaf.certPem + chain.root.certPem + chain.intermediate.certPem));
    const top = computeRecords(full, [params(2, 1, 1), params(2, 0, 1)]);
    expect(hex(top.records[0]!)).toBe(spkiSha256(chain.intermediate.spkiDer));
    expect(hex(top.records[1]!)).toBe(certSha256(chain.intermediate.der));
    expect(top.records[0]!.target.depth).toBe(1);
    expect(top.warnings).toHaveLength(1); // said once for both records
    expect(top.warnings[0]).toMatch(/^2 x x records are for CN=DANE Test Intermediate CA, not for CN=DANE Test Root CA above it in the chain: .*servers rarely send the self-signed root .*give that certificate alone/);
  });

  it('2 x x of a root: the root alone as the file (no warning), or a root that issued the leaf itself (the server must send it)', async () => {
    const rootOnly = computeRecords(parseMaterial(pem(chain.root.certPem)), [params(2, 0, 1)]);
    expect(rootOnly.warnings).toEqual([]);
    expect(hex(rootOnly.records[0]!)).toBe(certSha256(chain.root.der));
    const direct = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.root });
    const r = computeRecords(parseMaterial(pem(direct.certPem + chain.root.certPem)), [params(2, 1, 1)]);
    expect(hex(r.records[0]!)).toBe(spkiSha256(chain.root.spkiDer));
    expect(r.records[0]!.target.depth).toBe(1);
    expect(r.warnings).toEqual([expect.stringMatching(/^2 x x records are for the root CN=DANE Test Root CA, which issued the leaf itself: the server must send the root/)]);
  });

  it('with the served chain known, 2 x x is for the highest CA of the file that the server sends', () => {
    const full = parseMaterial(pem(chain.servedPem + chain.root.certPem));
    const certsOf = (m: Material) => (m as Extract<Material, { kind: 'certs' }>).certs;
    const sendsRoot = computeRecords(full, [params(2, 1, 1)], certsOf(full));
    expect(hex(sendsRoot.records[0]!)).toBe(spkiSha256(chain.root.spkiDer));
    expect(sendsRoot.warnings).toEqual([]);
    const noRoot = computeRecords(full, [params(2, 1, 1)], certsOf(parseMaterial(pem(chain.servedPem))));
    expect(hex(noRoot.records[0]!)).toBe(spkiSha256(chain.intermediate.spkiDer));
    expect(noRoot.warnings).toEqual([expect.stringMatching(/not for CN=DANE Test Root CA above it in the chain: .*CN=DANE Test Root CA is not in the chain the server sends/)]);
  });

  it('warns when the issuing CA is not in the chain (leaf only)', () => {
    const r = computeRecords(parseMaterial(pem(chain.leaf.certPem)), [params(2, 0, 1)]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/issuing CA of CN=mx.example.test .* is not in the chain/);
  });

  it('warns when the CA of the file is not in the served chain, and when the server sends another key', () => {
    const file = parseMaterial(pem(chain.servedPem));
    const servedLeafOnly = (parseMaterial(pem(chain.leaf.certPem)) as Extract<Material, { kind: 'certs' }>).certs;
    const r = computeRecords(file, [params(2, 1, 1)], servedLeafOnly);
    expect(r.warnings.join('\n')).toMatch(/CA CN=DANE Test Intermediate CA is not in the chain the server sends/);
    const servedOk = (file as Extract<Material, { kind: 'certs' }>).certs;
    expect(computeRecords(file, [params(2, 1, 1), params(3, 1, 1)], servedOk).warnings).toEqual([]);
    const servedStranger = (parseMaterial(pem(stranger.certPem)) as Extract<Material, { kind: 'certs' }>).certs;
    expect(computeRecords(file, [params(3, 1, 1)], servedStranger).warnings.join()).toMatch(/server currently sends a different key/);
  });

  it('parses --record, --usage and host names', () => {
    expect(parseRecordSpecs(['2', '0', '1']).params).toEqual([params(2, 0, 1)]);
    expect(parseRecordSpecs(['3 1 1', '2,1,1'])).toEqual({ params: [params(3, 1, 1), params(2, 1, 1)], rest: [] });
    expect(parseRecordSpecs(['2', '0', '1', 'cert.pem']).rest).toEqual(['cert.pem']);
    expect(parseUsage('dane-ta')).toBe(2);
    expectUsageError(() => parseRecordSpecs(['2', '0']), /--record needs usage, selector and matching type/);
    expectUsageError(() => parseRecordSpecs(['3', '2', '1']), /--record selector must be one of/);
    expectUsageError(() => parseRecordSpecs(['3', '1', '3']), /--record matching type/);
    expectUsageError(() => parseUsage('4'), /--usage must be one of 0 \(pkix-ta\), 1 \(pkix-ee\), 2 \(dane-ta\), 3 \(dane-ee\)/);
    expect(parseHostName('MX.Example.TEST.')).toBe('mx.example.test');
    expectUsageError(() => parseHostName('192.0.2.1'), /not an IP address/);
    expectUsageError(() => parseHostName('bad..name'), /not a valid host name/);
  });
});

describe('malformed input is a clear usage error', () => {
  const cases: [string, () => Buffer, RegExp][] = [
    ['empty', () => Buffer.alloc(0), /empty input/],
    ['text that is not PEM', () => pem('hello world\n'), /neither PEM .* nor DER/],
    ['binary that is not DER', () => Buffer.from([0x01, 0x02, 0x03, 0xff]), /neither PEM nor DER/],
    ['truncated DER', () => chain.leaf.der.subarray(0, 100), /truncated DER/],
    ['a DER SEQUENCE that is no certificate or key', () => Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), /DER object 1 is neither a certificate nor a public or private key/],
    ['broken base64', () => pem('-----BEGIN CERTIFICATE-----\nMII$$$\n-----END CERTIFICATE-----\n'), /not valid base64/],
    ['a certificate PEM that is not a certificate', () => pem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /labelled "CERTIFICATE" but is not a valid certificate/],
    ['mismatched BEGIN/END', () => pem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n'), /begins with "CERTIFICATE" but ends with "PUBLIC KEY"/],
    ['unterminated PEM', () => pem('-----BEGIN CERTIFICATE-----\nAAAA\n'), /without a complete PEM block/],
    ['encrypted private key', () => pem('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n'), /encrypted/],
    ['unsupported PEM', () => pem('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n'), /unsupported PEM block "OPENSSH PRIVATE KEY"/],
    ['a CSR only', () => pem('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), /no certificate or key/],
  ];
  for (const [name, input, re] of cases) {
    it(name, () => expectUsageError(() => parseMaterial(input(), 'x.pem'), re));
  }

  it('concatenated DER certificates are a chain', () => {
    const both = Buffer.concat([chain.leaf.der, chain.intermediate.der]);
    expect(splitDer(both, 'x')).toHaveLength(2);
    const m = parseMaterial(both);
    expect(m.kind === 'certs' && m.certs.map((c) => c.subject)).toEqual(['CN=mx.example.test', 'CN=DANE Test Intermediate CA']);
  });
});

describe('zone-file TLSA lines', () => {
  const d = 'ab'.repeat(32);
  it('full, parenthesised, generic, bare, $ORIGIN and other types', () => {
    const text = [
      '$TTL 3600',
      '$ORIGIN example.test.',
      `_25._tcp.mx.example.test. 3600 IN TLSA 3 1 1 ${d}`,
      `_25._tcp.mx IN TLSA ( 2 0 1 ; a comment`,
      `   ${d.slice(0, 20)} ${d.slice(20)} )`,
      `                  TLSA 3 1 2 ${'cd'.repeat(64)}`,
      `_25._tcp.mx.example.test. IN TYPE52 \\# 35 030101${d}`,
      'mx IN A 192.0.2.1',
      `3 1 1 ${d.toUpperCase()}`,
    ].join('\n');
    const { records, ignored } = parseZoneTlsa(text);
    expect(ignored).toBe(1);
    expect(records.map((r) => [r.owner, r.usage, r.selector, r.matchingType, r.data.length, r.line])).toEqual([
      ['_25._tcp.mx.example.test.', 3, 1, 1, 32, 3],
      ['_25._tcp.mx.example.test.', 2, 0, 1, 32, 4],
      ['_25._tcp.mx.example.test.', 3, 1, 2, 64, 6],
      ['_25._tcp.mx.example.test.', 3, 1, 1, 32, 7],
      [undefined, 3, 1, 1, 32, 9],
    ]);
    expect(records[0]!.ttl).toBe(3600);
    expect(records[4]!.data.toString('hex')).toBe(d);
  });

  it('keeps unknown values (they are judged unusable later)', () => {
    expect(parseZoneTlsa(`x. IN TLSA 4 1 1 ${d}`).records[0]!.usage).toBe(4);
  });

  const bad: [string, RegExp][] = [
    [`x. IN TLSA 3 1 1 abc`, /line 1: .*odd number of hex digits/],
    [`x. IN TLSA 3 1 1 zz`, /line 1: .*not hexadecimal/],
    [`x. IN TLSA 256 1 1 ${d}`, /line 1: certificate usage must be a number from 0 to 255/],
    [`\nx. IN TLSA 3 1 1`, /line 2: missing certificate association data/],
    [`x. IN TLSA ( 3 1 1 ${d}`, /'\(' is never closed/],
    [`x. IN TYPE52 \\# 4 0301`, /generic RDATA length 4 but 2 bytes/],
    [`x. CH TLSA 3 1 1 ${d}`, /class CH is not IN/],
    [`$INCLUDE other.zone`, /\$INCLUDE is not supported/],
  ];
  for (const [text, re] of bad) {
    it(`error: ${text.trim().slice(0, 30)}`, () => expectUsageError(() => parseZoneTlsa(text, 'rrset.txt'), re));
  }
});

const tlsa = (usage: number, selector: number, matchingType: number, data: Buffer | string): TlsaData => ({
  usage,
  selector,
  matchingType,
  data: typeof data === 'string' ? Buffer.from(data, 'hex') : data,
});

describe('rollover readiness', () => {
  const cur = () => parseMaterial(pem(chain.servedPem));
  const nextCert = () => parseMaterial(pem(other.certPem));
  const nextKey = () => parseMaterial(pem(stranger.keyPem));
  const base = { host: 'mx.example.test', now: new Date() };

  it('current only → not ready, advice, and the RRset to publish adds the next 3 1 1', () => {
    const published = [tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: nextKey(), ttl: 300 });
    expect(r.status).toBe('current-only');
    expect(r.current.covered).toBe(true);
    expect(r.next.covered).toBe(false);
    expect(r.advice).toMatch(/publish the RRset below, wait at least 2 × TTL \(600 s\)/);
    expect(r.publish.map((p) => p.record)).toEqual([`3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`, `3 1 1 ${spkiSha256(stranger.spkiDer)}`]);
    expect(r.added).toEqual([`3 1 1 ${spkiSha256(stranger.spkiDer)}`]);
    expect(r.publish.map((p) => [p.current, p.next])).toEqual([['yes', 'no'], ['no', 'yes']]);
    expect(r.retireAfterSwitch).toEqual([`3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`]);
  });

  it('current + next → ready', () => {
    const published = [tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer)), tlsa(3, 1, 1, spkiSha256(stranger.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: nextKey() });
    expect(r.status).toBe('ready');
    expect(r.added).toEqual([]);
  });

  it('neither → wrong; next only → wrong', () => {
    const r = analyzeRollover({ ...base, published: [tlsa(3, 1, 1, 'aa'.repeat(32))], current: cur(), next: nextKey() });
    expect(r.status).toBe('neither');
    expect(r.advice).toMatch(/^WRONG: .*matches neither/);
    expect(r.warnings.join()).toMatch(/matches neither the current nor the next one; it is kept/);
    const n = analyzeRollover({ ...base, published: [tlsa(3, 1, 1, spkiSha256(stranger.spkiDer))], current: cur(), next: nextKey() });
    expect(n.status).toBe('next-only');
  });

  it('a DANE-TA record for the intermediate already covers a next certificate from the same CA', () => {
    const published = [tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: nextCert() });
    expect(r.status).toBe('ready');
    expect(r.next.detail).toMatch(/DANE-TA/);
    expect(r.warnings.join()).toMatch(/issuer CN=DANE Test Intermediate CA is taken from the current chain/);
    // a next certificate from another CA is not covered
    expect(analyzeRollover({ ...base, published, current: cur(), next: parseMaterial(pem(stranger.certPem)) }).status).toBe('current-only');
  });

  it('unusable records are left out, usable ones kept, digest agility respected', () => {
    const published = [
      tlsa(3, 1, 2, spkiSha512(chain.leaf.spkiDer)),
      tlsa(1, 1, 1, spkiSha256(chain.leaf.spkiDer)),
      tlsa(2, 0, 1, certSha256(chain.intermediate.der)),
    ];
    const r = analyzeRollover({ ...base, published, current: cur(), next: nextKey() });
    expect(r.status).toBe('current-only');
    expect(r.dropped).toHaveLength(1);
    expect(r.dropped[0]!.why).toMatch(/PKIX-EE/);
    // SHA-512 3 1 2 is published, so a 3 1 1 for next would be ignored (RFC 7671 §9): add 3 1 2
    expect(r.added).toEqual([`3 1 2 ${spkiSha512(stranger.spkiDer)}`]);
    expect(r.publish.every((p) => p.usable)).toBe(true);
    expect(r.publish).toHaveLength(3);
  });

  it('the same key for current and next', () => {
    const r = analyzeRollover({ ...base, published: [tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer))], current: cur(), next: parseMaterial(pem(chain.leaf.keyPem)) });
    expect(r.status).toBe('ready');
    expect(r.sameKey).toBe(true);
  });
});

describe('verify: the published RRset against the served chain', () => {
  const answer = (records: TlsaData[], proof: 'secure' | 'insecure' = 'secure'): DnsAnswer<TlsaData> => ({
    qname: '_25._tcp.mx.example.test',
    qtype: 'TLSA',
    status: 'data',
    proof,
    records,
    ttl: 300,
    cnameChain: ['_25._tcp.mx.example.test'],
    canonicalName: '_25._tcp.mx.example.test',
  });
  const served = () => [chain.leaf.der, chain.intermediate.der];
  const input = (records: TlsaData[], proof?: 'secure' | 'insecure') => ({
    owner: '_25._tcp.mx.example.test',
    answer: answer(records, proof),
    served: served(),
    referenceNames: ['mx.example.test'],
    now: new Date(),
  });

  it('which record matches which certificate; unusable records and why; authenticated', () => {
    const r = verifyServed(
      input([
        tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer)),
        tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer)),
        tlsa(1, 1, 1, spkiSha256(chain.leaf.spkiDer)),
        tlsa(3, 1, 1, 'aa'.repeat(31)),
      ]),
    );
    expect(r.authenticated).toBe(true);
    expect(r.summary).toMatch(/^authenticated by 3 1 1 .* \(DANE-EE, depth 0\)/);
    expect(r.records[0]!.matches).toEqual([{ depth: 0, subject: 'CN=mx.example.test' }]);
    expect(r.records[1]!.matches).toEqual([{ depth: 1, subject: 'CN=DANE Test Intermediate CA' }]);
    expect(r.records[2]).toMatchObject({ usable: false, unusableReason: 'pkix-usage' });
    expect(r.records[2]!.verdict).toMatch(/unusable: .*matches depth 0/);
    expect(r.records[3]).toMatchObject({ usable: false, unusableReason: 'bad-digest-length' });
    expect(r.served.map((c) => c.onIssuerPath)).toEqual([true, true]);
  });

  it('DANE-TA authenticates with the host name; a wrong name does not', () => {
    const recs = [tlsa(2, 0, 1, certSha256(chain.intermediate.der))];
    expect(verifyServed(input(recs))).toMatchObject({ authenticated: true, auth: { ok: true, usage: 'DANE-TA', depth: 1, matchedName: 'mx.example.test' } });
    const wrong = verifyServed({ ...input(recs), referenceNames: ['other.example.test'] });
    expect(wrong.authenticated).toBe(false);
    expect(wrong.summary).toMatch(/names none of other.example.test/);
  });

  it('an insecure RRset does not authenticate even when it matches', () => {
    const r = verifyServed(input([tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer))], 'insecure'));
    expect(r.authenticated).toBe(false);
    expect(r.summary).toMatch(/insecure, DANE needs a DNSSEC-secure RRset.*would match/);
  });

  it('no usable record', () => {
    const r = verifyServed(input([tlsa(0, 0, 1, certSha256(chain.root.der))]));
    expect(r.authenticated).toBe(false);
    expect(r.summary).toMatch(/no usable TLSA record/);
  });

  it('a key mismatch suggests the zone-file line for the served leaf (owner = the TLSA base); none when a usable record matches', () => {
    const line = `_25._tcp.mx.example.test. IN TLSA 3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`;
    // The published 3 1 1 is for another key (a renewal changed it).
    const r = verifyServed(input([tlsa(3, 1, 1, spkiSha256(other.spkiDer))]));
    expect(r.authenticated).toBe(false);
    expect(r.suggested).toEqual([line]);
    // Only unusable records (PKIX-EE of the right key): still nothing usable matches.
    expect(verifyServed(input([tlsa(1, 1, 1, spkiSha256(chain.leaf.spkiDer))])).suggested).toEqual([line]);
    // A usable 3 1 2 is published: a 3 1 1 beside it would be ignored (RFC 7671 §9), so 3 1 2.
    expect(verifyServed(input([tlsa(3, 1, 2, spkiSha512(other.spkiDer))])).suggested).toEqual([`_25._tcp.mx.example.test. IN TLSA 3 1 2 ${spkiSha512(chain.leaf.spkiDer)}`]);
    // Matching (authenticated), or a usable record matches a served certificate (a DANE-TA name problem is no key mismatch).
    expect(verifyServed(input([tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer))])).suggested).toBeUndefined();
    expect(verifyServed({ ...input([tlsa(2, 0, 1, certSha256(chain.intermediate.der))]), referenceNames: ['other.example.test'] }).suggested).toBeUndefined();
    // No RRset, no served chain, or DANE does not apply: nothing to compare.
    expect(verifyServed({ ...input([]), answer: { ...answer([]), status: 'nodata', records: [] } }).suggested).toBeUndefined();
    expect(verifyServed({ ...input([tlsa(3, 1, 1, spkiSha256(other.spkiDer))]), served: [] }).suggested).toBeUndefined();
    expect(verifyServed({ ...input([tlsa(3, 1, 1, spkiSha256(other.spkiDer))]), noTlsa: 'DANE does not apply' }).suggested).toBeUndefined();
  });
});
