/**
 * Adversarial review of the built-in validator: an attacker between dane-smtp and its
 * (non-validating) upstream forges any answer. Whatever it sends, the validator must never
 * say `secure` for forged data, never `insecure` for a name inside a signed zone (that
 * switches DANE off), and never throw. Each attack rewrites the upstream's answers to one
 * question (replayed genuine records and signatures, records signed with keys the attacker
 * made, and, to test the semantic checks behind a valid signature, records signed with the
 * zone's own key).
 */
import { createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dsDigest, keyTag, nameWire, rrsigLabelCount, signedData } from '../../../src/dns/dnssec/canonical.js';
import { NSEC3_HASH_BUDGET, nsec3Hash, proveNodata, proveNxdomain, proveWildcardExpansion, type DenialInput, type Nsec3RR } from '../../../src/dns/dnssec/nsec.js';
import { parseTrustAnchors, type TrustAnchor } from '../../../src/dns/dnssec/trust-anchors.js';
import { ValidatingResolver, type ValidatingResolverOptions } from '../../../src/dns/dnssec/validating-resolver.js';
import { matchDs } from '../../../src/dns/dnssec/verify.js';
import { base32hexDecode, base32hexEncode, encodeTypeBitmap, parseDnskey, parseNsec3, parseRrsig, T, type RawRecord } from '../../../src/dns/dnssec/wire-dnssec.js';
import type { DnsAnswer } from '../../../src/dns/types.js';
import type { Reply } from '../../support/dnssec-upstream.js';
import { buildWorld, type World } from '../../support/dnssec-world.js';
import { cleanupZones } from '../../support/dnssec-zones.js';

type Real = (qname: string, qtype: number) => Reply;
/** The attacker: a rewritten reply for this question, or undefined to pass the real one. */
type Attack = (qname: string, qtype: number, real: Real) => Reply | undefined;

let world: World;
let anchors: TrustAnchor[];
let attack: Attack | undefined;
let now: number;

beforeAll(async () => {
  world = await buildWorld();
  anchors = parseTrustAnchors(world.anchorDs);
  now = world.now;
  const up = world.upstream;
  const real: Real = up.resolve.bind(up);
  up.resolve = (q, t) => attack?.(q, t, real) ?? real(q, t);
}, 180_000);

afterAll(async () => {
  await world?.upstream.close();
  await cleanupZones();
});

beforeEach(() => {
  world.upstream.faults = {};
  attack = undefined;
});

function resolver(extra: Partial<ValidatingResolverOptions> = {}): ValidatingResolver {
  return new ValidatingResolver({ upstream: world.address, timeoutMs: 3000, trustAnchors: anchors, ...extra });
}

/** Only this question is attacked. */
function on(qname: string, qtype: number, forge: (real: Real) => Reply): Attack {
  return (q, t, real) => (q === qname && t === qtype ? forge(real) : undefined);
}
function onAll(...attacks: Attack[]): Attack {
  return (q, t, real) => {
    for (const a of attacks) {
      const r = a(q, t, real);
      if (r) return r;
    }
    return undefined;
  };
}

function expectBogus(a: DnsAnswer<unknown>, reason?: RegExp): void {
  expect(a).toMatchObject({ status: 'failed', proof: 'bogus', records: [] });
  if (reason) expect(a.reason).toMatch(reason);
}

// ---------------------------------------------------------------- records and signing

const rr = (name: string, type: number, rdata: Buffer, ttl = 300): RawRecord => ({ name, type, class: 1, ttl, rdata });
const aRR = (name: string, ip: string, ttl = 300) => rr(name, T.A, Buffer.from(ip.split('.').map(Number)), ttl);
const cnameRR = (name: string, target: string) => rr(name, T.CNAME, nameWire(target));
const dnameRR = (name: string, target: string) => rr(name, 39, nameWire(target));
const nsecRR = (name: string, next: string, types: number[]) => rr(name, T.NSEC, Buffer.concat([nameWire(next), encodeTypeBitmap(types)]));
/** NSEC3 RDATA: SHA-1, `flags`, `iterations`, no salt. */
const nsec3RR = (name: string, next: Buffer, types: number[], flags = 0, iterations = 0) =>
  rr(name, T.NSEC3, Buffer.concat([Buffer.from([1, flags, iterations >> 8, iterations & 0xff, 0, next.length]), next, encodeTypeBitmap(types)]));
const renamed = (list: RawRecord[], name: string) => list.map((r) => ({ ...r, name }));
const isSig = (covered: number) => (r: RawRecord) => r.type === T.RRSIG && parseRrsig(r.rdata).typeCovered === covered;
const noSigs = (list: RawRecord[]) => list.filter((r) => r.type !== T.RRSIG);

/** Genuine records of a zone at `owner` of `type` (with `sigs`, their RRSIGs too). */
function genuine(zone: string, owner: string, type: number, sigs = true): RawRecord[] {
  const recs = world.zones.get(zone)!.records;
  return [...recs.filter((r) => r.name === owner && r.type === type), ...(sigs ? recs.filter((r) => r.name === owner && isSig(type)(r)) : [])];
}

interface Signer {
  zone: string;
  alg: number;
  tag: number;
  dnskey: RawRecord;
  key: KeyObject;
}

const b64u = (b: Buffer) => b.toString('base64url');

/** The zone's own KSK (ECDSA P-256), read from the ldns key files. */
function zoneSigner(zone: string): Signer {
  const z = world.zones.get(zone)!;
  const priv = readFileSync(z.kskFile!.replace(/\.key$/, '.private'), 'utf8');
  const d = Buffer.from(/PrivateKey: (\S+)/.exec(priv)![1]!, 'base64');
  const dnskey = z.records.find((r) => r.type === T.DNSKEY && r.name === zone && keyTag(r.rdata) === z.kskTag)!;
  const pub = parseDnskey(dnskey.rdata).publicKey;
  const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(0, 32)), y: b64u(pub.subarray(32)), d: b64u(d) }, format: 'jwk' });
  return { zone, alg: 13, tag: z.kskTag!, dnskey, key };
}

/** A key the attacker made for `zone`: ECDSA P-256 (13) or RSA/SHA-256 (8). */
function forgedSigner(zone: string, alg: 8 | 13): Signer {
  let pub: Buffer;
  let key: KeyObject;
  if (alg === 13) {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = kp.publicKey.export({ format: 'jwk' });
    pub = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    key = kp.privateKey;
  } else {
    const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = kp.publicKey.export({ format: 'jwk' });
    const e = Buffer.from(jwk.e!, 'base64url');
    pub = Buffer.concat([Buffer.from([e.length]), e, Buffer.from(jwk.n!, 'base64url')]);
    key = kp.privateKey;
  }
  const rdata = Buffer.concat([Buffer.from([0x01, 0x01, 3, alg]), pub]);
  return { zone, alg, tag: keyTag(rdata), dnskey: rr(zone, T.DNSKEY, rdata, 3600), key };
}

interface SignOptions {
  labels?: number;
  originalTtl?: number;
  inception?: number;
  expiration?: number;
  tag?: number;
  alg?: number;
  signer?: string;
}

/** An RRSIG over `rrs` (one RRset) made with `s`. */
function sign(s: Signer, rrs: RawRecord[], o: SignOptions = {}): RawRecord {
  const { name: owner, type } = rrs[0]!;
  const labels = o.labels ?? rrsigLabelCount(owner);
  const originalTtl = o.originalTtl ?? rrs[0]!.ttl;
  const head = Buffer.alloc(18);
  head.writeUInt16BE(type, 0);
  head[2] = o.alg ?? s.alg;
  head[3] = labels;
  head.writeUInt32BE(originalTtl, 4);
  head.writeUInt32BE((o.expiration ?? now + 86_400) >>> 0, 8);
  head.writeUInt32BE((o.inception ?? now - 3600) >>> 0, 12);
  head.writeUInt16BE(o.tag ?? s.tag, 16);
  const prefix = Buffer.concat([head, nameWire(o.signer ?? s.zone)]);
  const data = signedData(prefix, labels, originalTtl, { owner, type, class: 1, rdatas: rrs.map((r) => r.rdata) });
  const sig = s.alg === 13 ? cryptoSign('sha256', data, { key: s.key, dsaEncoding: 'ieee-p1363' }) : cryptoSign('sha256', data, s.key);
  return rr(owner, T.RRSIG, Buffer.concat([prefix, sig]), rrs[0]!.ttl);
}

/** An RRSIG with some bytes of its RDATA changed. */
function patchSig(sig: RawRecord, patch: (rdata: Buffer) => Buffer, name = sig.name): RawRecord {
  return { ...sig, name, rdata: patch(Buffer.from(sig.rdata)) };
}

const data = (answers: RawRecord[], authorities: RawRecord[] = []): Reply => ({ rcode: 0, answers, authorities });
const nodata = (authorities: RawRecord[]): Reply => ({ rcode: 0, answers: [], authorities });
const nxdomain = (authorities: RawRecord[]): Reply => ({ rcode: 3, answers: [], authorities });

// ---------------------------------------------------------------- stripped signatures

describe('RRSIGs stripped from answers of signed zones', () => {
  it('from a positive TLSA answer: bogus, not insecure', async () => {
    attack = on('_25._tcp.mx.secure.test', T.TLSA, (real) => {
      const r = real('_25._tcp.mx.secure.test', T.TLSA);
      return data(noSigs(r.answers), r.authorities);
    });
    expectBogus(await resolver().lookup('_25._tcp.mx.secure.test', 'TLSA'), /no RRSIG although secure\.test is a signed zone/);
  });
  it('from a NODATA answer (no TLSA: DANE off): bogus', async () => {
    attack = on('_25._tcp.mx.secure.test', T.TLSA, () => nodata(genuine('secure.test', 'secure.test', T.SOA, false)));
    expectBogus(await resolver().lookup('_25._tcp.mx.secure.test', 'TLSA'));
  });
  it('from an NXDOMAIN answer with its NSEC records kept: bogus', async () => {
    attack = on('mx.secure.test', T.A, (real) => nxdomain(noSigs(real('nothere.secure.test', T.A).authorities)));
    expectBogus(await resolver().lookup('mx.secure.test', 'A'));
  });
  it('from the DS RRset of a signed child: bogus', async () => {
    attack = on('secure.test', T.DS, (real) => data(noSigs(real('secure.test', T.DS).answers)));
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /DS RRset of secure\.test has no RRSIG by test/);
  });
  it('from the DNSKEY RRset of a signed child: bogus', async () => {
    attack = on('secure.test', T.DNSKEY, (real) => data(noSigs(real('secure.test', T.DNSKEY).answers)));
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /DNSKEY RRset of secure\.test came without RRSIG/);
  });
  it('NODATA for TLSA with a signed SOA but no NSEC: bogus', async () => {
    attack = on('_25._tcp.mx.secure.test', T.TLSA, () => nodata(genuine('secure.test', 'secure.test', T.SOA)));
    expectBogus(await resolver().lookup('_25._tcp.mx.secure.test', 'TLSA'), /without NSEC or NSEC3 proof/);
  });
});

// ---------------------------------------------------------------- forged insecure delegations

describe('forged insecure delegations (no DS for a child that has one)', () => {
  // The forged data under the child comes unsigned: only an insecure verdict would let it through.
  const unsignedWww = on('www.secure.test', T.A, () => data([aRR('www.secure.test', '203.0.113.66')]));

  it("the parent's NSEC3 of another, insecure delegation (NS, no DS): bogus", async () => {
    attack = onAll(
      on('secure.test', T.DS, (real) => real('insecure.test', T.DS)),
      unsignedWww,
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it("the parent's NXDOMAIN proof for another name: bogus", async () => {
    attack = onAll(
      on('secure.test', T.DS, (real) => nxdomain(real('nothere.test', T.A).authorities)),
      unsignedWww,
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it("the child's own apex NSEC (no DS bit, signed by the child): bogus", async () => {
    attack = onAll(
      on('secure.test', T.DS, (real) => nodata([...genuine('secure.test', 'secure.test', T.SOA), ...genuine('secure.test', 'secure.test', T.NSEC)])),
      unsignedWww,
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('an NSEC of another zone (plain.secure.test: NS, no DS) to deny the DS of nsec3.test: bogus', async () => {
    attack = onAll(
      on('nsec3.test', T.DS, (real) => real('plain.secure.test', T.DS)),
      on('www.nsec3.test', T.A, () => data([aRR('www.nsec3.test', '203.0.113.66')])),
    );
    expectBogus(await resolver().lookup('www.nsec3.test', 'A'));
  });
  it('a forged unsigned CNAME at the child name in the DS answer: bogus', async () => {
    attack = onAll(
      on('secure.test', T.DS, () => data([cnameRR('secure.test', 'insecure.test')])),
      unsignedWww,
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('an opt-out NSEC3 span (NXDOMAIN proof of another name) to deny the DS of a name that exists: bogus', async () => {
    // www.optout.test exists (its own NSEC3); the opt-out span covering nothere.optout.test says nothing about it.
    for (const rcode of [0, 3]) {
      attack = onAll(
        on('www.optout.test', T.DS, (real) => ({ rcode, answers: [], authorities: real('nothere.optout.test', T.A).authorities })),
        on('www.optout.test', T.A, () => data([aRR('www.optout.test', '203.0.113.66')])),
      );
      expectBogus(await resolver().lookup('www.optout.test', 'A'));
    }
  });
  it('pure: an opt-out NSEC3 chain cannot deny the DS of a signed child (its own NSEC3 withheld)', () => {
    const zone = 'example';
    const chain = nsec3Chain(zone, [
      ['example', [T.SOA, T.NS, T.DNSKEY, T.RRSIG, T.NSEC3PARAM]],
      ['signed.example', [T.NS, T.DS, T.RRSIG]],
      ['www.example', [T.A, T.RRSIG]],
    ], { optOut: true });
    const own = chain.find((r) => r.owner.startsWith(base32hexEncode(nsec3Hash('signed.example', Buffer.alloc(0), 0))))!;
    expect(proveNodata('signed.example', T.DS, denialInput(zone, chain))).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/type bit map has DS/) });
    const withheld = chain.filter((r) => r !== own);
    expect(proveNodata('signed.example', T.DS, denialInput(zone, withheld))).toMatchObject({ status: 'bogus' });
    expect(proveNxdomain('signed.example', denialInput(zone, withheld))).toMatchObject({ status: 'bogus' });
  });
  it("pure: the parent's NSEC3 records are no proof in the child zone", () => {
    const parent = nsec3Chain('example', [['example', [T.SOA, T.NS]], ['child.example', [T.NS]]]);
    expect(proveNodata('child.example', T.DS, denialInput('child.example', parent))).toMatchObject({ status: 'bogus' });
    expect(proveNxdomain('x.child.example', denialInput('child.example', parent))).toMatchObject({ status: 'bogus' });
  });
});

// ---------------------------------------------------------------- replayed signatures and proofs

describe('replayed signatures and proofs', () => {
  it('the RRSIG of www.secure.test A reused for mx.secure.test: bogus', async () => {
    attack = on('mx.secure.test', T.A, (real) => data(real('www.secure.test', T.A).answers.map((r) => ({ ...r, name: 'mx.secure.test' }))));
    expectBogus(await resolver().lookup('mx.secure.test', 'A'), /signature does not verify/);
  });
  it('the Labels field lowered to fake a wildcard expansion of *.secure.test: bogus', async () => {
    attack = on('evil.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      const answers = r.answers.map((x) =>
        x.type === T.RRSIG
          ? patchSig(x, (b) => {
              b[3] = 2;
              return b;
            }, 'evil.secure.test')
          : { ...x, name: 'evil.secure.test' },
      );
      // With a genuine proof that evil.secure.test does not exist.
      return data(answers, real('evil.secure.test', T.A).authorities);
    });
    expectBogus(await resolver().lookup('evil.secure.test', 'A'));
  });
  it('a genuine wildcard expansion (*.wild) replayed at a name outside the wildcard: bogus', async () => {
    attack = on('mx.secure.test', T.A, (real) => {
      const r = real('foo.wild.secure.test', T.A);
      return data(r.answers.map((x) => ({ ...x, name: 'mx.secure.test' })), r.authorities);
    });
    expectBogus(await resolver().lookup('mx.secure.test', 'A'));
    attack = on('x.mx.secure.test', T.A, (real) => {
      const r = real('foo.wild.secure.test', T.A);
      return data(r.answers.map((x) => ({ ...x, name: 'x.mx.secure.test' })), real('x.mx.secure.test', T.A).authorities);
    });
    expectBogus(await resolver().lookup('x.mx.secure.test', 'A'));
  });
  it('a wildcard expansion whose NSEC proves the nonexistence of another name: bogus', async () => {
    attack = on('foo.wild.secure.test', T.A, (real) => data(real('foo.wild.secure.test', T.A).answers, real('nothere.secure.test', T.A).authorities));
    expectBogus(await resolver().lookup('foo.wild.secure.test', 'A'), /wildcard/);
  });
  it('a wildcard expansion whose NSEC3 records do not cover its next closer name: bogus', async () => {
    // The NXDOMAIN proof of another name, minus any record that happens to cover y.w.nsec3.test.
    attack = on('x.y.w.nsec3.test', T.A, (real) =>
      data(real('x.y.w.nsec3.test', T.A).answers, withoutNsec3(real('nothere.nsec3.test', T.A).authorities, (r) => nsec3Covers(r, 'y.w.nsec3.test'))),
    );
    expectBogus(await resolver().lookup('x.y.w.nsec3.test', 'A'), /wildcard/);
  });
  it('the genuine NSEC of a wildcard (*.wild.secure.test) replayed at a TLSA name under it: bogus, not a secure NODATA (RFC 4592 §4.7)', async () => {
    // Its RRSIG (Labels 3) verifies at any name below wild.secure.test, rebuilt as *.wild.secure.test.
    const name = '_25._tcp.mx.wild.secure.test';
    expect(await resolver().lookup(name, 'TLSA')).toMatchObject({ status: 'data', proof: 'secure' });
    attack = on(name, T.TLSA, () => nodata([...genuine('secure.test', 'secure.test', T.SOA), ...renamed(genuine('secure.test', '*.wild.secure.test', T.NSEC), name)]));
    expectBogus(await resolver().lookup(name, 'TLSA'), /expansion of \*\.wild\.secure\.test: no denial proof/);
  });
  it('an NSEC or NSEC3 whose RRSIG (by the zone key) has Labels below its owner is no denial proof', async () => {
    const s = zoneSigner('secure.test');
    const name = '_25._tcp.mx.secure.test';
    attack = on(name, T.TLSA, () => {
      const n = nsecRR(name, `\\000.${name}`, [T.A, T.RRSIG, T.NSEC]);
      return nodata([...genuine('secure.test', 'secure.test', T.SOA), n, sign(s, [n], { labels: 2 })]);
    });
    expectBogus(await resolver().lookup(name, 'TLSA'), /expansion of \*\.secure\.test/);
    // NSEC3: the record matching the name, "expanded" from *.optout.test.
    const o = zoneSigner('optout.test');
    const name3 = '_25._tcp.www.optout.test';
    attack = on(name3, T.TLSA, () => {
      const h = nsec3Hash(name3, Buffer.alloc(0), 0);
      const next = Buffer.from(h);
      next[19] = (next[19]! + 1) & 0xff;
      const n = nsec3RR(`${base32hexEncode(h)}.optout.test`, next, [T.A, T.RRSIG], 1);
      return nodata([...genuine('optout.test', 'optout.test', T.SOA), n, sign(o, [n], { labels: 2 })]);
    });
    expectBogus(await resolver().lookup(name3, 'TLSA'), /expansion of \*\.optout\.test/);
  });
  it('a CNAME in a DS answer that verifies only as a wildcard expansion needs the proof that the name does not exist (RFC 4035 §5.3.4)', async () => {
    // An unsigned NXDOMAIN makes the validator walk the DS chain down to the name; the DS
    // answer at nothere.secure.test is a CNAME signed by the zone key as an expansion of *.secure.test.
    const s = zoneSigner('secure.test');
    const forged = () => {
      const c = cnameRR('nothere.secure.test', 'www.secure.test');
      return [c, sign(s, [c], { labels: 2 })];
    };
    const unsignedNx = on('nothere.secure.test', T.A, () => nxdomain(genuine('secure.test', 'secure.test', T.SOA, false)));
    attack = onAll(unsignedNx, on('nothere.secure.test', T.DS, () => data(forged())));
    expectBogus(await resolver().lookup('nothere.secure.test', 'A'), /DS nothere\.secure\.test: CNAME \(wildcard expansion\)/);
    // With the NSEC proof that nothere.secure.test does not exist, the CNAME is no zone cut:
    // the chain stays in secure.test, and the unsigned NXDOMAIN is what is bogus.
    attack = onAll(unsignedNx, on('nothere.secure.test', T.DS, (real) => data(forged(), real('nothere.secure.test', T.A).authorities)));
    expectBogus(await resolver().lookup('nothere.secure.test', 'A'), /no RRSIG although secure\.test is a signed zone/);
  });
  it('NXDOMAIN for a name that exists, with the (valid) NSEC proof of another name: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => nxdomain(real('nothere.secure.test', T.A).authorities));
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
    attack = on('www.nsec3.test', T.A, (real) => nxdomain(real('nothere.nsec3.test', T.A).authorities));
    expectBogus(await resolver().lookup('www.nsec3.test', 'A'));
  });
  it('NODATA for TLSA with the NSEC at its name, whose bit map has TLSA: bogus', async () => {
    const name = '_25._tcp.mx.secure.test';
    attack = on(name, T.TLSA, () => nodata([...genuine('secure.test', 'secure.test', T.SOA), ...genuine('secure.test', name, T.NSEC)]));
    expectBogus(await resolver().lookup(name, 'TLSA'), /type bit map has TLSA/);
  });
  it('NODATA for TLSA with the NSEC of another name (www.secure.test, no TLSA): bogus', async () => {
    const name = '_25._tcp.mx.secure.test';
    attack = on(name, T.TLSA, () => nodata([...genuine('secure.test', 'secure.test', T.SOA), ...genuine('secure.test', 'www.secure.test', T.NSEC)]));
    expectBogus(await resolver().lookup(name, 'TLSA'));
  });
  it("NXDOMAIN in nsec3.test proved with the parent's NSEC3 records (test): bogus", async () => {
    attack = on('www.nsec3.test', T.A, (real) => nxdomain(real('nothere.test', T.A).authorities));
    expectBogus(await resolver().lookup('www.nsec3.test', 'A'));
  });
  it('NXDOMAIN in nsec3.test proved with NSEC records of secure.test: bogus', async () => {
    attack = on('www.nsec3.test', T.A, (real) => nxdomain(real('nothere.secure.test', T.A).authorities));
    expectBogus(await resolver().lookup('www.nsec3.test', 'A'));
  });
  it('NODATA at a signed child apex proved by the parent side (NS, DS) of the cut: bogus', async () => {
    attack = on('secure.test', T.MX, () => nodata([...genuine('test', 'test', T.SOA), ...parentNsec3Of('secure.test')]));
    expectBogus(await resolver().lookup('secure.test', 'MX'));
  });
});

/** NSEC3 helpers over genuine records (the owner's zone is its parent name). */
function nsec3HashOf(r: RawRecord, name: string): Buffer {
  const d = parseNsec3(r.rdata);
  return nsec3Hash(name, d.salt, d.iterations);
}
function nsec3Matches(r: RawRecord, name: string): boolean {
  return r.name.split('.')[0] === base32hexEncode(nsec3HashOf(r, name));
}
function nsec3Covers(r: RawRecord, name: string): boolean {
  const h = nsec3HashOf(r, name);
  const o = base32hexDecode(r.name.split('.')[0]!)!;
  const n = parseNsec3(r.rdata).nextHashed;
  return Buffer.compare(o, n) < 0 ? Buffer.compare(o, h) < 0 && Buffer.compare(h, n) < 0 : Buffer.compare(o, h) < 0 || Buffer.compare(h, n) < 0;
}
/** The records without the NSEC3 RRs (and their RRSIGs) that `drop` selects. */
function withoutNsec3(list: RawRecord[], drop: (r: RawRecord) => boolean): RawRecord[] {
  const gone = new Set(list.filter((r) => r.type === T.NSEC3 && drop(r)).map((r) => r.name));
  return list.filter((r) => !((r.type === T.NSEC3 || isSig(T.NSEC3)(r)) && gone.has(r.name)));
}

/** The parent's (test) NSEC3 matching a delegation, with its RRSIG. */
function parentNsec3Of(child: string): RawRecord[] {
  const recs = world.zones.get('test')!.records;
  const n3 = recs.filter((r) => r.type === T.NSEC3);
  const p = parseNsec3(n3[0]!.rdata);
  const label = base32hexEncode(nsec3Hash(child, p.salt, p.iterations));
  const owner = n3.find((r) => r.name === `${label}.test`)!.name;
  return recs.filter((r) => r.name === owner && (r.type === T.NSEC3 || isSig(T.NSEC3)(r)));
}

// ---------------------------------------------------------------- keys and algorithms

describe('keys and algorithms', () => {
  it('the DS says ECDSA (13); a forged RSASHA256 (8) DNSKEY set signs a forged answer: bogus', async () => {
    const k = forgedSigner('secure.test', 8);
    attack = onAll(
      on('secure.test', T.DNSKEY, () => data([k.dnskey, sign(k, [k.dnskey])])),
      on('www.secure.test', T.A, () => {
        const a = aRR('www.secure.test', '203.0.113.66');
        return data([a, sign(k, [a])]);
      }),
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /no DNSKEY of secure\.test matches its DS/);
  });
  it('a forged key added to the genuine DNSKEY set, signed by the forged key only: bogus', async () => {
    const k = forgedSigner('secure.test', 13);
    attack = onAll(
      on('secure.test', T.DNSKEY, (real) => {
        const r = real('secure.test', T.DNSKEY);
        const keys = [...noSigs(r.answers), k.dnskey];
        return data([...r.answers, k.dnskey, sign(k, keys)]);
      }),
      on('www.secure.test', T.A, () => {
        const a = aRR('www.secure.test', '203.0.113.66');
        return data([a, sign(k, [a])]);
      }),
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /DNSKEY secure\.test not signed by a key its DS authenticates/);
  });
  it('a forged key, with the genuine key and its genuine RRSIG (over the set without the forged key): bogus', async () => {
    const k = forgedSigner('secure.test', 13);
    attack = onAll(
      on('secure.test', T.DNSKEY, (real) => data([...real('secure.test', T.DNSKEY).answers, k.dnskey])),
      on('www.secure.test', T.A, () => {
        const a = aRR('www.secure.test', '203.0.113.66');
        return data([a, sign(k, [a])]);
      }),
    );
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('an answer whose RRSIG claims an unsupported algorithm (253) in a signed zone: bogus, not insecure', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      return data(r.answers.map((x) => (x.type === T.RRSIG ? patchSig(x, (b) => ((b[2] = 253), b)) : { ...x, rdata: Buffer.from([203, 0, 113, 66]) })));
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /unsupported algorithm/);
  });
  it('the genuine key tag with another algorithm number (8) in the RRSIG: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      return data(r.answers.map((x) => (x.type === T.RRSIG ? patchSig(x, (b) => ((b[2] = 8), b)) : x)));
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /no such key/);
  });
  it('a mismatched key tag (signed by the real key): bogus', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10');
      return data([a, sign(s, [a], { tag: (s.tag + 1) & 0xffff })]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /no such key/);
  });
  it('a DNSKEY with an empty public key added to the set: bogus, no exception', async () => {
    attack = on('secure.test', T.DNSKEY, (real) => data([...real('secure.test', T.DNSKEY).answers, rr('secure.test', T.DNSKEY, Buffer.from([1, 1, 3, 13]), 3600), rr('secure.test', T.DNSKEY, Buffer.from([1, 1, 3, 13, 0]), 3600)]));
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('pure: a DS RRset with one supported and one unsupported algorithm: the supported one must match (RFC 6840 §5.2)', () => {
    const key = forgedSigner('secure.test', 13);
    const supported = { keyTag: 1234, algorithm: 13, digestType: 2, digest: Buffer.alloc(32, 7) };
    const unsupported = { keyTag: 5678, algorithm: 253, digestType: 2, digest: Buffer.alloc(32, 9) };
    expect(matchDs('secure.test', [supported, unsupported], [parseDnskey(key.dnskey.rdata)]).kind).toBe('nomatch');
    expect(matchDs('secure.test', [unsupported], [parseDnskey(key.dnskey.rdata)]).kind).toBe('unsupported');
  });
  it('pure: only the DS records of the strongest digest type present count (RFC 4509 §3)', () => {
    const key = forgedSigner('secure.test', 13);
    const ds = (digestType: number, digest = dsDigest('secure.test', key.dnskey.rdata, digestType)!) => ({ keyTag: key.tag, algorithm: 13, digestType, digest });
    const k = [parseDnskey(key.dnskey.rdata)];
    expect(matchDs('secure.test', [ds(1)], k).kind).toBe('match');
    // A stale SHA-256 DS beside a matching SHA-1 one, a stale SHA-384 beside a matching SHA-256.
    expect(matchDs('secure.test', [ds(1), ds(2, Buffer.alloc(32, 7))], k)).toMatchObject({ kind: 'nomatch', reason: expect.stringMatching(/1 DS with a weaker digest type ignored \(RFC 4509 §3\)/) });
    expect(matchDs('secure.test', [ds(2), ds(4, Buffer.alloc(48, 7))], k).kind).toBe('nomatch');
    expect(matchDs('secure.test', [ds(1, Buffer.alloc(20, 7)), ds(2)], k).kind).toBe('match');
  });
  it('a trust anchor: a stale SHA-256 DS beside a matching SHA-1 DS of the root key: bogus', async () => {
    const root = world.zones.get('')!;
    const ksk = root.records.find((r) => r.type === T.DNSKEY && r.name === '' && keyTag(r.rdata) === root.kskTag)!;
    const sha1 = `. 3600 IN DS ${root.kskTag} 13 1 ${dsDigest('', ksk.rdata, 1)!.toString('hex')}`;
    const stale = `. 3600 IN DS ${root.kskTag} 13 2 ${'07'.repeat(32)}`;
    expect(await resolver({ trustAnchors: parseTrustAnchors(sha1) }).lookup('www.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
    expectBogus(await resolver({ trustAnchors: parseTrustAnchors(`${sha1}\n${stale}`) }).lookup('www.secure.test', 'A'), /trust anchor: no DNSKEY of \. matches its DS/);
  });
});

// ---------------------------------------------------------------- validity periods, TTLs, RRsets

describe('validity periods, TTLs and RRset contents (signed with the real key)', () => {
  it('inception in the future: bogus', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10');
      return data([a, sign(s, [a], { inception: now + 3600, expiration: now + 7200 })]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /not valid before/);
  });
  it('expiration before inception: bogus', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10');
      return data([a, sign(s, [a], { inception: now + 100, expiration: now - 100 })]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /before inception/);
  });
  it('expired by one second: bogus', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10');
      return data([a, sign(s, [a], { inception: now - 7200, expiration: now - 1 })]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A', {}), /expired/);
  });
  it('an answer TTL above the original TTL is capped by it (RFC 4035 §5.3.3)', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10', 86_400);
      return data([a, sign(s, [a], { originalTtl: 60 })]);
    });
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure' });
    expect(a.ttl).toBeLessThanOrEqual(60);
  });
  it('a record injected into a signed RRset: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => data([...real('www.secure.test', T.A).answers, aRR('www.secure.test', '203.0.113.66')]));
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /signature does not verify/);
  });
  it('a record removed from a signed RRset: bogus', async () => {
    const s = zoneSigner('secure.test');
    attack = on('www.secure.test', T.A, () => {
      const a = aRR('www.secure.test', '192.0.2.10');
      const b = aRR('www.secure.test', '192.0.2.11');
      return data([a, sign(s, [a, b])]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('the RRSIG moved from the answer into the authority section: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      return data(noSigs(r.answers), r.answers.filter((x) => x.type === T.RRSIG));
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
});

// ---------------------------------------------------------------- CNAME and DNAME

describe('CNAME and DNAME', () => {
  it('an unsigned CNAME injected before a signed target: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => data([cnameRR('www.secure.test', 'www.nsec3.test'), ...real('www.nsec3.test', T.A).answers]));
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /CNAME www\.secure\.test/);
  });
  it('an unsigned CNAME from a signed zone into an insecure one: bogus, not insecure', async () => {
    attack = on('_25._tcp.mx.secure.test', T.TLSA, () => data([cnameRR('_25._tcp.mx.secure.test', 'www.insecure.test')], []));
    const a = await resolver().lookup('_25._tcp.mx.secure.test', 'TLSA');
    expectBogus(a);
  });
  it('a forged unsigned DNAME with its synthesized CNAME: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => data([dnameRR('secure.test', 'insecure.test'), cnameRR('www.secure.test', 'www.insecure.test'), ...real('www.insecure.test', T.A).answers]));
    expectBogus(await resolver().lookup('www.secure.test', 'A'), /DNAME secure\.test/);
  });
  it('a forged DNAME at the parent (test) over a signed zone: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => data([dnameRR('test', 'insecure.test'), cnameRR('www.secure.test', 'www.secure.insecure.test'), aRR('www.secure.insecure.test', '203.0.113.66')]));
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('a forged DNAME above a trust anchor below the root: bogus, not insecure (no downgrade)', async () => {
    // The only anchor is secure.test's DS: nothing above it can be validated, so a DNAME at
    // "test" (unsigned, or with any RRSIG) must not redirect names under the anchor.
    const r = resolver({ trustAnchors: parseTrustAnchors(world.zones.get('secure.test')!.ds.join('\n')) });
    const forged = [dnameRR('test', 'insecure.test'), cnameRR('www.secure.test', 'www.secure.insecure.test'), aRR('www.secure.insecure.test', '203.0.113.66')];
    attack = on('www.secure.test', T.A, () => data(forged));
    expectBogus(await r.lookup('www.secure.test', 'A'), /DNAME test/);
    const k = forgedSigner('test', 13);
    attack = on('_25._tcp.mx.secure.test', T.TLSA, () => {
      const d = dnameRR('test', 'insecure.test');
      return data([d, sign(k, [d]), cnameRR('_25._tcp.mx.secure.test', '_25._tcp.mx.secure.insecure.test')]);
    });
    const t = await r.lookup('_25._tcp.mx.secure.test', 'TLSA');
    expect(t.proof).not.toBe('insecure');
    expect(t.proof).not.toBe('secure');
    // Control: a genuine DNAME under the anchor still works (its target has no anchor: insecure).
    attack = undefined;
    expect(await r.lookup('www.dn.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'insecure', reason: 'no trust anchor above www.nsec3.test' });
  });
  it('a genuine DNAME with a synthesized CNAME to another target: bogus', async () => {
    attack = on('www.dn.secure.test', T.A, (real) => {
      const r = real('www.dn.secure.test', T.A);
      return data([...r.answers.filter((x) => x.type !== T.CNAME && x.type !== T.A && !isSig(T.A)(x)), cnameRR('www.dn.secure.test', 'www.insecure.test'), ...real('www.insecure.test', T.A).answers]);
    });
    expectBogus(await resolver().lookup('www.dn.secure.test', 'A'), /does not match the DNAME/);
  });
  it('a genuine DNAME replayed for a name outside its subtree: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.dn.secure.test', T.A);
      return data([...r.answers.filter((x) => x.type === 39 || isSig(39)(x)), cnameRR('www.secure.test', 'www.nsec3.test'), ...real('www.nsec3.test', T.A).answers]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('a CNAME loop, signed with the real key: failed, never secure', async () => {
    const s = zoneSigner('secure.test');
    attack = on('loop1.secure.test', T.A, () => {
      const a = cnameRR('loop1.secure.test', 'loop2.secure.test');
      const b = cnameRR('loop2.secure.test', 'loop1.secure.test');
      return data([a, sign(s, [a]), b, sign(s, [b])]);
    });
    const a = await resolver().lookup('loop1.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate', records: [] });
    expect(a.reason).toMatch(/CNAME loop/);
  });
  it('an unsigned CNAME loop: bogus', async () => {
    attack = on('loop1.secure.test', T.A, () => data([cnameRR('loop1.secure.test', 'loop2.secure.test'), cnameRR('loop2.secure.test', 'loop1.secure.test')]));
    expectBogus(await resolver().lookup('loop1.secure.test', 'A'));
  });
  it('a signed CNAME chain longer than the limit: failed, never secure', async () => {
    const s = zoneSigner('secure.test');
    attack = on('c0.secure.test', T.A, () => {
      const out: RawRecord[] = [];
      for (let i = 0; i < 30; i++) {
        const c = cnameRR(`c${i}.secure.test`, `c${i + 1}.secure.test`);
        out.push(c, sign(s, [c]));
      }
      const a = aRR('c30.secure.test', '192.0.2.10');
      return data([...out, a, sign(s, [a])]);
    });
    const a = await resolver().lookup('c0.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate', records: [] });
    expect(a.reason).toMatch(/CNAME chain longer than/);
  });
  it('a signed CNAME to a target whose NXDOMAIN proof is forged: bogus', async () => {
    attack = on('dangling.secure.test', T.A, (real) => ({ rcode: 3, answers: real('dangling.secure.test', T.A).answers, authorities: real('other.nsec3.test', T.A).authorities }));
    expectBogus(await resolver().lookup('dangling.secure.test', 'A'));
  });
});

// ---------------------------------------------------------------- malformed records

describe('malformed records', () => {
  it('a truncated RRSIG RDATA: bogus, no exception', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      return data(r.answers.map((x) => (x.type === T.RRSIG ? { ...x, rdata: x.rdata.subarray(0, 12) } : x)));
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('an RRSIG with an empty signature, or a signer name running past its RDATA: bogus', async () => {
    attack = on('www.secure.test', T.A, (real) => {
      const r = real('www.secure.test', T.A);
      const sig = r.answers.find((x) => x.type === T.RRSIG)!;
      const noSignature = { ...sig, rdata: sig.rdata.subarray(0, 18 + nameWire('secure.test').length) };
      const runaway = { ...sig, rdata: Buffer.concat([sig.rdata.subarray(0, 18), Buffer.from([6, 0x73, 0x65])]) };
      return data([...noSigs(r.answers), noSignature, runaway]);
    });
    expectBogus(await resolver().lookup('www.secure.test', 'A'));
  });
  it('a forged (unsigned) NSEC3 with 65535 iterations and a 255-octet salt: bogus, and quickly', async () => {
    const salt = Buffer.alloc(255, 0xab);
    const bitmap = Buffer.from([0, 1, 0x40]);
    const next = Buffer.alloc(20, 0xff);
    const rdata = Buffer.concat([Buffer.from([1, 0, 0xff, 0xff, salt.length]), salt, Buffer.from([20]), next, bitmap]);
    const owner = `${base32hexEncode(Buffer.alloc(20, 0))}.nsec3.test`;
    attack = on('nothere.nsec3.test', T.A, (real) => nxdomain([...genuine('nsec3.test', 'nsec3.test', T.SOA), rr(owner, T.NSEC3, rdata)]));
    const t0 = Date.now();
    expectBogus(await resolver().lookup('nothere.nsec3.test', 'A'));
    expect(Date.now() - t0).toBeLessThan(2000);
  });
  it('NSEC3 iterations above the limit follow RFC 9276 (insecure), below it an irrelevant NSEC3 is bogus', async () => {
    // iter.test is signed with 200 iterations: its denials are insecure, never secure.
    expect(await resolver().lookup('nothere.iter.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'insecure' });
    // nsec3.test (2 iterations): the NXDOMAIN proof of another name (without the record
    // at www.nsec3.test itself, which would be a genuine NODATA proof) proves nothing here.
    attack = on('www.nsec3.test', T.MX, (real) => nodata(withoutNsec3(real('nothere.nsec3.test', T.A).authorities, (r) => nsec3Matches(r, 'www.nsec3.test'))));
    expectBogus(await resolver().lookup('www.nsec3.test', 'MX'));
  });
  it('garbage NSEC RDATA and a garbage DS RDATA: bogus, no exception', async () => {
    attack = onAll(
      on('nothere.secure.test', T.A, () => nxdomain([...genuine('secure.test', 'secure.test', T.SOA), rr('mx.secure.test', T.NSEC, Buffer.from([0xff, 0xff, 0xff]))])),
      on('nsec3.test', T.DS, () => data([rr('nsec3.test', T.DS, Buffer.from([1]))])),
    );
    const r = resolver();
    expectBogus(await r.lookup('nothere.secure.test', 'A'));
    expectBogus(await r.lookup('www.nsec3.test', 'A'));
  });
});

// ---------------------------------------------------------------- NSEC3 opt-out and wildcards (pure)

function denialInput(zone: string, nsec3: Nsec3RR[], limit = 150): DenialInput {
  return { zone, nsec: [], nsec3, nsec3IterationLimit: limit };
}

function nsec3Chain(zone: string, names: Array<[string, number[]]>, o: { optOut?: boolean; iterations?: number; salt?: Buffer } = {}): Nsec3RR[] {
  const { iterations = 0, salt = Buffer.alloc(0) } = o;
  const hashed = names.map(([n, types]) => ({ h: nsec3Hash(n, salt, iterations), types })).sort((a, b) => Buffer.compare(a.h, b.h));
  return hashed.map((x, i) => ({
    owner: zone ? `${base32hexEncode(x.h)}.${zone}` : base32hexEncode(x.h),
    data: { hashAlgorithm: 1, flags: o.optOut ? 1 : 0, iterations, salt, nextHashed: hashed[(i + 1) % hashed.length]!.h, types: new Set(x.types) },
  }));
}

describe('NSEC3 parameters', () => {
  const zone = 'example';
  const names: Array<[string, number[]]> = [
    ['example', [T.SOA, T.NS, T.DNSKEY, T.RRSIG, T.NSEC3PARAM]],
    ['www.example', [T.A, T.RRSIG]],
  ];
  const withData = (f: (d: Nsec3RR['data']) => Partial<Nsec3RR['data']>) => nsec3Chain(zone, names).map((r) => ({ ...r, data: { ...r.data, ...f(r.data) } }));
  it('only unknown hash algorithms or unknown flags: bogus, not insecure (RFC 5155 §8.1-8.2)', () => {
    // Insecure would switch DANE off for a name of a signed zone.
    for (const chain of [withData(() => ({ hashAlgorithm: 2 })), withData(() => ({ flags: 0x80 }))]) {
      expect(proveNxdomain('q.example', denialInput(zone, chain))).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/unknown hash algorithms or flags/) });
      expect(proveNodata('www.example', T.TLSA, denialInput(zone, chain))).toMatchObject({ status: 'bogus' });
      expect(proveWildcardExpansion('q.example', 'example', denialInput(zone, chain))).toMatchObject({ status: 'bogus' });
    }
  });
  it('16 signed NSEC3 RRsets with distinct 255-octet salts and 150 iterations, a 126-label name: one parameter set, each name hashed once (CVE-2023-50868)', () => {
    // Was one hash per (salt, iterations) and label: 16 × 126 hashes of 151 SHA-1 each.
    const hostile: Nsec3RR[] = Array.from({ length: 16 }, (_, i) => ({
      owner: `${base32hexEncode(Buffer.alloc(20, i))}.z`,
      data: { hashAlgorithm: 1, flags: 0, iterations: 150, salt: Buffer.alloc(255, i), nextHashed: Buffer.alloc(20, i + 1), types: new Set<number>() },
    }));
    const qname = `${Array(125).fill('a').join('.')}.z`;
    const stats = { nsec3Hashes: 0 };
    expect(proveNxdomain(qname, { ...denialInput('z', hostile), stats })).toMatchObject({ status: 'bogus' });
    expect(stats.nsec3Hashes).toBeGreaterThan(0);
    expect(stats.nsec3Hashes).toBeLessThanOrEqual(126 + 1);
  });
  it('the hash budget per proof: the longest name (127 labels) proves within it, one hash fewer is bogus, naming the budget', () => {
    const salt = Buffer.alloc(255, 0xab);
    const root = nsec3Chain('', [['', [T.SOA, T.NS, T.DNSKEY, T.RRSIG, T.NSEC3PARAM]], ['b', [T.NS, T.DS, T.RRSIG]]], { iterations: 150, salt });
    const qname = Array(127).fill('a').join('.');
    // The name, each ancestor down to the apex (127), the wildcard *: 129 hashes.
    const stats = { nsec3Hashes: 0 };
    expect(proveNxdomain(qname, { ...denialInput('', root), stats })).toMatchObject({ status: 'secure' });
    expect(stats.nsec3Hashes).toBe(129);
    expect(129).toBeLessThanOrEqual(NSEC3_HASH_BUDGET);
    const tight = { ...denialInput('', root), nsec3HashBudget: 128, stats: { nsec3Hashes: 0 } };
    expect(proveNxdomain(qname, tight)).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/needs more than 128 hash computations, the limit per proof \(CVE-2023-50868\)/) });
    expect(tight.stats.nsec3Hashes).toBe(128);
    expect(proveNodata(qname, T.TLSA, tight)).toMatchObject({ status: 'bogus', reason: expect.stringMatching(/128 hash computations/) });
  });
  it('NSEC3 records with another parameter set than the first are ignored', () => {
    const names: Array<[string, number[]]> = [['example', [T.SOA, T.NS]], ['www.example', [T.A]]];
    const other = nsec3Chain('example', names, { salt: Buffer.from('ab', 'hex') });
    // A proof from the other chain, behind a first record of the zone's own chain.
    const mixed = [nsec3Chain('example', names)[0]!, ...other];
    expect(proveNxdomain('q.example', denialInput('example', other))).toMatchObject({ status: 'secure' });
    expect(proveNxdomain('q.example', denialInput('example', mixed))).toMatchObject({ status: 'bogus' });
  });
});

describe('NSEC3 opt-out and wildcard expansions', () => {
  it('a wildcard expansion whose next closer name is covered by an opt-out NSEC3 is not secure (RFC 5155 §9.2)', () => {
    // An unsigned delegation may sit at the next closer name, in which case the real answer
    // comes from that child zone: the signed wildcard data is no proof of the answer.
    const zone = 'example';
    const names: Array<[string, number[]]> = [
      ['example', [T.SOA, T.NS, T.DNSKEY, T.RRSIG, T.NSEC3PARAM]],
      ['*.example', [T.A, T.RRSIG]],
      ['www.example', [T.A, T.RRSIG]],
    ];
    expect(proveWildcardExpansion('q.example', 'example', denialInput(zone, nsec3Chain(zone, names)))).toMatchObject({ status: 'secure' });
    expect(proveWildcardExpansion('q.example', 'example', denialInput(zone, nsec3Chain(zone, names, { optOut: true })))).toMatchObject({
      status: 'insecure',
      reason: expect.stringMatching(/opt-out/),
    });
  });
});
