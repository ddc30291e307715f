import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/dane/authenticate.js';
import { classifyTlsa, usableRecords } from '../../src/dane/tlsa.js';
import type { TlsaData } from '../../src/dns/types.js';
import { makeCert, makeChain, type Chain, type Issued, type KeyType } from '../support/pki.js';

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

let chains: Record<KeyType, Chain>;
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
  for (const key of ['rsa', 'ecdsa', 'ed25519'] as KeyType[]) {
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
