/**
 * checkPkix (the `verify` and `secure` levels): the chain from the leaf through the served
 * certificates to a CA-file anchor, with RFC 5280 §6.1.4 constraints as OpenSSL/Postfix
 * apply them: issuers are CAs whose keyUsage allows keyCertSign, pathLenConstraint (the
 * CA-file root's included), extensions that parse. Chains are generated in the test run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFingerprints, checkPkix } from '../../../src/policy/verify.js';
import { certSha256, makeCert, makeChain, type CertSpec, type Chain, type Issued } from '../../support/pki.js';
import { X509Certificate } from 'node:crypto';
import { nameMatches } from '../../../src/policy/verify.js';
import { certSha512, spkiSha256, spkiSha512 } from '../../support/pki.js';
import { parse, dom, colons } from '../../support/policy-table-helpers.js';

const now = new Date();
const ctx = { host: 'mx.example.test', nexthop: 'example.test', now };
const ca = (cn: string, issuer?: Issued, over: Partial<CertSpec> = {}) => makeCert({ cn, ca: true, issuer, ...over });
const leafOf = (issuer: Issued, over: Partial<CertSpec> = {}) => makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer, ...over });
const pkix = (served: Issued[], anchors: Issued[], patterns = ['hostname']) => checkPkix(served.map((c) => c.der), anchors.map((a) => a.certPem), patterns, ctx);

let chain: Chain;
beforeAll(async () => {
  chain = await makeChain({ leafCn: 'mx.example.test' });
});

describe('checkPkix: the usual chain', () => {
  it('leaf + intermediate to a CA-file root passes; the root may be sent too', () => {
    expect(pkix([chain.leaf, chain.intermediate], [chain.root])).toMatchObject({ ok: true, detail: expect.stringMatching(/PKIX chain to CN=DANE Test Root CA, name mx.example.test/) });
    expect(pkix([chain.leaf, chain.intermediate, chain.root], [chain.root]).ok).toBe(true);
    expect(pkix([chain.leaf, chain.intermediate], [chain.intermediate]).ok).toBe(true);
  });
  it('an unknown root, a missing intermediate or another name fails', async () => {
    const other = await makeChain({ leafCn: 'mx.example.test' });
    expect(pkix([chain.leaf, chain.intermediate], [other.root])).toEqual({ ok: false, reason: 'the served chain does not lead to a trusted CA' });
    expect(pkix([chain.leaf], [chain.root]).ok).toBe(false);
    expect(pkix([chain.leaf, chain.intermediate], [chain.root], ['other.example.test'])).toMatchObject({ ok: false, reason: expect.stringMatching(/names none of/) });
  });
  it('a self-signed leaf in the CA file that is not a CA still fails (unchanged)', async () => {
    const self = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'] });
    expect(pkix([self], [self])).toMatchObject({ ok: false, reason: expect.stringMatching(/is not a CA/) });
    expect(checkFingerprints([self.der], [{ algorithm: 'sha256', hex: certSha256(self.der) }]).ok).toBe(true);
  });
});

describe('checkPkix: pathLenConstraint (RFC 5280 §4.2.1.9, §6.1.4 (l)/(m))', () => {
  let r0: Issued, i0: Issued, l0: Issued;
  let r1: Issued, i1: Issued, l1: Issued;
  let j1: Issued, lj: Issued;
  let s0: Issued, roll: Issued, ls: Issued;
  beforeAll(async () => {
    [r0, r1, s0] = await Promise.all([ca('PKIX Root pathlen 0', undefined, { pathLen: 0 }), ca('PKIX Root pathlen 1', undefined, { pathLen: 1 }), ca('PKIX Root self-issued', undefined, { pathLen: 0 })]);
    [i0, i1, roll] = await Promise.all([ca('PKIX Intermediate 0', r0), ca('PKIX Intermediate 1', r1), ca('PKIX Root self-issued', s0)]);
    [l0, l1, j1, ls] = await Promise.all([leafOf(i0), leafOf(i1), ca('PKIX Intermediate 1b', i1), leafOf(roll)]);
    lj = await leafOf(j1);
  });

  it('a CA-file root with pathlen 0 followed by an intermediate CA fails', () => {
    expect(pkix([l0, i0], [r0])).toEqual({ ok: false, reason: expect.stringMatching(/depth 2 \(CN=PKIX Root pathlen 0\) has pathLenConstraint 0 .*depth 1 \(CN=PKIX Intermediate 0\)/) });
    expect(pkix([l0, i0, r0], [r0]).ok).toBe(false);
  });
  it('pathlen 1 with one intermediate passes; with two it fails', () => {
    expect(pkix([l1, i1], [r1]).ok).toBe(true);
    expect(pkix([lj, j1, i1], [r1])).toMatchObject({ ok: false, reason: expect.stringMatching(/pathLenConstraint 1/) });
  });
  it('the CA-file certificate is the top: with the intermediate as anchor, the root above does not count', () => {
    expect(pkix([l0, i0, r0], [i0]).ok).toBe(true);
  });
  it('a self-issued intermediate does not count', () => {
    expect(pkix([ls, roll], [s0]).ok).toBe(true);
  });
});

describe('checkPkix: keyUsage keyCertSign and malformed extensions', () => {
  let root: Issued;
  let noSign: Issued, noSignLeaf: Issued;
  let bad: Issued, badLeaf: Issued;
  let rootNoSign: Issued, under: Issued, underLeaf: Issued;
  beforeAll(async () => {
    [root, rootNoSign] = await Promise.all([ca('PKIX KU Root'), ca('PKIX Root without keyCertSign', undefined, { keyUsage: 'critical,cRLSign' })]);
    [noSign, bad, under] = await Promise.all([
      ca('PKIX CA without keyCertSign', root, { keyUsage: 'critical,digitalSignature' }),
      ca('PKIX CA with truncated basicConstraints', root, { basicConstraints: 'critical,DER:30:03:01:01' }),
      ca('PKIX Intermediate under root without keyCertSign', rootNoSign),
    ]);
    [noSignLeaf, badLeaf, underLeaf] = await Promise.all([leafOf(noSign), leafOf(bad), leafOf(under)]);
  });

  it('an intermediate whose keyUsage lacks keyCertSign fails, and says so', () => {
    expect(pkix([noSignLeaf, noSign], [root])).toEqual({ ok: false, reason: expect.stringMatching(/depth 1 \(CN=PKIX CA without keyCertSign\) issues depth 0 but its keyUsage \(digitalSignature\) lacks keyCertSign/) });
  });
  it('a CA-file root whose keyUsage lacks keyCertSign fails', () => {
    expect(pkix([underLeaf, under], [rootNoSign])).toEqual({ ok: false, reason: expect.stringMatching(/depth 2 .*keyUsage \(cRLSign\) lacks keyCertSign/) });
  });
  it('an intermediate whose basicConstraints cannot be parsed fails with the reason', () => {
    expect(pkix([badLeaf, bad], [root])).toEqual({ ok: false, reason: expect.stringMatching(/depth 1 \(CN=PKIX CA with truncated basicConstraints\) cannot be parsed: basicConstraints/) });
  });
});

describe('verify/secure names as Postfix hands them to OpenSSL (tls_client.c add_namechecks)', () => {
  let wildcard: Issued, cnOnly: Issued, sanAndCn: Issued, deep: Issued;
  const ctx = { host: 'mx.example.test', nexthop: 'example.test' };
  const x = (c: Issued) => new X509Certificate(c.der);
  beforeAll(async () => {
    [wildcard, cnOnly, sanAndCn, deep] = await Promise.all([
      makeCert({ cn: 'wildcard', sans: ['*.example.test'] }),
      makeCert({ cn: 'mx.example.test' }),
      makeCert({ cn: 'mx.example.test', sans: ['mail.elsewhere.test'] }),
      makeCert({ cn: 'deep', sans: ['A.B.Example.TEST'] }),
    ]);
  });
  it('dot-nexthop and `.suffix` accept a wildcard certificate for the suffix (OpenSSL leading-dot reference names)', () => {
    expect(nameMatches(x(wildcard), ['dot-nexthop'], ctx)).toBe('*.example.test');
    expect(nameMatches(x(wildcard), ['.example.test'], ctx)).toBe('*.example.test');
    expect(nameMatches(x(wildcard), ['hostname'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(wildcard), ['nexthop'], ctx)).toBeUndefined(); // *.example.test does not name example.test
  });
  it('the subject CN counts when the certificate has no DNS names, for every pattern kind', () => {
    expect(nameMatches(x(cnOnly), ['dot-nexthop'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(cnOnly), ['hostname'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(sanAndCn), ['dot-nexthop', 'hostname'], ctx)).toBeUndefined(); // DNS names present: CN ignored
  });
  it('`.suffix` is subdomains at any depth but not the suffix itself; case is ignored', () => {
    expect(nameMatches(x(deep), ['.example.test'], ctx)).toBe('A.B.Example.TEST'); // the certificate's spelling
    expect(nameMatches(x(deep), ['.b.example.test'], ctx)).toBe('A.B.Example.TEST');
    expect(nameMatches(x(deep), ['.a.b.example.test'], ctx)).toBeUndefined();
    expect(nameMatches(x(deep), ['a.b.example.test'], ctx)).toBe('a.b.example.test');
  });
  it('the secure default (nexthop:dot-nexthop) authenticates an MX with a wildcard certificate for the domain', async () => {
    const root = await makeCert({ cn: 'Review Root', ca: true });
    const leaf = await makeCert({ cn: 'wildcard', sans: ['*.example.test'], issuer: root });
    const r = checkPkix([leaf.der], [root.certPem], ['nexthop', 'dot-nexthop'], { ...ctx, now: new Date() });
    expect(r).toEqual({ ok: true, detail: 'PKIX chain to CN=Review Root, name *.example.test' });
    expect(checkPkix([leaf.der], [root.certPem], ['nexthop', 'dot-nexthop'], { host: 'mx.other.test', nexthop: 'other.test', now: new Date() }).ok).toBe(false);
  });
});

describe('fingerprint matching (certificate or public key, Postfix ≥ 2.9)', () => {
  let leaf: Issued;
  beforeAll(async () => {
    leaf = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'] });
  });
  it('certificate and public-key digests, SHA-256 and SHA-512, are interchangeable', () => {
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha256', hex: spkiSha256(leaf.spkiDer) }])).toMatchObject({ ok: true, detail: 'public-key sha256 fingerprint matched' });
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha512', hex: certSha512(leaf.der) }])).toMatchObject({ ok: true, detail: 'certificate sha512 fingerprint matched' });
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha512', hex: spkiSha512(leaf.spkiDer) }]).ok).toBe(true);
  });
  it('a table line with an upper-case colon-separated digest (openssl x509 -fingerprint output) matches', () => {
    const t = parse(`x.example fingerprint match=${'00'.repeat(32)}|${colons(certSha256(leaf.der)).toUpperCase()}`);
    expect(checkFingerprints([leaf.der], dom(t, 'x.example').fingerprints).ok).toBe(true);
  });
  it('only the leaf counts: a digest of another certificate in the chain does not', async () => {
    const ca = await makeCert({ cn: 'FP CA', ca: true });
    const l = await makeCert({ cn: 'mx.example.test', issuer: ca });
    expect(checkFingerprints([l.der, ca.der], [{ algorithm: 'sha256', hex: certSha256(ca.der) }]).ok).toBe(false);
  });
});
