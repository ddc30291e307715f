import { X509Certificate, createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { associationMatchesInfo, authenticate } from '../../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../../src/core/rfc7672/tlsa.js';
import type { DomainResult } from '../../../src/core/result.js';
import { diagnose } from '../../../src/core/findings.js';
import type { TlsaData } from '../../../src/dns/types.js';
import { readCertExtensions } from '../../../src/x509/extensions.js';
import { makeCert, makeChain, type CertSpec, type Chain, type Issued } from '../../support/pki.js';

const DAY = 86_400_000;
const now = new Date();
const names = ['mx.example.test', 'example.test'];

function assoc(cert: Issued, selector: number, matchingType: number): Buffer {
  const selected = selector === 0 ? cert.der : cert.spkiDer;
  if (matchingType === 0) return selected;
  return createHash(matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest();
}
function tlsa(usage: number, selector: number, matchingType: number, cert: Issued, corrupt = false): TlsaData {
  const data = Buffer.from(assoc(cert, selector, matchingType));
  if (corrupt) data[data.length - 1]! ^= 0xff;
  return { usage, selector, matchingType, data };
}
function run(records: TlsaData[], served: Issued[], at = now, referenceNames = names) {
  return authenticate({ records: usableRecords(classifyTlsa(records)), served: served.map((c) => c.der), referenceNames, now: at });
}

let chains: Record<'rsa' | 'ecdsa' | 'ed25519', Chain>;
let other: Chain;
beforeAll(async () => {
  const [rsa, ecdsa, ed25519, o] = await Promise.all([
    makeChain({ key: 'rsa', leafCn: 'mx.example.test' }),
    makeChain({ key: 'ecdsa', leafCn: 'mx.example.test' }),
    makeChain({ key: 'ed25519', leafCn: 'mx.example.test' }),
    makeChain({ leafCn: 'mx.example.test' }),
  ]);
  chains = { rsa, ecdsa, ed25519 };
  other = o;
});

describe('usage × selector × matching type matrix', () => {
  for (const key of ['rsa', 'ecdsa', 'ed25519'] as const) {
    for (const usage of [2, 3]) {
      for (const selector of [0, 1]) {
        for (const mtype of [0, 1, 2]) {
          const label = `${key} ${usage} ${selector} ${mtype}`;
          it(`${label} matches`, () => {
            const c = chains[key];
            const target = usage === 3 ? c.leaf : c.intermediate;
            const r = run([tlsa(usage, selector, mtype, target)], [c.leaf, c.intermediate]);
            expect(r).toMatchObject({ ok: true, usage: usage === 3 ? 'DANE-EE' : 'DANE-TA', depth: usage === 3 ? 0 : 1 });
          });
          it(`${label} does not match a wrong digest`, () => {
            const c = chains[key];
            const target = usage === 3 ? c.leaf : c.intermediate;
            expect(run([tlsa(usage, selector, mtype, target, true)], [c.leaf, c.intermediate]).ok).toBe(false);
          });
          it(`${label} does not match another chain`, () => {
            const c = chains[key];
            const target = usage === 3 ? other.leaf : other.intermediate;
            expect(run([tlsa(usage, selector, mtype, target)], [c.leaf, c.intermediate]).ok).toBe(false);
          });
        }
      }
    }
  }
});

describe('DANE-EE (RFC 7672 §3.1.1): no name or date checks', () => {
  it('an expired self-signed leaf naming another host authenticates', async () => {
    const leaf = await makeCert({ cn: 'elsewhere.invalid', sans: ['elsewhere.invalid'], notBefore: new Date(now.getTime() - 400 * DAY), notAfter: new Date(now.getTime() - 10 * DAY) });
    expect(run([tlsa(3, 1, 1, leaf)], [leaf])).toMatchObject({ ok: true, usage: 'DANE-EE' });
  });
  it('matches the leaf only, never an issuer', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(3, 1, 1, c.intermediate)], [c.leaf, c.intermediate]).ok).toBe(false);
  });
  it('a matching PKIX-EE (usage 1) record never rescues a failed DANE-EE record', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(1, 1, 1, c.leaf)], [c.leaf, c.intermediate]).ok).toBe(false);
  });
  it('digest agility: a matching SHA-256 record does not count next to a failing SHA-512 one', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(3, 1, 1, c.leaf), tlsa(3, 1, 2, other.leaf)], [c.leaf, c.intermediate]).ok).toBe(false);
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(3, 1, 2, c.leaf)], [c.leaf, c.intermediate]).ok).toBe(true);
  });
});

describe('DANE-TA (RFC 7672 §3.1.2, §3.2.2)', () => {
  it('the root as anchor works when the server sends it', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(2, 0, 1, c.root)], [c.leaf, c.intermediate, c.root])).toMatchObject({ ok: true, depth: 2 });
  });
  it('an anchor the server did not send fails', () => {
    const c = chains.ecdsa;
    const r = run([tlsa(2, 0, 1, c.root)], [c.leaf, c.intermediate]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.records[0]!.why).toMatch(/served chain/);
  });
  it('the order the certificates were sent in does not matter', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(2, 1, 1, c.root)], [c.leaf, c.root, c.intermediate]).ok).toBe(true);
  });
  it('a served certificate that is not an issuer of the leaf is not an anchor', () => {
    const c = chains.ecdsa;
    expect(run([tlsa(2, 0, 1, other.intermediate)], [c.leaf, c.intermediate, other.intermediate]).ok).toBe(false);
  });
  it('an expired leaf fails', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test', leafNotBefore: new Date(now.getTime() - 100 * DAY), leafNotAfter: new Date(now.getTime() - DAY) });
    const r = run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/expired/);
  });
  it('a not-yet-valid leaf fails', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test', leafNotBefore: new Date(now.getTime() + DAY), leafNotAfter: new Date(now.getTime() + 100 * DAY) });
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate]).ok).toBe(false);
  });
  it('an expired intermediate anchor fails', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test', intermediateNotBefore: new Date(now.getTime() - 100 * DAY), intermediateNotAfter: new Date(now.getTime() - DAY) });
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate]).ok).toBe(false);
  });
  it('the same chain passes at a time inside every validity window', async () => {
    const c = chains.ecdsa;
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate], new Date(now.getTime() + 20 * DAY)).ok).toBe(true);
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate], new Date(now.getTime() + 400 * DAY)).ok).toBe(false);
  });
  it('a leaf naming another host fails; the MX host name or next-hop domain passes', async () => {
    const c = await makeChain({ leafCn: 'example.test' });
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate], now, ['mx.example.test']).ok).toBe(false);
    expect(run([tlsa(2, 0, 1, c.intermediate)], [c.leaf, c.intermediate], now, ['mx.example.test', 'example.test'])).toMatchObject({ ok: true, matchedName: 'example.test' });
  });
  it('wildcards: only the whole leftmost label, one label deep', async () => {
    const c = await makeChain({ leafCn: 'wild', leafSans: ['*.example.test'] });
    const ta = [tlsa(2, 0, 1, c.intermediate)];
    expect(run(ta, [c.leaf, c.intermediate], now, ['mx.example.test']).ok).toBe(true);
    expect(run(ta, [c.leaf, c.intermediate], now, ['a.mx.example.test']).ok).toBe(false);
    expect(run(ta, [c.leaf, c.intermediate], now, ['example.test']).ok).toBe(false);
    const partial = await makeChain({ leafCn: 'wild', leafSans: ['m*.example.test'] });
    expect(run([tlsa(2, 0, 1, partial.intermediate)], [partial.leaf, partial.intermediate], now, ['mx.example.test']).ok).toBe(false);
  });
  it('the CN counts only without DNS SANs', async () => {
    const cnOnly = await makeChain({ leafCn: 'mx.example.test', leafSans: null as unknown as string[] });
    expect(run([tlsa(2, 0, 1, cnOnly.intermediate)], [cnOnly.leaf, cnOnly.intermediate]).ok).toBe(true);
    const sanElsewhere = await makeChain({ leafCn: 'mx.example.test', leafSans: ['other.example.test'] });
    expect(run([tlsa(2, 0, 1, sanElsewhere.intermediate)], [sanElsewhere.leaf, sanElsewhere.intermediate]).ok).toBe(false);
  });
  it('a non-CA certificate cannot act as an issuer', async () => {
    const fakeCa = await makeCert({ cn: 'not-a-ca' });
    const leaf = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: fakeCa });
    expect(run([tlsa(2, 0, 1, fakeCa)], [leaf, fakeCa]).ok).toBe(false);
  });
});

describe('served chain edge cases', () => {
  it('an empty or unparsable chain fails cleanly', () => {
    expect(authenticate({ records: usableRecords(classifyTlsa([tlsa(3, 1, 1, other.leaf)])), served: [], referenceNames: names, now }).ok).toBe(false);
    expect(authenticate({ records: usableRecords(classifyTlsa([tlsa(3, 1, 1, other.leaf)])), served: [Buffer.from('garbage')], referenceNames: names, now }).ok).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------
// RFC 5280 §6.1.4 (k)–(n) below a DANE-TA anchor: cA, keyUsage keyCertSign, pathLenConstraint
// (RFC 7671 §5.2.2: "the usual checks"), and the strict DER reader behind them.

const ca = (cn: string, issuer?: Issued, over: Partial<CertSpec> = {}) => makeCert({ cn, ca: true, issuer, ...over });
const leafOf = (issuer: Issued, over: Partial<CertSpec> = {}) => makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer, ...over });
function failure(r: ReturnType<typeof run>) {
  expect(r.ok).toBe(false);
  return r.ok ? undefined : r.records[0];
}

describe('DANE-TA: pathLenConstraint of the anchor and below it (RFC 5280 §4.2.1.9, §6.1.4 (l)/(m))', () => {
  let p0: { anchor: Issued; mid: Issued; leaf: Issued };
  let p1: { anchor: Issued; mid: Issued; leaf: Issued };
  let p1long: { anchor: Issued; mid: Issued; low: Issued; leaf: Issued };
  let selfIssued: { anchor: Issued; rollover: Issued; leaf: Issued };
  let inner: { root: Issued; zero: Issued; below: Issued; leaf: Issued };
  let direct: { zero: Issued; leaf: Issued };
  beforeAll(async () => {
    const [a0, a1, a1l, aS, r, z] = await Promise.all([
      ca('Anchor pathlen 0', undefined, { pathLen: 0 }),
      ca('Anchor pathlen 1', undefined, { pathLen: 1 }),
      ca('Anchor pathlen 1 long', undefined, { pathLen: 1 }),
      ca('Anchor self-issued', undefined, { pathLen: 0 }),
      ca('Root without pathlen'),
      ca('Anchor pathlen 0 direct', undefined, { pathLen: 0 }),
    ]);
    const [m0, m1, m1l, rollover, zero, dleaf] = await Promise.all([
      ca('Intermediate under pathlen 0', a0),
      ca('Intermediate under pathlen 1', a1),
      ca('Intermediate 1 under pathlen 1', a1l),
      // Same name as its issuer, another key (a CA key rollover): self-issued, does not count.
      ca('Anchor self-issued', aS),
      ca('Intermediate pathlen 0', r, { pathLen: 0 }),
      leafOf(z),
    ]);
    const [l0, l1, low, lS, below] = await Promise.all([leafOf(m0), leafOf(m1), ca('Intermediate 2 under pathlen 1', m1l), leafOf(rollover), ca('Intermediate below pathlen 0', zero)]);
    const [lowLeaf, innerLeaf] = await Promise.all([leafOf(low), leafOf(below)]);
    p0 = { anchor: a0, mid: m0, leaf: l0 };
    p1 = { anchor: a1, mid: m1, leaf: l1 };
    p1long = { anchor: a1l, mid: m1l, low, leaf: lowLeaf };
    selfIssued = { anchor: aS, rollover, leaf: lS };
    inner = { root: r, zero, below, leaf: innerLeaf };
    direct = { zero: z, leaf: dleaf };
  });

  it('anchor with pathlen 0 followed by an intermediate CA fails', () => {
    const f = failure(run([tlsa(2, 0, 1, p0.anchor)], [p0.leaf, p0.mid, p0.anchor]));
    expect(f).toMatchObject({ code: 'ta-path-length' });
    expect(f!.why).toMatch(/depth 2 \(CN=Anchor pathlen 0\) has pathLenConstraint 0.*depth 1 \(CN=Intermediate under pathlen 0\)/);
  });
  it('the same anchor matched by its public key (2 1 1) fails the same way', () => {
    expect(failure(run([tlsa(2, 1, 1, p0.anchor)], [p0.leaf, p0.mid, p0.anchor]))).toMatchObject({ code: 'ta-path-length' });
  });
  it('anchor with pathlen 1 followed by one intermediate CA passes', () => {
    expect(run([tlsa(2, 0, 1, p1.anchor)], [p1.leaf, p1.mid, p1.anchor])).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 2 });
  });
  it('anchor with pathlen 1 followed by two intermediate CAs fails; the lower intermediate as anchor passes', () => {
    const served = [p1long.leaf, p1long.low, p1long.mid, p1long.anchor];
    const f = failure(run([tlsa(2, 0, 1, p1long.anchor)], served));
    expect(f).toMatchObject({ code: 'ta-path-length' });
    expect(f!.why).toMatch(/pathLenConstraint 1 .*intermediate number 2/);
    expect(run([tlsa(2, 0, 1, p1long.mid)], served)).toMatchObject({ ok: true, depth: 2 });
  });
  it('the anchor is the top: a pathlen 0 CA above it does not count', () => {
    expect(run([tlsa(2, 0, 1, p0.mid)], [p0.leaf, p0.mid, p0.anchor])).toMatchObject({ ok: true, depth: 1 });
  });
  it('pathlen 0 directly above the leaf passes (the leaf does not count)', () => {
    expect(run([tlsa(2, 0, 1, direct.zero)], [direct.leaf, direct.zero])).toMatchObject({ ok: true, depth: 1 });
  });
  it('a pathlen 0 intermediate below the anchor binds the certificates below it', () => {
    const served = [inner.leaf, inner.below, inner.zero, inner.root];
    const f = failure(run([tlsa(2, 0, 1, inner.root)], served));
    expect(f).toMatchObject({ code: 'ta-path-length' });
    expect(f!.why).toMatch(/depth 2 \(CN=Intermediate pathlen 0\) has pathLenConstraint 0/);
    expect(failure(run([tlsa(2, 0, 1, inner.zero)], served))).toMatchObject({ code: 'ta-path-length' });
    expect(run([tlsa(2, 0, 1, inner.below)], served)).toMatchObject({ ok: true, depth: 1 });
  });
  it('a self-issued intermediate does not count toward pathlen (RFC 5280 §6.1.4 (l))', () => {
    expect(run([tlsa(2, 0, 1, selfIssued.anchor)], [selfIssued.leaf, selfIssued.rollover, selfIssued.anchor])).toMatchObject({ ok: true, depth: 2 });
  });
});

describe('DANE-TA: keyUsage keyCertSign of the issuers (RFC 5280 §4.2.1.3, §6.1.4 (n))', () => {
  let root: Issued;
  let noSign: Issued;
  let noSignLeaf: Issued;
  let noKu: Issued;
  let noKuLeaf: Issued;
  let rootNoSign: Issued;
  let underRootNoSign: Issued;
  let underRootNoSignLeaf: Issued;
  beforeAll(async () => {
    [root, rootNoSign] = await Promise.all([ca('KU Root'), ca('KU Root without keyCertSign', undefined, { keyUsage: 'critical,digitalSignature,cRLSign' })]);
    [noSign, noKu, underRootNoSign] = await Promise.all([
      ca('CA without keyCertSign', root, { keyUsage: 'critical,digitalSignature' }),
      ca('CA without keyUsage', root, { keyUsage: null }),
      ca('Intermediate under root without keyCertSign', rootNoSign),
    ]);
    [noSignLeaf, noKuLeaf, underRootNoSignLeaf] = await Promise.all([leafOf(noSign), leafOf(noKu), leafOf(underRootNoSign)]);
  });

  it("node:crypto's checkIssued (OpenSSL X509_check_issued) does enforce keyCertSign; verify() alone does not", () => {
    const leaf = new X509Certificate(noSignLeaf.der);
    expect(leaf.verify(new X509Certificate(noSign.der).publicKey)).toBe(true);
    expect(leaf.checkIssued(new X509Certificate(noSign.der))).toBe(false);
    expect(new X509Certificate(noKuLeaf.der).checkIssued(new X509Certificate(noKu.der))).toBe(true);
    expect(new X509Certificate(noSign.der).checkIssued(new X509Certificate(root.der))).toBe(true);
  });
  it('an anchor whose keyUsage lacks keyCertSign fails, and says so', () => {
    const f = failure(run([tlsa(2, 0, 1, noSign)], [noSignLeaf, noSign]));
    expect(f).toMatchObject({ code: 'ta-not-ca' });
    expect(f!.why).toMatch(/depth 1 \(CN=CA without keyCertSign\) issues depth 0 but its keyUsage \(digitalSignature\) lacks keyCertSign/);
  });
  it('an intermediate whose keyUsage lacks keyCertSign fails below a good anchor', () => {
    expect(failure(run([tlsa(2, 0, 1, root)], [noSignLeaf, noSign, root]))).toMatchObject({ code: 'ta-not-ca' });
  });
  it('an anchor whose keyUsage lacks keyCertSign fails even above a good intermediate', () => {
    const f = failure(run([tlsa(2, 0, 1, rootNoSign)], [underRootNoSignLeaf, underRootNoSign, rootNoSign]));
    expect(f).toMatchObject({ code: 'ta-not-ca' });
    expect(f!.why).toMatch(/depth 2 .*keyUsage \(digitalSignature, cRLSign\) lacks keyCertSign/);
    expect(run([tlsa(2, 0, 1, underRootNoSign)], [underRootNoSignLeaf, underRootNoSign, rootNoSign]).ok).toBe(true);
  });
  it('a CA without a keyUsage extension may sign (RFC 5280 §4.2.1.3 only binds a present extension)', () => {
    expect(run([tlsa(2, 0, 1, noKu)], [noKuLeaf, noKu])).toMatchObject({ ok: true, depth: 1 });
  });
});

describe('DANE-TA: extensions that cannot be parsed fail with a reason', () => {
  let root: Issued;
  let badBc: Issued;
  let badBcLeaf: Issued;
  let badKu: Issued;
  let badKuLeaf: Issued;
  let good: Issued;
  let badLeaf: Issued;
  beforeAll(async () => {
    root = await ca('Malformed Root');
    [badBc, badKu, good] = await Promise.all([
      // SEQUENCE of length 3 holding 2 bytes.
      ca('CA with truncated basicConstraints', root, { basicConstraints: 'critical,DER:30:03:01:01' }),
      // BIT STRING of length 5 holding nothing.
      ca('CA with truncated keyUsage', root, { keyUsage: 'critical,DER:03:05:00' }),
      ca('Good CA', root),
    ]);
    [badBcLeaf, badKuLeaf, badLeaf] = await Promise.all([leafOf(badBc), leafOf(badKu), leafOf(good, { keyUsage: 'critical,DER:03:02:07:80:00' })]);
  });

  it('an anchor with a malformed basicConstraints fails', () => {
    const f = failure(run([tlsa(2, 0, 1, badBc)], [badBcLeaf, badBc]));
    expect(f).toMatchObject({ code: 'ta-bad-extension' });
    expect(f!.why).toMatch(/depth 1 \(CN=CA with truncated basicConstraints\) cannot be parsed: basicConstraints/);
  });
  it('an intermediate with a malformed keyUsage fails below a good anchor (not "off the path")', () => {
    const f = failure(run([tlsa(2, 0, 1, root)], [badKuLeaf, badKu, root]));
    expect(f).toMatchObject({ code: 'ta-bad-extension' });
    expect(f!.why).toMatch(/depth 1 \(CN=CA with truncated keyUsage\) cannot be parsed: keyUsage/);
  });
  it('a leaf with a malformed keyUsage fails under DANE-TA but still matches DANE-EE (no chain checks, RFC 7672 §3.1.1)', () => {
    const f = failure(run([tlsa(2, 0, 1, good)], [badLeaf, good]));
    expect(f).toMatchObject({ code: 'ta-bad-extension' });
    expect(f!.why).toMatch(/depth 0 .*cannot be parsed: keyUsage/);
    expect(run([tlsa(3, 1, 1, badLeaf)], [badLeaf, good])).toMatchObject({ ok: true, usage: 'DANE-EE' });
  });
  it('the new failure codes become ta-chain-invalid findings', () => {
    const r = run([tlsa(2, 0, 1, badBc), tlsa(2, 1, 1, badBc)], [badBcLeaf, badBc]);
    if (r.ok) throw new Error('expected a failure');
    const records = [r.records[0]!, { ...r.records[1]!, code: 'ta-path-length' as const, why: 'trust anchor at depth 2, but certificate at depth 2 (CN=x) has pathLenConstraint 0' }];
    const result = {
      domain: 'example.test', verdict: 'tempfail', host: null, address: null, tls: false, reason: 'x', mx: null, resolverValidates: true, level: 'dane', policySource: 'default',
      hosts: [{
        name: 'mx.example.test', preference: 10, implicit: false, dns: [], addresses: ['192.0.2.1'], level: 'dane', levelReason: 'DANE', tlsaBase: 'mx.example.test',
        tlsa: [{ record: r.records[0]!.record, usable: true }, { record: r.records[1]!.record, usable: true }],
        attempts: [{ address: '192.0.2.1', result: 'failed', tls: true, chain: r.chain, authentication: { ...r, records } }],
        status: 'failed',
      }],
    } as unknown as DomainResult;
    const found = diagnose(result, now).filter((x) => x.code === 'ta-chain-invalid');
    expect(found.map((x) => x.message)).toEqual([
      expect.stringMatching(/cannot be parsed: basicConstraints/),
      expect.stringMatching(/pathLenConstraint 0/),
    ]);
  });
});

describe('readCertExtensions: a strict DER reader that never throws', () => {
  // Minimal DER builder: enough for a certificate-shaped structure (signatures are not read).
  const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    const n = body.length;
    const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  };
  const oid = (bytes: number[]) => tlv(0x06, Buffer.from(bytes));
  const BC = [0x55, 0x1d, 0x13];
  const KU = [0x55, 0x1d, 0x0f];
  const SAN = [0x55, 0x1d, 0x11];
  const name = (cn: string) => tlv(0x30, tlv(0x31, tlv(0x30, oid([0x55, 0x04, 0x03]), tlv(0x0c, Buffer.from(cn)))));
  const ext = (id: number[], value: Buffer, critical?: boolean) =>
    tlv(0x30, oid(id), ...(critical === undefined ? [] : [tlv(0x01, Buffer.from([critical ? 0xff : 0]))]), tlv(0x04, value));
  const certDer = (exts: Buffer[] | undefined, issuer = 'I', subject = 'S') =>
    tlv(
      0x30,
      tlv(
        0x30,
        tlv(0xa0, tlv(0x02, Buffer.from([2]))),
        tlv(0x02, Buffer.from([1])),
        tlv(0x30, oid([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
        name(issuer),
        tlv(0x30, tlv(0x17, Buffer.from('250101000000Z')), tlv(0x17, Buffer.from('350101000000Z'))),
        name(subject),
        tlv(0x30, tlv(0x30, oid([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])), tlv(0x03, Buffer.from([0, 4, 1, 2]))),
        ...(exts ? [tlv(0xa3, tlv(0x30, ...exts))] : []),
      ),
      tlv(0x30, oid([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
      tlv(0x03, Buffer.from([0, 1, 2, 3])),
    );
  const bc = (...inner: Buffer[]) => tlv(0x30, ...inner);
  const T = tlv(0x01, Buffer.from([0xff]));
  const int = (...b: number[]) => tlv(0x02, Buffer.from(b));
  const bits = (unused: number, ...b: number[]) => tlv(0x03, Buffer.from([unused, ...b]));

  it('reads cA, pathLenConstraint, keyUsage bits and the names', () => {
    const r = readCertExtensions(certDer([ext(BC, bc(T, int(3)), true), ext(KU, bits(1, 0x06), true), ext(SAN, tlv(0x30))], 'Same', 'Same'));
    expect(r).toMatchObject({ ok: true, value: { basicConstraints: { cA: true, pathLen: 3, critical: true }, keyUsage: { bits: [5, 6], keyCertSign: true, critical: true } } });
    if (r.ok) expect(r.value.issuerName.equals(r.value.subjectName)).toBe(true);
    expect(readCertExtensions(certDer([ext(BC, bc())]))).toMatchObject({ ok: true, value: { basicConstraints: { cA: false, critical: false } } });
    expect(readCertExtensions(certDer([ext(KU, bits(7, 0x80))]))).toMatchObject({ ok: true, value: { keyUsage: { bits: [0], keyCertSign: false } } });
    expect(readCertExtensions(certDer(undefined))).toMatchObject({ ok: true, value: {} });
    const huge = readCertExtensions(certDer([ext(BC, bc(T, int(0x7f, ...new Array(20).fill(0xff))))]));
    expect(huge).toMatchObject({ ok: true, value: { basicConstraints: { pathLen: Number.MAX_SAFE_INTEGER } } });
  });
  it('agrees with what the test PKI asked OpenSSL for', async () => {
    const c = await makeCert({ cn: 'reader', ca: true, pathLen: 7 });
    expect(readCertExtensions(c.der)).toMatchObject({ ok: true, value: { basicConstraints: { cA: true, pathLen: 7, critical: true }, keyUsage: { bits: [5, 6], keyCertSign: true } } });
    expect(readCertExtensions(chains.rsa.leaf.der)).toMatchObject({ ok: true, value: { basicConstraints: { cA: false }, keyUsage: { bits: [0, 2], keyCertSign: false } } });
  });
  it.each([
    ['a negative pathLenConstraint', [ext(BC, bc(T, int(0xff)))], /negative/],
    ['a non-minimal INTEGER', [ext(BC, bc(T, int(0, 1)))], /minimally/],
    ['a BOOLEAN that is not 0x00 or 0xff', [ext(BC, bc(tlv(0x01, Buffer.from([1]))))], /not DER/],
    ['fields after pathLenConstraint', [ext(BC, bc(T, int(1), int(2)))], /unexpected content/],
    ['bytes after the basicConstraints SEQUENCE', [ext(BC, Buffer.concat([bc(T), Buffer.from([0])]))], /bytes after/],
    ['a keyUsage with 8 unused bits', [ext(KU, bits(8, 0x04))], /unused bits/],
    ['an empty keyUsage BIT STRING', [ext(KU, tlv(0x03))], /empty BIT STRING/],
    ['an extension twice', [ext(BC, bc(T)), ext(BC, bc(T))], /appears twice/],
    ['an empty extension list', [], /empty SEQUENCE/],
    ['an extension without extnValue', [tlv(0x30, oid(BC))], /extnValue/],
    ['an indefinite length', [ext(BC, Buffer.from([0x30, 0x80, 0x00, 0x00]))], /indefinite/],
    ['a length of 5 bytes', [ext(BC, Buffer.from([0x30, 0x85, 0, 0, 0, 0, 0]))], /length of 5 bytes/],
  ])('fails on %s', (_what, exts, why) => {
    const r = readCertExtensions(certDer(exts));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.why).toMatch(why);
  });
  it('every truncation and every single-byte change of a real certificate: a value or a reason, never an exception', () => {
    const der = chains.ecdsa.intermediate.der;
    for (let n = 0; n < der.length; n++) expect(readCertExtensions(der.subarray(0, n)).ok).toBe(false);
    expect(readCertExtensions(Buffer.concat([der, Buffer.from([0])])).ok).toBe(false);
    for (let i = 0; i < der.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const m = Buffer.from(der);
        m[i]! ^= x;
        expect(() => readCertExtensions(m)).not.toThrow();
      }
    }
    expect(readCertExtensions(new Uint8Array(0))).toMatchObject({ ok: false });
  });
});

describe('CertInfo digests (the JSON chain[])', () => {
  it('carry SHA-256 and SHA-512 of the SPKI and the certificate; associationMatchesInfo tells every matching type from them', () => {
    const c = chains.ecdsa;
    const r = run([tlsa(3, 1, 1, c.leaf)], [c.leaf, c.intermediate]);
    const leaf = r.chain[0]!;
    const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');
    expect(leaf).toMatchObject({ spkiSha256: hex('sha256', c.leaf.spkiDer), certSha256: hex('sha256', c.leaf.der), spkiSha512: hex('sha512', c.leaf.spkiDer), certSha512: hex('sha512', c.leaf.der) });
    for (const selector of [0, 1]) {
      for (const mtype of [0, 1, 2]) {
        expect(associationMatchesInfo(tlsa(3, selector, mtype, c.leaf), leaf)).toBe(true);
        expect(associationMatchesInfo(tlsa(3, selector, mtype, c.leaf, true), leaf)).toBe(false);
        expect(associationMatchesInfo(tlsa(3, selector, mtype, c.intermediate), leaf)).toBe(false);
      }
    }
    // Without the SHA-512 digests (a result from an older version) SHA2-512 cannot be told.
    const { spkiSha512: _s, certSha512: _c, ...old } = leaf;
    expect(associationMatchesInfo(tlsa(3, 1, 2, c.leaf), old)).toBeUndefined();
  });
});

describe('the served chain is read once (ServedTls.read): the same result as reading it here', () => {
  it('DANE-EE and DANE-TA, matching and not, with and without the certificates already read', async () => {
    const { readCertificate } = await import('../../../src/x509/certificate.js');
    const c = await makeChain({ leafCn: 'mx.example.test' });
    const served = [c.leaf.der, c.intermediate.der];
    const sha = (b: Buffer) => createHash('sha256').update(b).digest();
    const sets: TlsaData[][] = [
      [{ usage: 3, selector: 1, matchingType: 1, data: sha(c.leaf.spkiDer) }],
      [{ usage: 2, selector: 0, matchingType: 1, data: sha(c.intermediate.der) }],
      [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) }],
    ];
    for (const records of sets) {
      const usable = usableRecords(classifyTlsa(records));
      const fresh = authenticate({ records: usable, served, referenceNames: names, now });
      const reused = authenticate({ records: usable, served, read: served.map(readCertificate), referenceNames: names, now });
      expect(reused).toEqual(fresh);
      // certificates of another chain (a wrong length) are not used
      expect(authenticate({ records: usable, served, read: [readCertificate(c.root.der)], referenceNames: names, now })).toEqual(fresh);
    }
  });
});
