import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dsDigest, keyTag } from '../../../src/dns/dnssec/canonical.js';
import { isSupportedAlgorithm, matchDs, publicKeyFromDnskey, verifyRRset, zoneKeyOf } from '../../../src/dns/dnssec/verify.js';
import { parseDnskey, parseDs, parseRrsig, T, type RawRecord } from '../../../src/dns/dnssec/wire-dnssec.js';
import { parseZoneText } from '../../../src/dns/dnssec/zone-text.js';
import { buildZone, cleanupZones, ldnsTool, type Algorithm, type BuiltZone } from '../../support/dnssec-zones.js';

const ALGORITHMS: Array<[Algorithm, number]> = [
  ['RSASHA1', 5],
  ['RSASHA1-NSEC3-SHA1', 7],
  ['RSASHA256', 8],
  ['RSASHA512', 10],
  ['ECDSAP256SHA256', 13],
  ['ECDSAP384SHA384', 14],
  ['ED25519', 15],
  ['ED448', 16],
];

const now = Math.floor(Date.now() / 1000);
const zones = new Map<number, BuiltZone>();

beforeAll(async () => {
  await Promise.all(
    ALGORITHMS.map(async ([name, code]) => {
      const z = await buildZone({
        name: `alg${code}.example`,
        algorithm: name,
        zsk: code === 13,
        ...(code === 7 ? { nsec3: {} } : {}),
        records: [`www.alg${code}.example. 300 IN A 192.0.2.${code}`, `*.w.alg${code}.example. 300 IN TXT "wild"`],
      });
      zones.set(code, z);
    }),
  );
}, 180_000);

afterAll(cleanupZones);

function rrset(records: RawRecord[], name: string, type: number) {
  const rs = records.filter((r) => r.name === name && r.type === type);
  return { owner: name, type, class: 1, rdatas: rs.map((r) => r.rdata), ttl: rs[0]!.ttl };
}
function sigs(records: RawRecord[], name: string, covered: number) {
  return records.filter((r) => r.name === name && r.type === T.RRSIG).map((r) => parseRrsig(r.rdata)).filter((s) => s.typeCovered === covered);
}

describe.each(ALGORITHMS)('algorithm %s (%i)', (_name, code) => {
  it('verifies ldns-signzone signatures, rejects altered data, and computes the key tag', () => {
    const z = zones.get(code)!;
    const apex = z.name;
    const keys = z.records.filter((r) => r.type === T.DNSKEY && r.name === apex).map((r) => zoneKeyOf(apex, parseDnskey(r.rdata)));
    expect(keys.map((k) => k.tag)).toContain(z.kskTag);
    expect(isSupportedAlgorithm(code)).toBe(true);
    for (const k of keys) expect(typeof publicKeyFromDnskey(code, k.key.publicKey)).not.toBe('string');

    const o = { nowSec: now, ttl: 300 };
    const dnskeys = rrset(z.records, apex, T.DNSKEY);
    expect(verifyRRset(dnskeys, sigs(z.records, apex, T.DNSKEY), keys, o)).toMatchObject({ ok: true });
    const a = rrset(z.records, `www.${apex}`, T.A);
    const aSigs = sigs(z.records, `www.${apex}`, T.A);
    const good = verifyRRset(a, aSigs, keys, o);
    expect(good).toMatchObject({ ok: true, ttl: 300 });
    expect(good.ok && good.key.key.algorithm).toBe(code);

    const forged = { ...a, rdatas: [Buffer.from([192, 0, 2, 200])] };
    const bad = verifyRRset(forged, aSigs, keys, o);
    expect(bad).toMatchObject({ ok: false });
    expect(!bad.ok && bad.reason).toMatch(/signature does not verify/);

    // A wildcard's RRSIG over an expanded owner: Labels tells the validator to rebuild *.w.
    const wild = rrset(z.records, `*.w.${apex}`, T.TXT);
    const expanded = { ...wild, owner: `x.y.w.${apex}` };
    const w = verifyRRset(expanded, sigs(z.records, `*.w.${apex}`, T.TXT), keys, o);
    expect(w).toMatchObject({ ok: true, wildcardParent: `w.${apex}` });

    expect(verifyRRset(a, aSigs, keys, { nowSec: now + 40 * 86_400, ttl: 300 })).toMatchObject({ ok: false, reason: expect.stringMatching(/signature expired at/) });
    expect(verifyRRset(a, aSigs, keys, { nowSec: now - 3 * 86_400, ttl: 300 })).toMatchObject({ ok: false, reason: expect.stringMatching(/not valid before/) });
  });
});

describe('DS digests', () => {
  it.each([
    [1, '-1'],
    [2, '-2'],
    [4, '-4'],
  ])('digest type %i matches ldns-key2ds %s', async (digestType, flag) => {
    const z = zones.get(13)!;
    const out = await ldnsTool('ldns-key2ds', ['-n', flag, z.kskFile!], dirname(z.kskFile!));
    const ds = parseZoneText(out).filter((r) => r.type === T.DS).map((r) => parseDs(r.rdata));
    expect(ds).toHaveLength(1);
    expect(ds[0]!.digestType).toBe(digestType);
    const keys = z.records.filter((r) => r.type === T.DNSKEY).map((r) => parseDnskey(r.rdata));
    const ksk = keys.find((k) => keyTag(k.rdata) === z.kskTag)!;
    expect(dsDigest(z.name, ksk.rdata, digestType)!.equals(ds[0]!.digest)).toBe(true);
    const m = matchDs(z.name, ds, keys);
    expect(m.kind).toBe('match');
  });

  it('RFC 4034 §5.4 example: key tag 60485 and its SHA-1 DS', () => {
    const [key, ds] = parseZoneText(`
dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz
                                             fwJr1AYtsmx3TGkJaNXVbfi/
                                             2pHm822aJ5iI9BMzNXxeYCmZ
                                             DRD99WYwYqUSdjMmmAphXdvx
                                             egXd/M5+X7OrzKBaMbCVdFLU
                                             Uh6DhweJBjEVv5f2wwjM9Xzc
                                             nOf+EPbtG9DMBmADjFDc2w/r
                                             ljwvFw==
                                             ) ;  key id = 60485
dskey.example.com. 86400 IN DS 60485 5 1 ( 2BB183AF5F22588179A53B0A
                                              98631FAD1A292118 )
`);
    expect(keyTag(key!.rdata)).toBe(60485);
    expect(dsDigest('dskey.example.com', key!.rdata, 1)!.toString('hex').toUpperCase()).toBe(parseDs(ds!.rdata).digest.toString('hex').toUpperCase());
  });

  it('unsupported digest types and algorithms are reported as such, not as mismatches', () => {
    const z = zones.get(13)!;
    const keys = z.records.filter((r) => r.type === T.DNSKEY).map((r) => parseDnskey(r.rdata));
    expect(matchDs(z.name, [{ keyTag: z.kskTag!, algorithm: 13, digestType: 3, digest: Buffer.alloc(32) }], keys).kind).toBe('unsupported');
    expect(matchDs(z.name, [{ keyTag: z.kskTag!, algorithm: 3, digestType: 2, digest: Buffer.alloc(32) }], keys).kind).toBe('unsupported');
    expect(matchDs(z.name, [{ keyTag: z.kskTag!, algorithm: 13, digestType: 2, digest: Buffer.alloc(32) }], keys).kind).toBe('nomatch');
  });
});

describe('KeyTrap bounds (CVE-2023-50387): a hostile RRset cannot make the validator verify without end', () => {
  function setup() {
    const z = zones.get(13)!;
    const apex = z.name;
    const keys = z.records.filter((r) => r.type === T.DNSKEY && r.name === apex).map((r) => zoneKeyOf(apex, parseDnskey(r.rdata)));
    const a = rrset(z.records, `www.${apex}`, T.A);
    const [good] = sigs(z.records, `www.${apex}`, T.A);
    const signer = keys.find((k) => k.tag === good!.keyTag)!;
    const bad = { ...good!, signature: Buffer.from(good!.signature).fill(7) };
    return { keys, a, good: good!, bad, signer };
  }
  const o = { nowSec: now, ttl: 300 };

  it('at most 8 RRSIGs are tried: a good one after 8 bad ones is never reached', () => {
    const { keys, a, good, bad } = setup();
    expect(verifyRRset(a, [...Array(7).fill(bad), good], keys, o)).toMatchObject({ ok: true });
    const r = verifyRRset(a, [...Array(8).fill(bad), good], keys, o);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/more than 8 RRSIGs, the rest ignored/) });
  });

  it('at most 16 key/signature verifications: colliding key tags cannot multiply the work', () => {
    const { a, good, signer } = setup();
    // Other keys of the zone claiming the signer's key tag (a collision made on purpose).
    const others = zones.get(13)!.records.filter((r) => r.type === T.DNSKEY).map((r) => zoneKeyOf(zones.get(13)!.name, parseDnskey(r.rdata))).filter((k) => k.key.publicKey.compare(signer.key.publicKey) !== 0);
    expect(others.length).toBeGreaterThan(0);
    const decoys = Array.from({ length: 16 }, (_, i) => ({ ...others[i % others.length]!, tag: signer.tag }));
    expect(verifyRRset(a, [good], [...decoys.slice(0, 15), signer], o)).toMatchObject({ ok: true });
    const r = verifyRRset(a, [good], [...decoys, signer], o);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/more than 16 signature verifications/) });
  });
});
