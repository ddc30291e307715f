import { describe, expect, it } from 'vitest';
import { compareNames, rrsigLabelCount, signedData } from '../../../src/dns/dnssec/canonical.js';
import { nsec3Hash, nsec3OwnerLabel, proveNodata, proveNxdomain, proveWildcardExpansion, type DenialInput, type Nsec3RR, type NsecRR } from '../../../src/dns/dnssec/nsec.js';
import { base32hexDecode, base32hexEncode, encodeTypeBitmap, parseNsec3, parseRawMessage, parseTypeBitmap, T } from '../../../src/dns/dnssec/wire-dnssec.js';
import { parseZoneText } from '../../../src/dns/dnssec/zone-text.js';
import { parseTrustAnchors, IANA_ROOT_ANCHORS } from '../../../src/dns/dnssec/trust-anchors.js';

const nsec = (owner: string, next: string, ...types: number[]): NsecRR => ({ owner, data: { next, types: new Set(types) } });

function input(zone: string, n: NsecRR[] = [], n3: Nsec3RR[] = [], limit = 150): DenialInput {
  return { zone, nsec: n, nsec3: n3, nsec3IterationLimit: limit };
}

/** An NSEC3 chain over `names` (each with its types), closed in a ring, as a signer would make it. */
function chain(zone: string, names: Array<[string, number[]]>, o: { iterations?: number; salt?: string; optOut?: boolean; hashAlgorithm?: number } = {}): Nsec3RR[] {
  const salt = Buffer.from(o.salt ?? '', 'hex');
  const it = o.iterations ?? 0;
  const hashed = names.map(([n, types]) => ({ h: nsec3Hash(n, salt, it), types })).sort((a, b) => Buffer.compare(a.h, b.h));
  return hashed.map((x, i) => ({
    owner: `${base32hexEncode(x.h)}.${zone}`,
    data: {
      hashAlgorithm: o.hashAlgorithm ?? 1,
      flags: o.optOut ? 1 : 0,
      iterations: it,
      salt,
      nextHashed: hashed[(i + 1) % hashed.length]!.h,
      types: new Set(x.types),
    },
  }));
}

describe('canonical order and names', () => {
  it('sorts names as RFC 4034 §6.1 does', () => {
    const sorted = ['example', 'a.example', 'yljkjljk.a.example', 'z.a.example', 'zabc.a.example', 'z.example', '\\001.z.example', '*.z.example', '\\200.z.example'];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareNames)).toEqual(sorted);
    expect(compareNames('Z.A.example'.toLowerCase(), 'z.a.example')).toBe(0);
  });
  it('counts RRSIG labels without the root and a leading *', () => {
    expect(rrsigLabelCount('')).toBe(0);
    expect(rrsigLabelCount('www.example.com')).toBe(3);
    expect(rrsigLabelCount('*.example.com')).toBe(2);
  });
  it('builds the signed data of a wildcard expansion with the *.owner', () => {
    const prefix = Buffer.alloc(18);
    const data = signedData(prefix, 2, 300, { owner: 'a.b.example.com', type: 1, class: 1, rdatas: [Buffer.from([1, 2, 3, 4]), Buffer.from([1, 2, 3, 3]), Buffer.from([1, 2, 3, 4])] });
    // *.example.com, then two RRs in canonical order, duplicates removed.
    const owner = Buffer.from('012a076578616d706c6503636f6d00', 'hex');
    expect(data.subarray(18, 18 + owner.length).equals(owner)).toBe(true);
    expect(data.length).toBe(18 + 2 * (owner.length + 10 + 4));
    expect(data.subarray(data.length - 4).equals(Buffer.from([1, 2, 3, 4]))).toBe(true);
  });
  it('type bit maps round-trip', () => {
    const types = [1, 2, 6, 46, 47, 48, 52, 257, 65535];
    expect([...parseTypeBitmap(encodeTypeBitmap(types))]).toEqual(types);
  });
  it('NSEC3 hash: RFC 5155 Appendix A example', () => {
    // H(example) with salt aabbccdd and 12 iterations = 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom
    expect(nsec3OwnerLabel('example', Buffer.from('aabbccdd', 'hex'), 12)).toBe('0p9mhaveqvm6t7vbl5lop2u3t2rp3tom');
    expect(nsec3OwnerLabel('a.example', Buffer.from('aabbccdd', 'hex'), 12)).toBe('35mthgpgcu1qg68fab165klnsnk3dpvl');
    expect(base32hexDecode('0p9mhaveqvm6t7vbl5lop2u3t2rp3tom')!.length).toBe(20);
  });
});

describe('NSEC proofs', () => {
  const zone = 'example';
  const records = [
    nsec('example', 'a.example', T.SOA, T.NS, T.RRSIG, T.NSEC, T.DNSKEY),
    nsec('a.example', 'ai.example', T.NS, T.DS, T.RRSIG, T.NSEC),
    nsec('ai.example', 'b.example', T.A, T.RRSIG, T.NSEC),
    nsec('b.example', 'x.w.example', T.NS, T.RRSIG, T.NSEC),
    nsec('x.w.example', '*.z.example', T.MX, T.RRSIG, T.NSEC),
    nsec('*.z.example', 'example', T.A, T.RRSIG, T.NSEC),
  ];
  it('NXDOMAIN needs the name and the wildcard covered', () => {
    expect(proveNxdomain('c.example', input(zone, records))).toMatchObject({ status: 'secure' });
    const noWildcard = records.filter((r) => r.owner !== 'example');
    expect(proveNxdomain('c.example', input(zone, noWildcard))).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/wildcard \*\.example/) });
  });
  it('an NSEC at a delegation proves nothing below it', () => {
    expect(proveNxdomain('foo.b.example', input(zone, records))).toMatchObject({ status: 'bogus' });
  });
  it('NODATA from a matching NSEC, not from the parent side of a delegation', () => {
    expect(proveNodata('ai.example', T.MX, input(zone, records))).toMatchObject({ status: 'secure' });
    expect(proveNodata('ai.example', T.A, input(zone, records))).toMatchObject({ status: 'bogus' });
    expect(proveNodata('b.example', T.A, input(zone, records))).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/parent side of a delegation/) });
    const noDs = proveNodata('b.example', T.DS, input(zone, records));
    expect(noDs).toMatchObject({ status: 'secure' });
    expect(noDs.status === 'secure' && noDs.types?.has(T.NS)).toBe(true);
    expect(proveNodata('a.example', T.DS, input(zone, records))).toMatchObject({ status: 'bogus' });
  });
  it('empty non-terminals and wildcard NODATA', () => {
    expect(proveNodata('w.example', T.A, input(zone, records))).toMatchObject({ status: 'secure', via: expect.stringMatching(/empty non-terminal/) });
    expect(proveNodata('q.z.example', T.MX, input(zone, records))).toMatchObject({ status: 'secure', via: expect.stringMatching(/wildcard/) });
  });
  it('wildcard expansions need the expanded name to be covered', () => {
    expect(proveWildcardExpansion('q.z.example', 'z.example', input(zone, records))).toMatchObject({ status: 'secure' });
    expect(proveWildcardExpansion('q.z.example', 'z.example', input(zone, []))).toMatchObject({ status: 'bogus' });
  });
});

describe('NSEC3 proofs', () => {
  const zone = 'example';
  const names: Array<[string, number[]]> = [
    ['example', [T.SOA, T.NS, T.DNSKEY, T.RRSIG, T.NSEC3PARAM]],
    ['a.example', [T.NS, T.DS, T.RRSIG]],
    ['ns.example', [T.A, T.RRSIG]],
    ['w.example', []],
    ['x.w.example', [T.MX, T.RRSIG]],
  ];
  it('NXDOMAIN: closest encloser, next closer and wildcard', () => {
    expect(proveNxdomain('q.example', input(zone, [], chain(zone, names)))).toMatchObject({ status: 'secure' });
    expect(proveNxdomain('a.b.q.w.example', input(zone, [], chain(zone, names)))).toMatchObject({ status: 'secure', via: expect.stringMatching(/closest encloser w\.example/) });
    expect(proveNxdomain('ns.example', input(zone, [], chain(zone, names)))).toMatchObject({ status: 'bogus' });
  });
  it('NXDOMAIN under opt-out is insecure', () => {
    expect(proveNxdomain('q.example', input(zone, [], chain(zone, names, { optOut: true })))).toMatchObject({ status: 'insecure' });
  });
  it('no DS at an opted-out delegation: covered next closer with the opt-out flag', () => {
    // unsigned.example is a delegation that has no NSEC3 of its own (opt-out).
    expect(proveNodata('unsigned.example', T.DS, input(zone, [], chain(zone, names, { optOut: true })))).toMatchObject({ status: 'insecure', reason: expect.stringMatching(/opt-out/) });
    expect(proveNodata('unsigned.example', T.DS, input(zone, [], chain(zone, names)))).toMatchObject({ status: 'bogus' });
  });
  it('NODATA and empty non-terminal NODATA', () => {
    expect(proveNodata('ns.example', T.AAAA, input(zone, [], chain(zone, names)))).toMatchObject({ status: 'secure' });
    expect(proveNodata('w.example', T.A, input(zone, [], chain(zone, names)))).toMatchObject({ status: 'secure' });
    expect(proveNodata('ns.example', T.A, input(zone, [], chain(zone, names)))).toMatchObject({ status: 'bogus' });
  });
  it('wildcard NODATA and wildcard expansion', () => {
    const withWild: Array<[string, number[]]> = [...names, ['*.w.example', [T.A, T.RRSIG]]];
    expect(proveNodata('q.w.example', T.MX, input(zone, [], chain(zone, withWild)))).toMatchObject({ status: 'secure' });
    expect(proveWildcardExpansion('q.w.example', 'w.example', input(zone, [], chain(zone, withWild)))).toMatchObject({ status: 'secure' });
    expect(proveWildcardExpansion('x.w.example', 'w.example', input(zone, [], chain(zone, withWild)))).toMatchObject({ status: 'bogus' });
  });
  it('iterations above the limit: insecure (RFC 9276 §3.2)', () => {
    expect(proveNxdomain('q.example', input(zone, [], chain(zone, names, { iterations: 151 })))).toMatchObject({ status: 'insecure', reason: expect.stringMatching(/151 iterations/) });
    expect(proveNxdomain('q.example', input(zone, [], chain(zone, names, { iterations: 151 }), 200))).toMatchObject({ status: 'secure' });
  });
  it('records of another zone are not used', () => {
    expect(proveNxdomain('q.example', input(zone, [], chain('other', names)))).toMatchObject({ status: 'bogus' });
  });
});

describe('zone text, wire and trust anchors', () => {
  it('parses NSEC3 and RRSIG presentation as ldns writes it', () => {
    const rrs = parseZoneText(
      'l4ciqdovca2cobc5u120ua0ks5dpa9d8.ex.test.\t60\tIN\tNSEC3\t1 1 3 abcd  vpiqv4sg1f4unks0fkdn8a8tnopts6o8 NS SOA RRSIG DNSKEY NSEC3PARAM \n' +
        'ex.test.\t60\tIN\tRRSIG\tSOA 15 2 60 20261223091618 20261125091618 42121 ex.test. CkGbi5UGWQb0RfChlc+n5JGAftNSHMEvPChzRzBIwGr/0G/GwSXKoWz4+udnIS/6LQSnJ4PBqNIPXCQV/KSXBg==\n',
    );
    const n3 = parseNsec3(rrs[0]!.rdata);
    expect(n3).toMatchObject({ hashAlgorithm: 1, flags: 1, iterations: 3 });
    expect(n3.salt.toString('hex')).toBe('abcd');
    expect([...n3.types].sort((a, b) => a - b)).toEqual([2, 6, 46, 48, 51]);
    expect(rrs[1]!.rdata.readUInt32BE(8)).toBe(Date.UTC(2026, 11, 23, 9, 16, 18) / 1000);
  });
  it('keeps canonical RDATA of a compressed response (names decompressed and lower-cased)', () => {
    // Response: www.Example.com CNAME -> (pointer) example.com, one answer.
    const q = Buffer.from('03777777076578616d706c6503636f6d0000050001', 'hex');
    const ans = Buffer.from('c00c000500010000012c0002c010', 'hex');
    const msg = Buffer.concat([Buffer.from('123481800001000100000000', 'hex'), q, ans]);
    const raw = parseRawMessage(msg);
    expect(raw.answers[0]!.rdata.toString('hex')).toBe('076578616d706c6503636f6d00');
  });
  it('parses addresses, TXT, MX and relative names', () => {
    const rrs = parseZoneText('$ORIGIN example.\n$TTL 60\n@ IN AAAA 2001:db8::1\nv4 IN AAAA ::ffff:192.0.2.1\nt IN TXT "a b" c\n IN MX 10 mail\n');
    expect(rrs.map((r) => [r.name, r.ttl])).toEqual([['example', 60], ['v4.example', 60], ['t.example', 60], ['t.example', 60]]);
    expect(rrs[0]!.rdata.toString('hex')).toBe('20010db8000000000000000000000001');
    expect(rrs[1]!.rdata.toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(rrs[2]!.rdata.toString('hex')).toBe('036120620163');
    expect(rrs[3]!.rdata.toString('hex')).toBe('000a046d61696c076578616d706c6500');
  });
  it('parses trust anchors and knows the IANA root KSKs', () => {
    expect(IANA_ROOT_ANCHORS.map((a) => a.type === 'DS' && a.ds.keyTag)).toEqual([20326, 38696]);
    expect(IANA_ROOT_ANCHORS.every((a) => a.owner === '' && a.type === 'DS' && a.ds.algorithm === 8 && a.ds.digestType === 2)).toBe(true);
    expect(() => parseTrustAnchors('example. IN A 192.0.2.1')).toThrow(/neither DS nor DNSKEY/);
    expect(() => parseTrustAnchors('; nothing\n')).toThrow(/no trust anchor/);
    const a = parseTrustAnchors('$ORIGIN example.\n@ 3600 IN DS 1 13 2 ( 00112233 )\n');
    expect(a[0]).toMatchObject({ owner: 'example', type: 'DS' });
  });
});
