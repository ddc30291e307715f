/**
 * Issue 19: certificate handling never throws on a certificate a TLS handshake accepted.
 * Every certificate of the odd catalogue (test/support/odd-certs.ts: empty DNs, v1, no
 * extensions, 3000 SANs, every string type, control and bidi characters, negative and huge
 * serials, RSA-PSS, Ed25519, Ed448, DSA, an unknown key algorithm, an unknown critical
 * extension, 1901/1950/9000/9999 dates) through every pure function that looks at a served
 * chain: readCertificate / describeChain, authenticate (DANE-EE 3 1 1 and 3 0 1 always
 * authenticate; DANE-TA gives a result with a code), the policy checks, the `tlsa` tool's
 * material / records / verify / render, diagnose, the JSON and human output.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../../src/core/rfc7672/tlsa.js';
import type { DomainResult } from '../../../src/core/result.js';
import { summarizeAuth } from '../../../src/core/result.js';
import { diagnose } from '../../../src/core/findings.js';
import type { TlsaData } from '../../../src/dns/types.js';
import { DaneSmtpError } from '../../../src/errors.js';
import { renderDomain } from '../../../src/cli/human.js';
import { checkFingerprints, checkPkix } from '../../../src/policy/verify.js';
import { describeMaterial, parseMaterial, servedEntries } from '../../../src/tools/tlsa/material.js';
import { computeRecords, zoneLine } from '../../../src/tools/tlsa/records.js';
import { renderGenerate, renderVerify } from '../../../src/tools/tlsa/render.js';
import { verifyServed } from '../../../src/tools/tlsa/verify.js';
import { dateProblem, describeChain, readCertificate } from '../../../src/x509/certificate.js';
import { ODD_HOST, oddCa, oddCert, oddCertificates, pem, spkiOfPem, type OddCert } from '../../support/odd-certs.js';

const NOW = new Date();
const OWNER = `_25._tcp.${ODD_HOST}`;
/** Raw C0/C1 controls, DEL, line/paragraph separators, bidi marks, embeddings, overrides, isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** The same, but a line feed is fine (multi-line human output). */
const UNSAFE_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const certs = oddCertificates();
const sha = (alg: 'sha256' | 'sha512', b: Buffer) => createHash(alg).update(b).digest();
const spkiOf = (c: OddCert): Buffer => (c.keyPem ? spkiOfPem(c.keyPem) : readCertificate(c.der).spki!);
const anchorOf = (c: OddCert): Buffer => (c.issuedBy === 'ca' ? oddCa().der : c.der);

function record(usage: number, selector: number, matchingType: number, der: Buffer, spki?: Buffer): TlsaData {
  const selected = selector === 0 ? der : spki!;
  return { usage, selector, matchingType, data: matchingType === 0 ? Buffer.from(selected) : sha(matchingType === 1 ? 'sha256' : 'sha512', selected) };
}
const auth = (records: TlsaData[], served: Buffer[], now = NOW) => authenticate({ records: usableRecords(classifyTlsa(records)), served, referenceNames: [ODD_HOST, 'example.test'], now });

/** A DomainResult as a DANE check of example.test would give it, carrying `c`'s chain. */
function resultFor(c: OddCert, records: TlsaData[]): DomainResult {
  const a = auth(records, c.chain);
  const text = records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`);
  return {
    domain: 'example.test',
    verdict: a.ok ? 'dane-authenticated' : 'tempfail',
    host: a.ok ? ODD_HOST : null,
    address: a.ok ? '192.0.2.1' : null,
    tls: a.ok,
    reason: a.ok ? 'ok' : `no host authenticated: ${a.reason}`,
    mx: { name: 'example.test', type: 'MX', status: 'data', proof: 'secure', records: [`10 ${ODD_HOST}`] },
    hosts: [
      {
        name: ODD_HOST,
        preference: 10,
        implicit: false,
        dns: [{ name: OWNER, type: 'TLSA', status: 'data', proof: 'secure', records: text }],
        addresses: ['192.0.2.1'],
        level: 'dane',
        levelReason: 'a secure TLSA RRset',
        tlsaBase: ODD_HOST,
        tlsa: text.map((record) => ({ record, usable: true })),
        attempts: [
          {
            address: '192.0.2.1',
            result: a.ok ? 'ok' : 'failed',
            tls: a.ok,
            tlsVersion: 'TLSv1.3',
            cipher: 'TLS_AES_256_GCM_SHA384',
            chain: a.chain,
            authentication: summarizeAuth(a),
            ...(a.ok ? {} : { error: 'server not authenticated', errorCode: 'AUTHENTICATION' }),
          },
        ],
        status: a.ok ? 'used' : 'failed',
      },
    ],
    resolverValidates: true,
    level: 'dane',
    policySource: 'default',
  } as DomainResult;
}

describe('the catalogue', () => {
  it('has every odd kind, most servable, and a chain under a normal CA', () => {
    expect(certs.map((c) => c.name)).toEqual(expect.arrayContaining([
      'empty-subject', 'empty-subject-and-issuer', 'v3-no-extensions', 'v1', 'no-san', 'many-san', 'string-types', 'control-chars', 'negative-serial', 'huge-serial',
      'rsa-pss', 'ed25519', 'ed448', 'dsa', 'unknown-key', 'unknown-critical-extension', 'dates-1950-9999', 'expired-before-1970', 'not-yet-valid-9000',
    ]));
    expect(certs.filter((c) => c.servable).length).toBeGreaterThanOrEqual(15);
    expect(certs.filter((c) => c.issuedBy === 'ca').length).toBeGreaterThanOrEqual(5);
    expect(oddCert('many-san').der.length).toBeGreaterThan(50_000);
  });
});

describe.each(certs.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  it(`readCertificate and describeChain give values (${c.what})`, () => {
    const r = readCertificate(c.der);
    expect(r.x509, 'OpenSSL parses it').toBeDefined();
    expect(r.spki?.equals(spkiOf(c)), 'the SPKI as encoded').toBe(true);
    expect(typeof r.subject).toBe('string');
    expect(typeof r.issuer).toBe('string');
    expect(r.subject).not.toMatch(UNSAFE);
    expect(r.issuer).not.toMatch(UNSAFE);
    expect(r.notBefore).toBeInstanceOf(Date);
    expect(r.notAfter).toBeInstanceOf(Date);
    const chain = describeChain(c.chain);
    expect(chain).toHaveLength(c.chain.length);
    expect(chain[0]).toMatchObject({ depth: 0, subject: r.subject, certSha256: sha('sha256', c.der).toString('hex'), spkiSha256: sha('sha256', spkiOf(c)).toString('hex') });
    expect(chain[0]!.spkiSha512).toBe(sha('sha512', spkiOf(c)).toString('hex'));
    expect(chain[0]!.notBefore).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(chain[0]!.notAfter).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(() => JSON.stringify(chain)).not.toThrow();
  });

  it('DANE-EE: 3 1 1, 3 1 2, 3 1 0, 3 0 1, 3 0 2, 3 0 0 of the leaf authenticate it, whatever its dates, names and extensions', () => {
    const spki = spkiOf(c);
    for (const [s, m] of [[1, 1], [1, 2], [1, 0], [0, 1], [0, 2], [0, 0]] as const) {
      const r = auth([record(3, s, m, c.der, spki)], c.chain);
      expect(r, `3 ${s} ${m}`).toMatchObject({ ok: true, usage: 'DANE-EE', depth: 0 });
      // A DANE-EE record for another key beside it changes nothing; alone it fails with a reason.
      const other = record(3, s, m, oddCa().der, readCertificate(oddCa().der).spki);
      expect(auth([other, record(3, s, m, c.der, spki)], c.chain).ok).toBe(true);
      expect(auth([other], c.chain)).toMatchObject({ ok: false, records: [{ code: 'ee-no-match' }] });
    }
    // At any time: DANE-EE does not look at the validity period (RFC 7672 §3.1.1).
    expect(auth([record(3, 1, 1, c.der, spki)], c.chain, new Date(Date.UTC(1960, 0, 1))).ok).toBe(true);
  });

  it(`DANE-TA: 2 0 1 and 2 1 1 of its anchor (${c.issuedBy === 'ca' ? 'the CA' : 'itself'}) give ${c.daneTa}, never an exception`, () => {
    const anchor = anchorOf(c);
    const anchorSpki = readCertificate(anchor).spki;
    for (const rec of [record(2, 0, 1, anchor), record(2, 1, 1, anchor, anchorSpki), record(2, 0, 0, anchor)]) {
      const r = auth([rec], c.chain);
      if (c.daneTa === 'ok') expect(r, `${rec.usage} ${rec.selector} ${rec.matchingType}`).toMatchObject({ ok: true, usage: 'DANE-TA' });
      else {
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.records[0]!.code).toBe(c.daneTa);
          expect(r.reason).not.toMatch(UNSAFE);
          expect(r.records[0]!.why).not.toMatch(UNSAFE);
        }
      }
    }
    // The leaf itself as a "2 0 1" anchor; the anchor left out of the served chain ("2 0 0" supplies it).
    expect(() => auth([record(2, 0, 1, c.der)], c.chain)).not.toThrow();
    expect(() => auth([record(2, 0, 0, anchor)], [c.der])).not.toThrow();
    // In 1900 none of them is valid yet: a date failure, said plainly.
    const old = auth([record(2, 0, 1, anchor)], c.chain, new Date(Date.UTC(1900, 0, 1)));
    expect(old).toMatchObject({ ok: false, records: [{ code: 'ta-date' }] });
  });

  it('dateProblem gives a sentence or undefined', () => {
    const r = readCertificate(c.der);
    for (const t of [NOW, new Date(Date.UTC(1900, 0, 1)), new Date(8.64e15)]) {
      const p = dateProblem(r, t);
      expect(p === undefined || typeof p === 'string').toBe(true);
    }
  });

  it('policy checks (fingerprint, verify/secure) give a result, never an exception', () => {
    const fp = checkFingerprints(c.chain, [{ algorithm: 'sha256', hex: sha('sha256', c.der).toString('hex') }]);
    expect(fp).toMatchObject({ ok: true });
    const keyFp = checkFingerprints(c.chain, [{ algorithm: 'sha512', hex: sha('sha512', spkiOf(c)).toString('hex') }]);
    expect(keyFp).toMatchObject({ ok: true });
    const none = checkFingerprints(c.chain, [{ algorithm: 'sha256', hex: '00'.repeat(32) }]);
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.reason).not.toMatch(UNSAFE);
    const anchors = [c.issuedBy === 'ca' ? oddCa().pem : pem(c.der)];
    for (const patterns of [['hostname'], ['nexthop', 'dot-nexthop'], ['.example.test']]) {
      const r = checkPkix(c.chain, anchors, patterns, { host: ODD_HOST, nexthop: 'example.test', now: NOW });
      expect(typeof r.ok).toBe('boolean');
      const text = r.ok ? r.detail : r.reason;
      expect(text).not.toMatch(UNSAFE);
    }
    expect(checkPkix(c.chain, [], ['hostname'], { host: ODD_HOST, nexthop: 'example.test', now: NOW }).ok).toBe(false);
  });

  it('tlsa tool: parseMaterial (DER and PEM), computeRecords, verifyServed and the renderers', () => {
    const spki = spkiOf(c);
    for (const input of [c.der, Buffer.from(pem(c.der)), Buffer.concat(c.chain), Buffer.from(c.chain.map((d) => pem(d)).join(''))]) {
      // Legal certificates: read as such (not "neither a certificate nor a key").
      const material = parseMaterial(input, 'odd.pem');
      expect(material.kind).toBe('certs');
      if (material.kind !== 'certs') continue;
      expect(material.certs[0]!.der.equals(c.der)).toBe(true);
      expect(material.certs[0]!.spki.equals(spki)).toBe(true);
      expect(describeMaterial(material)).not.toMatch(UNSAFE);
      const computed = computeRecords(material, [
        { usage: 3, selector: 1, matchingType: 1 },
        { usage: 3, selector: 0, matchingType: 1 },
        { usage: 2, selector: 0, matchingType: 1 },
      ]);
      expect(computed.records[0]!.data.equals(sha('sha256', spki))).toBe(true);
      expect(computed.records[1]!.data.equals(sha('sha256', c.der))).toBe(true);
      const text = renderGenerate(`${OWNER}.`, 'odd.pem', computed.records) + computed.warnings.join('\n');
      expect(text).not.toMatch(UNSAFE_BUT_LF);
    }
    const { certs: served, warnings } = servedEntries(c.chain);
    expect(served).toHaveLength(c.chain.length);
    expect(warnings).toEqual([]);

    for (const records of [[record(3, 1, 1, c.der, spki)], [record(3, 0, 1, c.der)], [record(2, 0, 1, anchorOf(c))], [record(3, 1, 1, oddCa().der, readCertificate(oddCa().der).spki)]]) {
      const report = verifyServed({
        owner: `${OWNER}.`,
        answer: { qname: OWNER, qtype: 'TLSA', status: 'data', proof: 'secure', records, ttl: 300, cnameChain: [OWNER], canonicalName: OWNER },
        served: c.chain,
        referenceNames: [ODD_HOST],
        now: NOW,
      });
      if (records[0]!.usage === 3 && records[0]!.data.equals(record(3, records[0]!.selector, 1, c.der, spki).data)) expect(report.authenticated).toBe(true);
      if (records[0]!.usage === 2) expect(report.authenticated).toBe(c.daneTa === 'ok');
      expect(report.served[0]!.spkiSha256).toBe(sha('sha256', spki).toString('hex'));
      const human = renderVerify(report, { address: '127.0.0.1', port: 25, tls: 'starttls', version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, '127.0.0.1');
      expect(human).not.toMatch(UNSAFE_BUT_LF);
      expect(JSON.stringify(report)).not.toMatch(UNSAFE);
      if (report.suggested) for (const line of report.suggested) expect(line).toBe(zoneLine(`${OWNER}.`, { usage: 3, selector: 1, matchingType: 1, data: sha('sha256', spki) }));
    }
  });

  it('diagnose, JSON and the human output of a result carrying its chain: no raw control or bidi characters', () => {
    const anchor = anchorOf(c);
    for (const records of [[record(3, 1, 1, c.der, spkiOf(c))], [record(2, 0, 1, anchor)], [record(2, 1, 1, oddCa().der, readCertificate(oddCa().der).spki)], [record(3, 0, 1, oddCa().der)]]) {
      const r = resultFor(c, records);
      const findings = diagnose(r, NOW);
      expect(findings.map((f) => f.code)).not.toContain('internal-error');
      for (const f of findings) expect(f.message).not.toMatch(UNSAFE);
      const full = { ...r, findings };
      expect(JSON.stringify(full)).not.toMatch(UNSAFE);
      expect(renderDomain(full)).not.toMatch(UNSAFE_BUT_LF);
    }
  });
});

describe('names and dates as they are', () => {
  it('an empty subject DN is the empty string; an empty issuer too', () => {
    expect(readCertificate(oddCert('empty-subject').der)).toMatchObject({ subject: '', issuer: 'C=DE, O=dane-smtp tests, CN=Odd Test CA' });
    expect(readCertificate(oddCert('empty-subject-and-issuer').der)).toMatchObject({ subject: '', issuer: '' });
    expect(describeChain(oddCert('kitchen-sink').chain)[0]!.subject).toBe('');
  });
  it('control characters and bidi overrides are escaped as \\uXXXX', () => {
    const r = readCertificate(oddCert('control-chars').der);
    // OpenSSL escapes C0 controls and DEL as \XX; readCertificate the rest as \uXXXX.
    expect(r.subject).toBe(
      'O=line\\u2028sep\\u2029para\\u0085nel, OU=tab\\09here\\7Fdel\\u009bcsi, CN=evil\\00nul\\07bel\\0D\\0AInjected: yes\\1B[31mred\\u202egnp.exe\\u2066iso\\u2069\\u200fend',
    );
    expect(r.issuer).toBe('CN=evil\\00nul\\07bel\\0D\\0AInjected: yes\\1B[31mred\\u202egnp.exe\\u2066iso\\u2069\\u200fend, O=\\u202dLRO');
  });
  it('every string type reads as its text', () => {
    const s = readCertificate(oddCert('string-types').der).subject;
    for (const t of ['Ünïcødé Ωrg ☃', 'Café à la carte', '𝔘𝔫𝔦𝔳𝔢𝔯𝔰𝔞𝔩 東京', '日本語.example', 'postmaster@example.test']) expect(s).toContain(t);
  });
  it('1901, 1950, 1969, 9000 and 9999 as ISO dates', () => {
    expect(describeChain([oddCert('dates-1950-9999').der])[0]).toMatchObject({ notBefore: '1950-01-01T00:00:00.000Z', notAfter: '9999-12-31T23:59:59.000Z' });
    expect(describeChain([oddCert('expired-before-1970').der])[0]).toMatchObject({ notBefore: '1901-01-01T00:00:00.000Z', notAfter: '1969-12-31T23:59:59.000Z' });
    expect(describeChain([oddCert('not-yet-valid-9000').der])[0]).toMatchObject({ notBefore: '9000-01-01T00:00:00.000Z', notAfter: '9999-12-31T23:59:59.000Z' });
    expect(dateProblem(readCertificate(oddCert('expired-before-1970').der), NOW)).toBe('expired 1969-12-31T23:59:59.000Z');
    expect(dateProblem(readCertificate(oddCert('not-yet-valid-9000').der), NOW)).toBe('not valid before 9000-01-01T00:00:00.000Z');
    expect(dateProblem(readCertificate(oddCert('dates-1950-9999').der), NOW)).toBeUndefined();
  });
  it('the unknown key: its SPKI is read from the DER, Node cannot use it', () => {
    const c = readCertificate(oddCert('unknown-key').der);
    expect(c.x509).toBeDefined();
    expect(() => c.x509!.publicKey).toThrow();
    expect(c.spki![0]).toBe(0x30);
  });
});
