/**
 * RFC 7672 §3.1.2, RFC 7671 §5.2: DANE-TA(2): which certificates count as the anchor, and the usual
 * checks on every certificate from the leaf up to the anchor. (Matrix, DANE-EE and constraint cases:
 * 3.1-authenticate.test.ts.)
 */
import { Forge } from '../../support/forge.js';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeChain, type Chain } from '../../support/pki.js';
import { DAY, now, tlsa, run, failureCodes, CA_EXT, leafExt } from '../../support/authentication-fixtures.js';


let forge: Forge;

let good: Chain;

let other: Chain;

beforeAll(async () => {
  forge = new Forge();
  [good, other] = await Promise.all([makeChain({ leafCn: 'mx.example.test' }), makeChain({ leafCn: 'mx.example.test' })]);
});

afterAll(() => forge?.dispose());

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
