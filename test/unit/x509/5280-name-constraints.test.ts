/**
 * RFC 5280 name constraints (§4.2.1.10, §6.1.4 (g)) and unrecognized critical extensions
 * (§4.2) in the path checks behind DANE-TA (RFC 7671 §5.2.2 "the usual checks", RFC 7672
 * §3.1.2) and the PKIX verify/secure levels, as OpenSSL's X509_verify_cert does them.
 * DANE-EE (RFC 7672 §3.1.1) stays a bare match. Certificates are generated in the test run.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../../src/core/rfc7672/tlsa.js';
import type { DomainResult } from '../../../src/core/result.js';
import { diagnose } from '../../../src/core/findings.js';
import { checkPkix } from '../../../src/policy/verify.js';
import { nameConstraintViolation, unhandledExtension } from '../../../src/x509/constraints.js';
import { readCertExtensions, type CertExtensions } from '../../../src/x509/extensions.js';
import { makeCert, type CertSpec, type Issued } from '../../support/pki.js';

const now = new Date();
const COM = ['mx.example.com', 'example.com'];
const UNKNOWN = '1.3.6.1.4.1.32473.1.1'; // under the documentation PEN (RFC 5612)

function spki311(c: Issued) {
  return { usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.spkiDer).digest() };
}
function ta201(c: Issued) {
  return { usage: 2, selector: 0, matchingType: 1, data: createHash('sha256').update(c.der).digest() };
}
const run = (records: ReturnType<typeof ta201>[], served: Issued[], names = COM) =>
  authenticate({ records: usableRecords(classifyTlsa(records)), served: served.map((c) => c.der), referenceNames: names, now });

const ca = (cn: string, issuer?: Issued, over: Partial<CertSpec> = {}) => makeCert({ cn, ca: true, issuer, ...over });
const leafOf = (issuer: Issued, name = 'mx.example.com', over: Partial<CertSpec> = {}) => makeCert({ cn: name, sans: [name], issuer, ...over });
const critical = (oid = UNKNOWN) => ({ extraExtensions: [{ oid, critical: true }] });
const nonCritical = (oid = UNKNOWN) => ({ extraExtensions: [{ oid, critical: false }] });

/** Each case: the served chain (leaf first), the DANE-TA anchor among it, and what must come out. */
interface TaCase {
  what: string;
  served: () => Issued[];
  anchor: () => Issued;
  names?: string[];
  expect: { ok: true } | { code: string; why: RegExp };
}

const pki: Record<string, Issued> = {};
const P = (k: string) => () => pki[k]!;
const S = (...ks: string[]) => () => ks.map((k) => pki[k]!);

beforeAll(async () => {
  const [root, anchorNet, anchorCritical, siAnchor] = await Promise.all([
    ca('NC Root'),
    ca('NC Anchor permits example.net', undefined, { nameConstraints: { permitted: ['DNS:example.net'] } }),
    ca('Anchor with a critical unknown extension', undefined, critical()),
    ca('NC Self-issued Anchor', undefined, { nameConstraints: { permitted: ['DNS:example.com'] } }),
  ]);
  Object.assign(pki, { root, anchorNet, anchorCritical, siAnchor });
  const cas = await Promise.all([
    ca('Intermediate permits example.net', root, { nameConstraints: { permitted: ['DNS:example.net'] } }),
    ca('Intermediate permits example.com', root, { nameConstraints: { permitted: ['DNS:example.com'] } }),
    ca('Intermediate permits EXAMPLE.COM', root, { nameConstraints: { permitted: ['DNS:EXAMPLE.COM'] } }),
    ca('Intermediate permits .example.com', root, { nameConstraints: { permitted: ['DNS:.example.com'] } }),
    ca('Intermediate excludes mx.example.com', root, { nameConstraints: { excluded: ['DNS:mx.example.com'] } }),
    ca('Intermediate permits example.com excludes bad.example.com', root, { nameConstraints: { permitted: ['DNS:example.com'], excluded: ['DNS:bad.example.com'] } }),
    ca('Intermediate non-critical permits example.net', root, { nameConstraints: { permitted: ['DNS:example.net'], critical: false } }),
    ca('Intermediate with empty nameConstraints', root, { nameConstraints: { raw: 'critical,DER:30:00' } }),
    // permitted [0] { GeneralSubtree { dNSName "a.b", minimum [0] 1 } }, then the same with maximum [1] 5.
    ca('Intermediate with a nameConstraints minimum', root, { nameConstraints: { raw: 'critical,DER:30:0c:a0:0a:30:08:82:03:61:2e:62:80:01:01' } }),
    ca('Intermediate with a nameConstraints maximum', root, { nameConstraints: { raw: 'critical,DER:30:0c:a0:0a:30:08:82:03:61:2e:62:81:01:05' } }),
    ca('Plain intermediate under the constrained anchor', anchorNet),
    ca('Intermediate with a critical unknown extension', root, critical()),
    ca('Intermediate with a non-critical unknown extension', root, nonCritical()),
    ca('Plain intermediate', root),
    ca('Plain intermediate under the critical anchor', anchorCritical),
    // Same name as its issuer (a key rollover), with a SAN outside the anchor's constraint.
    ca('NC Self-issued Anchor', siAnchor, { sans: ['ca.example.org'] }),
    ca('Intermediate named outside', siAnchor, { sans: ['ca.example.org'] }),
  ]);
  const keys = ['net', 'com', 'upper', 'dot', 'excl', 'both', 'netSoft', 'empty', 'min', 'max', 'underAnchor', 'midCritical', 'midSoft', 'plain', 'underCriticalAnchor', 'rollover', 'outside'];
  keys.forEach((k, i) => (pki[k] = cas[i]!));
  const leaves: [string, Promise<Issued>][] = [
    ['netLeaf', leafOf(pki.net!)],
    ['netLeafOk', leafOf(pki.net!, 'mx.example.net')],
    ['comLeaf', leafOf(pki.com!)],
    ['comLeafBadSuffix', leafOf(pki.com!, 'mx.badexample.com')],
    ['upperLeaf', leafOf(pki.upper!)],
    ['dotLeaf', leafOf(pki.dot!)],
    ['dotLeafApex', leafOf(pki.dot!, 'example.com')],
    ['exclLeaf', leafOf(pki.excl!)],
    ['exclLeafOther', leafOf(pki.excl!, 'mx2.example.com')],
    ['bothLeaf', leafOf(pki.both!)],
    ['bothLeafBad', leafOf(pki.both!, 'bad.example.com')],
    ['bothLeafBadSub', leafOf(pki.both!, 'x.bad.example.com')],
    ['netSoftLeaf', leafOf(pki.netSoft!)],
    ['emptyLeaf', leafOf(pki.empty!)],
    ['minLeaf', leafOf(pki.min!)],
    ['maxLeaf', leafOf(pki.max!)],
    ['underAnchorLeaf', leafOf(pki.underAnchor!)],
    ['underAnchorLeafOk', leafOf(pki.underAnchor!, 'mx.example.net')],
    ['cnOnlyNet', makeCert({ cn: 'mx.example.com', issuer: pki.net! })],
    ['cnOnlyCom', makeCert({ cn: 'mx.example.com', issuer: pki.com! })],
    ['cnNotHost', makeCert({ cn: 'Mail Server', sans: ['mx.example.net'], issuer: pki.net! })],
    ['cnWildNet', makeCert({ cn: '*.example.com', issuer: pki.net! })],
    ['cnWildCom', makeCert({ cn: '*.example.com', issuer: pki.com! })],
    ['plainLeaf', leafOf(pki.plain!)],
    ['criticalLeaf', leafOf(pki.plain!, 'mx.example.com', critical())],
    ['softLeaf', leafOf(pki.plain!, 'mx.example.com', nonCritical())],
    ['criticalIanLeaf', leafOf(pki.plain!, 'mx.example.com', { extraExtensions: [{ oid: '2.5.29.18', critical: true, der: Buffer.from('30038201 61'.replace(/ /g, ''), 'hex') }] })],
    ['criticalPoliciesLeaf', leafOf(pki.plain!, 'mx.example.com', { extraExtensions: [{ oid: '2.5.29.32', critical: true, der: Buffer.from('300630040602 2a03'.replace(/ /g, ''), 'hex') }] })],
    ['midCriticalLeaf', leafOf(pki.midCritical!)],
    ['midSoftLeaf', leafOf(pki.midSoft!)],
    ['underCriticalAnchorLeaf', leafOf(pki.underCriticalAnchor!)],
    ['rolloverLeaf', leafOf(pki.rollover!)],
    ['outsideLeaf', leafOf(pki.outside!)],
  ];
  const made = await Promise.all(leaves.map(([, p]) => p));
  leaves.forEach(([k], i) => (pki[k] = made[i]!));
});

const NC = /name-constraints|nameConstraints/;

const taCases: TaCase[] = [
  // dNSName permitted / excluded subtrees (RFC 5280 §4.2.1.10)
  { what: 'intermediate permits example.net, leaf mx.example.com: fails', served: S('netLeaf', 'net', 'root'), anchor: P('root'),
    expect: { code: 'ta-name-constraints', why: /depth 0 \(CN=mx\.example\.com\) names the subjectAltName dNSName "mx\.example\.com", outside the permitted subtrees \(dNSName "example\.net"\) of the nameConstraints of certificate at depth 1 \(CN=Intermediate permits example\.net\)/ } },
  { what: 'intermediate permits example.net, leaf mx.example.net: authenticates', served: S('netLeafOk', 'net', 'root'), anchor: P('root'), names: ['mx.example.net'], expect: { ok: true } },
  { what: 'intermediate permits example.com, leaf mx.example.com: authenticates', served: S('comLeaf', 'com', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'the constrained intermediate as the anchor binds the leaf too', served: S('netLeaf', 'net', 'root'), anchor: P('net'), expect: { code: 'ta-name-constraints', why: /outside the permitted subtrees/ } },
  { what: 'example.com does not permit mx.badexample.com (label boundary)', served: S('comLeafBadSuffix', 'com', 'root'), anchor: P('root'), names: ['mx.badexample.com'],
    expect: { code: 'ta-name-constraints', why: /"mx\.badexample\.com", outside/ } },
  { what: 'constraints compare case-insensitively (EXAMPLE.COM permits mx.example.com)', served: S('upperLeaf', 'upper', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'leading-dot .example.com permits mx.example.com', served: S('dotLeaf', 'dot', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'leading-dot .example.com does not permit example.com itself (as OpenSSL)', served: S('dotLeafApex', 'dot', 'root'), anchor: P('root'), names: ['example.com'],
    expect: { code: 'ta-name-constraints', why: /"example\.com", outside the permitted subtrees \(dNSName "\.example\.com"\)/ } },
  { what: 'excluded mx.example.com: leaf mx.example.com fails', served: S('exclLeaf', 'excl', 'root'), anchor: P('root'),
    expect: { code: 'ta-name-constraints', why: /"mx\.example\.com", inside the excluded subtree dNSName "mx\.example\.com" of the nameConstraints of certificate at depth 1/ } },
  { what: 'excluded mx.example.com: leaf mx2.example.com authenticates', served: S('exclLeafOther', 'excl', 'root'), anchor: P('root'), names: ['mx2.example.com'], expect: { ok: true } },
  { what: 'permitted example.com minus excluded bad.example.com: mx.example.com authenticates', served: S('bothLeaf', 'both', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'permitted example.com minus excluded bad.example.com: bad.example.com fails', served: S('bothLeafBad', 'both', 'root'), anchor: P('root'), names: ['bad.example.com'], expect: { code: 'ta-name-constraints', why: /inside the excluded subtree/ } },
  { what: 'permitted example.com minus excluded bad.example.com: x.bad.example.com fails', served: S('bothLeafBadSub', 'both', 'root'), anchor: P('root'), names: ['x.bad.example.com'], expect: { code: 'ta-name-constraints', why: /inside the excluded subtree/ } },
  { what: 'a non-critical nameConstraints binds all the same', served: S('netSoftLeaf', 'netSoft', 'root'), anchor: P('root'), expect: { code: 'ta-name-constraints', why: NC } },
  // The anchor's own constraints (OpenSSL applies a trust anchor certificate's nameConstraints)
  { what: 'constraint on the anchor itself, two levels above the leaf: fails', served: S('underAnchorLeaf', 'underAnchor', 'anchorNet'), anchor: P('anchorNet'),
    expect: { code: 'ta-name-constraints', why: /outside the permitted subtrees \(dNSName "example\.net"\) of the nameConstraints of certificate at depth 2 \(CN=NC Anchor permits example\.net\)/ } },
  { what: 'constraint on the anchor itself, leaf inside it: authenticates', served: S('underAnchorLeafOk', 'underAnchor', 'anchorNet'), anchor: P('anchorNet'), names: ['mx.example.net'], expect: { ok: true } },
  { what: 'a constrained CA above the anchor does not count', served: S('underAnchorLeaf', 'underAnchor', 'anchorNet'), anchor: P('underAnchor'), expect: { ok: true } },
  // The CN as OpenSSL's NAME_CONSTRAINTS_check_CN takes it
  { what: 'CN-only leaf mx.example.com under a constraint permitting example.net: fails', served: S('cnOnlyNet', 'net', 'root'), anchor: P('root'),
    expect: { code: 'ta-name-constraints', why: /the subject CN "mx\.example\.com" as a host name \(it has no SAN dNSName\), outside the permitted subtrees/ } },
  { what: 'CN-only leaf mx.example.com under a constraint permitting example.com: authenticates', served: S('cnOnlyCom', 'com', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'a wildcard CN-only leaf *.example.com under a constraint permitting example.net: fails (it cannot escape the constraint)', served: S('cnWildNet', 'net', 'root'), anchor: P('root'),
    expect: { code: 'ta-name-constraints', why: /the subject CN "\*\.example\.com" as a host name \(it has no SAN dNSName\), outside the permitted subtrees/ } },
  { what: 'a wildcard CN-only leaf *.example.com under a constraint permitting example.com: authenticates', served: S('cnWildCom', 'com', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'a CN that is not a host name is not constrained (the SAN is)', served: S('cnNotHost', 'net', 'root'), anchor: P('root'), names: ['mx.example.net'], expect: { ok: true } },
  // Self-issued intermediates (RFC 5280 §6.1.4; §6.1.3 (b) applies to the others)
  { what: 'a self-issued intermediate is exempt from the constraints above it', served: S('rolloverLeaf', 'rollover', 'siAnchor'), anchor: P('siAnchor'), expect: { ok: true } },
  { what: 'an intermediate of another name is not exempt (its SAN is checked)', served: S('outsideLeaf', 'outside', 'siAnchor'), anchor: P('siAnchor'),
    expect: { code: 'ta-name-constraints', why: /depth 1 \(CN=Intermediate named outside\) names the subjectAltName dNSName "ca\.example\.org", outside the permitted subtrees \(dNSName "example\.com"\) of the nameConstraints of certificate at depth 2/ } },
  // Malformed nameConstraints (RFC 5280 §4.2.1.10: not empty; minimum 0, maximum absent)
  { what: 'an empty nameConstraints fails as malformed', served: S('emptyLeaf', 'empty', 'root'), anchor: P('root'), expect: { code: 'ta-bad-extension', why: /depth 1 .*cannot be parsed: nameConstraints: neither permitted nor excluded subtrees/ } },
  { what: 'a nameConstraints minimum other than 0 fails', served: S('minLeaf', 'min', 'root'), anchor: P('root'), expect: { code: 'ta-bad-extension', why: /nameConstraints: a permitted subtree with a minimum other than 0/ } },
  { what: 'a nameConstraints maximum fails', served: S('maxLeaf', 'max', 'root'), anchor: P('root'), expect: { code: 'ta-bad-extension', why: /nameConstraints: a permitted subtree with a maximum/ } },
  // Unrecognized critical extensions (RFC 5280 §4.2), every certificate of leaf..anchor
  { what: 'a leaf with a critical unknown extension fails', served: S('criticalLeaf', 'plain', 'root'), anchor: P('root'),
    expect: { code: 'ta-critical-extension', why: /depth 0 \(CN=mx\.example\.com\) has a critical extension that cannot be processed: 1\.3\.6\.1\.4\.1\.32473\.1\.1 \(RFC 5280 §4\.2/ } },
  { what: 'the same extension non-critical: authenticates', served: S('softLeaf', 'plain', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'a critical issuerAltName is not recognized either (as OpenSSL)', served: S('criticalIanLeaf', 'plain', 'root'), anchor: P('root'),
    expect: { code: 'ta-critical-extension', why: /issuerAltName \(2\.5\.29\.18\)/ } },
  { what: 'a critical certificatePolicies is recognized (as OpenSSL)', served: S('criticalPoliciesLeaf', 'plain', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'an intermediate with a critical unknown extension fails', served: S('midCriticalLeaf', 'midCritical', 'root'), anchor: P('root'),
    expect: { code: 'ta-critical-extension', why: /depth 1 \(CN=Intermediate with a critical unknown extension\) has a critical extension/ } },
  { what: 'that intermediate as the anchor fails too', served: S('midCriticalLeaf', 'midCritical', 'root'), anchor: P('midCritical'), expect: { code: 'ta-critical-extension', why: /depth 1/ } },
  { what: 'an intermediate with the same extension non-critical: authenticates', served: S('midSoftLeaf', 'midSoft', 'root'), anchor: P('root'), expect: { ok: true } },
  { what: 'an anchor with a critical unknown extension fails (OpenSSL checks the trust anchor certificate)', served: S('underCriticalAnchorLeaf', 'underCriticalAnchor', 'anchorCritical'), anchor: P('anchorCritical'),
    expect: { code: 'ta-critical-extension', why: /depth 2 \(CN=Anchor with a critical unknown extension\)/ } },
  { what: 'a critical unknown extension above the anchor does not count', served: S('underCriticalAnchorLeaf', 'underCriticalAnchor', 'anchorCritical'), anchor: P('underCriticalAnchor'), expect: { ok: true } },
];

describe('DANE-TA (usage 2): name constraints and critical extensions', () => {
  it.each(taCases.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    const r = run([ta201(c.anchor())], c.served(), c.names ?? COM);
    if ('ok' in c.expect) {
      expect(r).toMatchObject({ ok: true, usage: 'DANE-TA' });
      return;
    }
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.records[0]).toMatchObject({ code: c.expect.code, why: expect.stringMatching(c.expect.why) });
    expect(r.reason).toMatch(c.expect.why);
  });
});

describe('DANE-EE (usage 3): no checks beyond the match (RFC 7672 §3.1.1)', () => {
  it.each([
    ['a leaf with a critical unknown extension', S('criticalLeaf', 'plain', 'root')],
    ['a leaf outside its issuer\'s name constraints', S('netLeaf', 'net', 'root')],
    ['a leaf below an intermediate with a critical unknown extension', S('midCriticalLeaf', 'midCritical', 'root')],
  ] as const)('3 1 1 on %s authenticates', (_what, served) => {
    const chain = served();
    expect(run([spki311(chain[0]!)], chain)).toMatchObject({ ok: true, usage: 'DANE-EE', depth: 0 });
  });
});

describe('checkPkix (verify/secure): the same checks, the CA-file root included', () => {
  const pkix = (served: Issued[], anchor: Issued, patterns = ['hostname']) =>
    checkPkix(served.map((c) => c.der), [anchor.certPem], patterns, { host: 'mx.example.com', nexthop: 'example.com', now });
  it.each([
    ['intermediate permits example.net, leaf mx.example.com', S('netLeaf', 'net'), P('root'), /names the subjectAltName dNSName "mx\.example\.com", outside the permitted subtrees \(dNSName "example\.net"\)/],
    ['CA-file root permits example.net', S('underAnchorLeaf', 'underAnchor'), P('anchorNet'), /of the nameConstraints of certificate at depth 2 \(CN=NC Anchor permits example\.net\)/],
    ['excluded mx.example.com', S('exclLeaf', 'excl'), P('root'), /inside the excluded subtree/],
    ['a leaf with a critical unknown extension', S('criticalLeaf', 'plain'), P('root'), /depth 0 .*has a critical extension that cannot be processed/],
    ['an intermediate with a critical unknown extension', S('midCriticalLeaf', 'midCritical'), P('root'), /depth 1 .*has a critical extension that cannot be processed/],
    ['a CA-file root with a critical unknown extension', S('underCriticalAnchorLeaf', 'underCriticalAnchor'), P('anchorCritical'), /depth 2 \(CN=Anchor with a critical unknown extension\) has a critical extension/],
  ] as const)('%s fails with the reason', (_what, served, anchor, why) => {
    expect(pkix(served(), anchor())).toEqual({ ok: false, reason: expect.stringMatching(why) });
  });
  it.each([
    ['inside the permitted subtree', S('comLeaf', 'com'), P('root')],
    ['a non-critical unknown extension', S('softLeaf', 'plain'), P('root')],
    ['a self-issued intermediate outside the constraint', S('rolloverLeaf', 'rollover'), P('siAnchor')],
  ] as const)('%s passes', (_what, served, anchor) => {
    expect(pkix(served(), anchor())).toMatchObject({ ok: true });
  });
});

describe('the operator sees the reason: findings', () => {
  it('ta-name-constraints and ta-critical-extension become ta-chain-invalid findings with the sentence', () => {
    const a = run([ta201(pki.root!)], [pki.netLeaf!, pki.net!, pki.root!]);
    const b = run([ta201(pki.root!)], [pki.criticalLeaf!, pki.plain!, pki.root!]);
    if (a.ok || b.ok) throw new Error('expected failures');
    const records = [a.records[0]!, b.records[0]!];
    expect(records.map((r) => r.code)).toEqual(['ta-name-constraints', 'ta-critical-extension']);
    const result = {
      domain: 'example.com', verdict: 'tempfail', host: null, address: null, tls: false, reason: 'x', mx: null, resolverValidates: true, level: 'dane', policySource: 'default',
      hosts: [{
        name: 'mx.example.com', preference: 10, implicit: false, dns: [], addresses: ['192.0.2.1'], level: 'dane', levelReason: 'DANE', tlsaBase: 'mx.example.com',
        tlsa: records.map((r) => ({ record: r.record, usable: true })),
        attempts: [{ address: '192.0.2.1', result: 'failed', tls: true, chain: a.chain, authentication: { ...a, records } }],
        status: 'failed',
      }],
    } as unknown as DomainResult;
    const found = diagnose(result, now).filter((x) => x.code === 'ta-chain-invalid');
    expect(found.map((x) => x.message)).toEqual([
      expect.stringMatching(/under DANE-TA \(TLSA 2 0 1 .*outside the permitted subtrees \(dNSName "example\.net"\)/),
      expect.stringMatching(/under DANE-TA \(TLSA 2 0 1 .*has a critical extension that cannot be processed/),
    ]);
  });
});

// ------------------------------------------------------------------------------------------
// The reader and the matcher on hand-built DER (forms the test PKI does not make).

const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const oidDer = (dotted: string) => {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a! + b!];
  for (const arc of rest) {
    const bytes = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
};
const atv = (oid: string, value: Buffer) => tlv(0x30, oidDer(oid), value);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const printable = (s: string) => tlv(0x13, Buffer.from(s, 'latin1'));
const ia5 = (s: string) => tlv(0x16, Buffer.from(s, 'latin1'));
const nameDer = (...rdns: Buffer[][]) => tlv(0x30, ...rdns.map((attrs) => tlv(0x31, ...attrs)));
const CN = '2.5.4.3';
const O = '2.5.4.10';
const C = '2.5.4.6';
const EMAIL = '1.2.840.113549.1.9.1';
const ext = (oid: string, value: Buffer, isCritical = false) => tlv(0x30, oidDer(oid), ...(isCritical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
const certDer = (subject: Buffer, exts: Buffer[]) =>
  tlv(0x30,
    tlv(0x30,
      tlv(0xa0, tlv(0x02, Buffer.from([2]))),
      tlv(0x02, Buffer.from([1])),
      tlv(0x30, oidDer('1.2.840.10045.4.3.2')),
      nameDer([atv(CN, utf8('Issuer'))]),
      tlv(0x30, tlv(0x17, Buffer.from('250101000000Z')), tlv(0x17, Buffer.from('350101000000Z'))),
      subject,
      tlv(0x30, tlv(0x30, oidDer('1.2.840.10045.2.1')), tlv(0x03, Buffer.from([0, 4, 1, 2]))),
      ...(exts.length ? [tlv(0xa3, tlv(0x30, ...exts))] : []),
    ),
    tlv(0x30, oidDer('1.2.840.10045.4.3.2')),
    tlv(0x03, Buffer.from([0, 1, 2, 3])),
  );
const dns = (s: string) => tlv(0x82, Buffer.from(s, 'latin1'));
const ip = (...b: number[]) => tlv(0x87, Buffer.from(b));
const email = (s: string) => tlv(0x81, Buffer.from(s, 'latin1'));
const uri = (s: string) => tlv(0x86, Buffer.from(s, 'latin1'));
const dirName = (n: Buffer) => tlv(0xa4, n);
const san = (...names: Buffer[]) => ext('2.5.29.17', tlv(0x30, ...names));
const subtrees = (tag: number, ...bases: Buffer[]) => tlv(tag, ...bases.map((b) => tlv(0x30, b)));
const ncExt = (permitted: Buffer[], excluded: Buffer[] = []) =>
  ext('2.5.29.30', tlv(0x30, ...(permitted.length ? [subtrees(0xa0, ...permitted)] : []), ...(excluded.length ? [subtrees(0xa1, ...excluded)] : [])), true);

function read(der: Buffer): CertExtensions {
  const r = readCertExtensions(der);
  if (!r.ok) throw new Error(r.why);
  return r.value;
}
const constraintsOf = (...e: Parameters<typeof ncExt>) => read(certDer(nameDer([atv(CN, utf8('CA'))]), [ncExt(...e)])).nameConstraints!;

describe('nameConstraintViolation: name forms (RFC 5280 §4.2.1.10, as OpenSSL)', () => {
  const leafSubject = nameDer([atv(C, printable('DE'))], [atv(O, utf8('Example  Mail'))], [atv(CN, utf8('mx.example.com'))]);
  it.each([
    // [what, subject, SAN names, permitted, excluded, expected: undefined = passes, else a RegExp]
    ['iPAddress inside a permitted /24', leafSubject, [dns('mx.example.com'), ip(192, 0, 2, 25)], [ip(192, 0, 2, 0, 255, 255, 255, 0)], [], undefined],
    ['iPAddress outside a permitted /24', leafSubject, [ip(198, 51, 100, 1)], [ip(192, 0, 2, 0, 255, 255, 255, 0)], [], /iPAddress 198\.51\.100\.1, outside the permitted subtrees \(iPAddress 192\.0\.2\.0\/255\.255\.255\.0\)/],
    ['iPAddress inside an excluded /24', leafSubject, [ip(192, 0, 2, 25)], [], [ip(192, 0, 2, 0, 255, 255, 255, 0)], /inside the excluded subtree iPAddress/],
    ['an IPv6 address never matches an IPv4 constraint', leafSubject, [ip(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)], [ip(192, 0, 2, 0, 255, 255, 255, 0)], [], /outside the permitted subtrees/],
    ['an IPv6 address inside a permitted /32', leafSubject, [ip(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)], [ip(0x20, 1, 0xd, 0xb8, ...new Array(12).fill(0), 0xff, 0xff, 0xff, 0xff, ...new Array(12).fill(0))], [], undefined],
    ['an iPAddress of 5 bytes under an iPAddress constraint is refused', leafSubject, [ip(1, 2, 3, 4, 5)], [ip(192, 0, 2, 0, 255, 255, 255, 0)], [], /cannot be checked .*an iPAddress of 5 bytes/],
    ['directoryName: the subject below the permitted C=DE, O=Example Mail (canonical: case, whitespace)', leafSubject, [dns('mx.example.com')], [dirName(nameDer([atv(C, printable('de'))], [atv(O, printable(' example mail '))]))], [], undefined],
    ['directoryName: the subject outside the permitted C=FR', leafSubject, [dns('mx.example.com')], [dirName(nameDer([atv(C, printable('FR'))]))], [], /the subject directoryName "C=DE, O=Example  Mail, CN=mx\.example\.com", outside the permitted subtrees \(directoryName "C=FR"\)/],
    ['directoryName: a base longer than the subject does not contain it', nameDer([atv(C, printable('DE'))]), [], [dirName(nameDer([atv(C, printable('DE'))], [atv(O, utf8('X'))]))], [], /outside the permitted subtrees/],
    ['directoryName: excluded C=DE', leafSubject, [], [], [dirName(nameDer([atv(C, printable('DE'))]))], /inside the excluded subtree directoryName "C=DE"/],
    ['directoryName: an empty subject is not checked', nameDer(), [dns('mx.example.com')], [dirName(nameDer([atv(C, printable('FR'))]))], [], undefined],
    ['rfc822Name: a SAN mailbox inside a permitted host', leafSubject, [email('postmaster@example.com')], [email('example.com')], [], undefined],
    ['rfc822Name: a subject emailAddress outside a permitted .example.net', nameDer([atv(CN, utf8('mx.example.com'))], [atv(EMAIL, ia5('postmaster@example.com'))]), [dns('mx.example.com')], [email('.example.net')], [], /the subject emailAddress "postmaster@example\.com", outside the permitted subtrees \(rfc822Name "\.example\.net"\)/],
    ['rfc822Name: the local part of a mailbox constraint is case-sensitive', leafSubject, [email('Postmaster@example.com')], [email('postmaster@example.com')], [], /outside the permitted subtrees/],
    ['uniformResourceIdentifier under a URI constraint: not checked here, refused', leafSubject, [uri('https://mx.example.com/')], [uri('.example.com')], [], /which cannot be checked against the permitted uniformResourceIdentifier "\.example\.com".*so it is refused/],
    ['uniformResourceIdentifier without a URI constraint: no constraint of its form, passes', leafSubject, [dns('mx.example.com'), uri('https://elsewhere.example/')], [dns('example.com')], [], undefined],
    ['a dNSName constraint does not bind other forms', nameDer([atv(O, utf8('Example Mail'))]), [ip(198, 51, 100, 1)], [dns('example.net')], [], undefined],
    ['an empty dNSName base permits every name', leafSubject, [dns('mx.example.com')], [dns('')], [], undefined],
    ['one matching permitted subtree of several is enough', leafSubject, [dns('mx.example.com')], [dns('example.net'), dns('example.com')], [], undefined],
    ['a CN host name is not checked when the leaf has a SAN dNSName', leafSubject, [dns('mx.example.net')], [dns('example.net')], [], undefined],
    ['a CN host name is checked when the leaf has only other SANs', leafSubject, [ip(192, 0, 2, 25)], [dns('example.net')], [], /the subject CN "mx\.example\.com" as a host name/],
    ['a single-label CN is not a host name (OpenSSL cn2dnsid)', nameDer([atv(CN, utf8('localhost'))]), [], [dns('example.net')], [], undefined],
  ] as const)('%s', (_what, subject, names, permitted, excluded, expected) => {
    const cert = read(certDer(subject, names.length ? [san(...names)] : []));
    const v = nameConstraintViolation(cert, true, constraintsOf([...permitted], [...excluded]), 'the nameConstraints of X');
    if (expected === undefined) expect(v).toBeUndefined();
    else expect(v).toMatch(expected);
  });
  it('a CN host name is checked for the leaf only', () => {
    const cert = read(certDer(nameDer([atv(CN, utf8('mx.example.com'))]), []));
    const nc = constraintsOf([dns('example.net')]);
    expect(nameConstraintViolation(cert, true, nc, 'X')).toMatch(/CN/);
    expect(nameConstraintViolation(cert, false, nc, 'X')).toBeUndefined();
  });
});

describe('readCertExtensions: extension list, subjectAltName, nameConstraints', () => {
  const subject = nameDer([atv(CN, utf8('x'))]);
  it('lists every extension with its criticality', () => {
    const r = read(certDer(subject, [ext('2.5.29.19', tlv(0x30), true), ext(UNKNOWN, Buffer.from([5, 0])), san(dns('a.example'), ip(192, 0, 2, 1), email('a@b'), uri('u:'), dirName(nameDer([atv(CN, utf8('d'))])))]));
    expect(r.extensions).toEqual([{ id: '2.5.29.19', critical: true }, { id: UNKNOWN, critical: false }, { id: '2.5.29.17', critical: false }]);
    expect(r.subjectAltName?.names.map((n) => n.form)).toEqual(['dNSName', 'iPAddress', 'rfc822Name', 'uniformResourceIdentifier', 'directoryName']);
    expect(r.subject).toEqual([[{ type: CN, tag: 0x0c, value: Buffer.from('x') }]]);
  });
  it.each([
    ['an empty nameConstraints', [ext('2.5.29.30', tlv(0x30))], /neither permitted nor excluded/],
    ['empty permitted subtrees', [ext('2.5.29.30', tlv(0x30, tlv(0xa0)))], /empty permitted subtrees/],
    ['a minimum of 1', [ext('2.5.29.30', tlv(0x30, tlv(0xa1, tlv(0x30, dns('a'), tlv(0x80, Buffer.from([1]))))))], /excluded subtree with a minimum other than 0/],
    ['a maximum', [ext('2.5.29.30', tlv(0x30, tlv(0xa0, tlv(0x30, dns('a'), tlv(0x81, Buffer.from([0]))))))], /permitted subtree with a maximum/],
    ['an unknown GeneralName tag', [san(tlv(0x89, Buffer.from('x')))], /unknown GeneralName tag 0x89/],
    ['bytes after the subjectAltName', [ext('2.5.29.17', Buffer.concat([tlv(0x30, dns('a')), Buffer.from([0])]))], /subjectAltName: bytes after/],
    ['a truncated directoryName', [san(tlv(0xa4, Buffer.from([0x30, 0x05, 0x31])))], /directoryName/],
  ])('fails on %s', (_what, exts, why) => {
    const r = readCertExtensions(certDer(subject, exts));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.why).toMatch(why);
  });
  it('an explicit minimum of 0 is accepted (DEFAULT, harmless)', () => {
    expect(readCertExtensions(certDer(subject, [ext('2.5.29.30', tlv(0x30, tlv(0xa0, tlv(0x30, dns('a'), tlv(0x80, Buffer.from([0]))))))])).ok).toBe(true);
  });
  it('unhandledExtension: OpenSSL\'s recognized list; proxy certificates refused', () => {
    const r = (e: Buffer[]) => unhandledExtension(read(certDer(subject, e)));
    expect(r([ext('2.5.29.32', tlv(0x30), true), ext('2.5.29.37', tlv(0x30), true), ext('2.5.29.54', tlv(0x02, Buffer.from([0])), true)])).toBeUndefined();
    expect(r([ext('2.5.29.35', tlv(0x30), true)])).toMatch(/authorityKeyIdentifier \(2\.5\.29\.35\)/);
    expect(r([ext(UNKNOWN, Buffer.from([5, 0]), true), ext('1.3.6.1.5.5.7.1.1', tlv(0x30), true)])).toMatch(/critical extensions that cannot be processed: 1\.3\.6\.1\.4\.1\.32473\.1\.1, authorityInfoAccess/);
    expect(r([ext('1.3.6.1.5.5.7.1.14', tlv(0x30))])).toMatch(/proxy certificate/);
  });
  it('every truncation and single-byte change of a constrained CA: a value or a reason, never an exception', () => {
    const handMade = certDer(nameDer([atv(C, printable('DE'))], [atv(EMAIL, ia5('a@b'))]), [
      san(dns('a'), ip(1, 2, 3, 4), dirName(nameDer([atv(CN, utf8('d'))])), tlv(0xa0, oidDer('1.3.6.1.5.5.7.8.9'), tlv(0xa0, utf8('ü@x')))),
      ncExt([dns('a'), ip(1, 2, 3, 4, 255, 255, 255, 255), dirName(nameDer([atv(C, printable('DE'))])), email('.x')], [uri('y')]),
    ]);
    expect(readCertExtensions(handMade).ok).toBe(true);
    for (const der of [pki.net!.der, pki.both!.der, handMade]) {
      for (let n = 0; n < der.length; n++) expect(readCertExtensions(der.subarray(0, n)).ok).toBe(false);
      for (let i = 0; i < der.length; i++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const m = Buffer.from(der);
          m[i]! ^= x;
          expect(() => {
            const r = readCertExtensions(m);
            if (r.ok && r.value.nameConstraints) nameConstraintViolation(r.value, true, r.value.nameConstraints, 'X');
            if (r.ok) unhandledExtension(r.value);
          }).not.toThrow();
        }
      }
    }
  });
});
