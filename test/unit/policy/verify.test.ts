/**
 * checkPkix (the `verify` and `secure` levels): the chain from the leaf through the served
 * certificates to a CA-file anchor, with RFC 5280 §6.1.4 constraints as OpenSSL/Postfix
 * apply them: issuers are CAs whose keyUsage allows keyCertSign, pathLenConstraint (the
 * CA-file root's included), extensions that parse. Chains are generated in the test run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFingerprints, checkPkix } from '../../../src/policy/verify.js';
import { certSha256, makeCert, makeChain, type CertSpec, type Chain, type Issued } from '../../support/pki.js';

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
