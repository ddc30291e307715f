import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseTrustAnchors, type TrustAnchor } from '../../src/dns/dnssec/trust-anchors.js';
import { STRIPPED, ValidatingResolver, type ValidatingResolverOptions } from '../../src/dns/dnssec/validating-resolver.js';
import { buildWorld, tlsaHex, type World } from '../support/dnssec-world.js';
import { cleanupZones } from '../support/dnssec-zones.js';

let world: World;
let anchors: TrustAnchor[];

beforeAll(async () => {
  world = await buildWorld();
  anchors = parseTrustAnchors(world.anchorDs);
}, 180_000);

afterAll(async () => {
  await world?.upstream.close();
  await cleanupZones();
});

beforeEach(() => {
  world.upstream.faults = {};
});

function resolver(extra: Partial<ValidatingResolverOptions> = {}): ValidatingResolver {
  return new ValidatingResolver({ upstream: world.address, timeoutMs: 2000, trustAnchors: anchors, ...extra });
}

describe('secure answers', () => {
  it('validates an A RRset through root → test → secure.test', async () => {
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.10'], canonicalName: 'www.secure.test' });
    expect(a.ttl).toBeGreaterThan(0);
    expect(a.ttl).toBeLessThanOrEqual(300);
  });

  it('validates MX and TLSA', async () => {
    const r = resolver();
    const mx = await r.lookup('secure.test', 'MX');
    expect(mx).toMatchObject({ status: 'data', proof: 'secure', records: [{ preference: 10, exchange: 'mx.secure.test' }] });
    const tlsa = await r.lookup('_25._tcp.mx.secure.test', 'TLSA');
    expect(tlsa.status).toBe('data');
    expect(tlsa.proof).toBe('secure');
    expect(tlsa.records[0]!.data.toString('hex')).toBe(tlsaHex);
  });

  it('validates an RSASHA256 zone with a separate ZSK and NSEC3', async () => {
    expect(await resolver().lookup('www.nsec3.test', 'A')).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.30'] });
  });

  it('ignores a mixed-case query name', async () => {
    expect(await resolver().lookup('WWW.Secure.TEST.', 'A')).toMatchObject({ qname: 'www.secure.test', status: 'data', proof: 'secure' });
  });

  it('accepts a DNSKEY trust anchor', async () => {
    const r = resolver({ trustAnchors: parseTrustAnchors(world.anchorDnskey) });
    expect(await r.lookup('www.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
  });
});

describe('trust anchors below the root', () => {
  it('validates under the anchor; names outside it are insecure', async () => {
    const r = resolver({ trustAnchors: parseTrustAnchors(world.zones.get('secure.test')!.ds.join('\n')) });
    expect(await r.lookup('www.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
    expect(await r.lookup('nothere.secure.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure' });
    expect(await r.lookup('www.nsec3.test', 'A')).toMatchObject({ status: 'data', proof: 'insecure', reason: 'no trust anchor above www.nsec3.test' });
  });
  it('a signer above the closest anchor is not accepted (no downgrade to insecure)', async () => {
    // www.secure.test A signed as if by "test": with the anchor at secure.test, "test" has no anchor.
    const r = resolver({ trustAnchors: parseTrustAnchors(world.zones.get('secure.test')!.ds.join('\n')) });
    world.upstream.faults = { answerSigner: (q) => (q === 'www.secure.test' ? 'test' : undefined) };
    const a = await r.lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/signer test is not a zone between the trust anchor secure\.test and the owner/);
    // With the root anchor, the claimed signer "test" is a real zone whose keys made no such signature.
    const b = await resolver().lookup('www.secure.test', 'A');
    expect(b).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(b.reason).toMatch(/of test: (no such key|signature does not verify)/);
  });
});

describe('denial of existence', () => {
  it('NXDOMAIN with NSEC', async () => {
    expect(await resolver().lookup('nothere.secure.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure' });
  });
  it('NODATA with NSEC', async () => {
    expect(await resolver().lookup('www.secure.test', 'AAAA')).toMatchObject({ status: 'nodata', proof: 'secure' });
  });
  it('NXDOMAIN with NSEC3 (closest encloser proof)', async () => {
    expect(await resolver().lookup('a.b.nothere.nsec3.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure' });
  });
  it('NODATA with NSEC3, and at an empty non-terminal', async () => {
    const r = resolver();
    expect(await r.lookup('www.nsec3.test', 'MX')).toMatchObject({ status: 'nodata', proof: 'secure' });
    expect(await r.lookup('er.nsec3.test', 'A')).toMatchObject({ status: 'nodata', proof: 'secure' });
  });
  it('NODATA with a matching NSEC3 in an opt-out zone is secure', async () => {
    expect(await resolver().lookup('www.optout.test', 'AAAA')).toMatchObject({ status: 'nodata', proof: 'secure' });
  });
  it('NXDOMAIN under opt-out is insecure (an unsigned delegation may exist)', async () => {
    const a = await resolver().lookup('nothere.optout.test', 'A');
    expect(a).toMatchObject({ status: 'nxdomain', proof: 'insecure' });
    expect(a.reason).toMatch(/opt-out/);
  });
  it('wildcard NODATA with NSEC', async () => {
    expect(await resolver().lookup('foo.wild.secure.test', 'MX')).toMatchObject({ status: 'nodata', proof: 'secure' });
  });
});

describe('insecure delegations', () => {
  it('proved by NSEC3 at the parent (no DS)', async () => {
    const a = await resolver().lookup('www.insecure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'insecure', records: ['192.0.2.79'] });
    expect(a.reason).toMatch(/insecure\.test is an insecure delegation/);
  });
  it('proved by NSEC at the parent (no DS)', async () => {
    const a = await resolver().lookup('www.plain.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'insecure', records: ['192.0.2.77'] });
    expect(a.reason).toMatch(/NSEC plain\.secure\.test/);
  });
  it('proved by a matching NSEC3 in an opt-out zone', async () => {
    expect(await resolver().lookup('www.unsigned.optout.test', 'A')).toMatchObject({ status: 'data', proof: 'insecure' });
  });
  it('negative answers in an insecure zone are insecure', async () => {
    expect(await resolver().lookup('nothere.insecure.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'insecure' });
  });
  it('a DS RRset with only an unsupported digest type makes the zone insecure', async () => {
    const a = await resolver().lookup('www.unsupported.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'insecure' });
    expect(a.reason).toMatch(/no supported algorithm and digest type/);
  });
  it('NSEC3 iterations above the limit are insecure (RFC 9276 §3.2); positive answers stay secure', async () => {
    const r = resolver();
    const nx = await r.lookup('nothere.iter.test', 'A');
    expect(nx).toMatchObject({ status: 'nxdomain', proof: 'insecure' });
    expect(nx.reason).toMatch(/200 iterations, above the limit of 150/);
    expect(await r.lookup('www.iter.test', 'AAAA')).toMatchObject({ status: 'nodata', proof: 'insecure' });
    expect(await r.lookup('www.iter.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
    const lenient = resolver({ nsec3IterationLimit: 300 });
    expect(await lenient.lookup('nothere.iter.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure' });
  });
});

describe('wildcards and CNAMEs', () => {
  it('wildcard expansion with its NSEC proof', async () => {
    expect(await resolver().lookup('foo.wild.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.99'], canonicalName: 'foo.wild.secure.test' });
  });
  it('wildcard expansion with its NSEC3 proof', async () => {
    expect(await resolver().lookup('x.y.w.nsec3.test', 'A')).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.31'] });
  });
  it('a wildcard expansion without the proof is bogus', async () => {
    world.upstream.faults = { dropProof: () => true };
    const a = await resolver().lookup('foo.wild.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/wildcard/);
  });
  it('a CNAME chain across zones, each link validated', async () => {
    const a = await resolver().lookup('chain.secure.test', 'A');
    expect(a).toMatchObject({
      status: 'data',
      proof: 'secure',
      records: ['192.0.2.30'],
      cnameChain: ['chain.secure.test', 'alias.secure.test', 'www.nsec3.test'],
      canonicalName: 'www.nsec3.test',
    });
  });
  it('a CNAME to a name that does not exist: NXDOMAIN proved in the target zone', async () => {
    const a = await resolver().lookup('dangling.secure.test', 'A');
    expect(a).toMatchObject({ status: 'nxdomain', proof: 'secure', canonicalName: 'nothere.nsec3.test' });
  });
  it('asks for the rest of a CNAME chain that the upstream did not follow', async () => {
    world.upstream.faults = { noChase: true };
    const a = await resolver().lookup('chain.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.30'], canonicalName: 'www.nsec3.test' });
    expect(world.upstream.log).toContain('www.nsec3.test|1');
  });
  it('a CNAME synthesized from a signed DNAME', async () => {
    const a = await resolver().lookup('www.dn.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.30'], cnameChain: ['www.dn.secure.test', 'www.nsec3.test'] });
  });
  it('a CNAME from a signed zone into an insecure one is insecure', async () => {
    expect(await resolver().lookup('toinsecure.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'insecure', records: ['192.0.2.79'] });
  });
});

describe('bogus answers', () => {
  it('expired signatures', async () => {
    const a = await resolver().lookup('www.expired.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus', records: [] });
    expect(a.reason).toMatch(/expired/);
  });
  it('a signature by a key that is not in the DNSKEY set', async () => {
    const a = await resolver().lookup('www.unknownkey.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/RRSIG A www\.unknownkey\.test by key \d+ \(ECDSAP256SHA256\) of unknownkey\.test: no such key/);
  });
  it('a DS whose digest matches no DNSKEY', async () => {
    const a = await resolver().lookup('www.baddigest.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/no DNSKEY of baddigest\.test matches its DS/);
  });
  it('an NSEC3 NXDOMAIN without its proof', async () => {
    world.upstream.faults = { dropProof: (q) => q === 'nothere.nsec3.test' };
    const a = await resolver().lookup('nothere.nsec3.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/NXDOMAIN for nothere\.nsec3\.test: NXDOMAIN .*without NSEC or NSEC3 proof/);
  });
  it('a forged unsigned answer in a signed zone', async () => {
    world.upstream.faults = { unsignedAnswer: (q, t) => q === 'www.secure.test' && t === 1 };
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/A www\.secure\.test .*no RRSIG .*secure\.test is a signed zone/);
  });
  it('forged data under a genuine signature', async () => {
    world.upstream.faults = { forgeA: (q) => (q === 'www.secure.test' ? '203.0.113.66' : undefined) };
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/signature does not verify/);
  });
  it('an upstream that strips RRSIGs: said plainly', async () => {
    world.upstream.faults = { stripDnssec: true, ad: true };
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toContain(STRIPPED);
  });
  it('a wrong trust anchor', async () => {
    const r = resolver({ trustAnchors: parseTrustAnchors('. IN DS 12345 13 2 ' + 'ab'.repeat(32)) });
    const a = await r.lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/trust anchor/);
  });
  it('signatures past their expiration by the injected clock', async () => {
    const r = resolver({ now: () => (world.now + 40 * 86_400) * 1000 });
    const a = await r.lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(a.reason).toMatch(/signature expired/);
  });
});

describe('upstream problems and the AD bit', () => {
  it('SERVFAIL is indeterminate', async () => {
    world.upstream.faults = { servfail: true };
    expect(await resolver().lookup('www.secure.test', 'A')).toMatchObject({ status: 'failed', proof: 'indeterminate' });
  });
  it('an unreachable upstream is indeterminate', async () => {
    const r = new ValidatingResolver({ upstream: { server: '127.0.0.1', port: 9 }, timeoutMs: 300, trustAnchors: anchors });
    const a = await r.lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
  });
  it('truncated UDP answers are retried over TCP', async () => {
    world.upstream.faults = { truncateUdp: true };
    expect(await resolver().lookup('www.nsec3.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
  });
  it('the AD bit of the upstream is ignored', async () => {
    world.upstream.faults = { ad: true };
    expect(await resolver().lookup('www.insecure.test', 'A')).toMatchObject({ proof: 'insecure' });
  });
});

describe('cache', () => {
  it('shares in-flight work and caches by TTL', async () => {
    let clock = Date.now();
    const r = resolver({ now: () => clock });
    const before = world.upstream.log.length;
    const [a, b] = await Promise.all([r.lookup('www.secure.test', 'A'), r.lookup('www.secure.test', 'A')]);
    expect(a).toEqual(b);
    const asked = world.upstream.log.slice(before);
    expect(asked.filter((q) => q === 'www.secure.test|1')).toHaveLength(1);
    expect(asked.filter((q) => q === 'secure.test|48')).toHaveLength(1);
    // Another name in the same zone needs no DNSKEY or DS query.
    const mid = world.upstream.log.length;
    await r.lookup('mx.secure.test', 'A');
    expect(world.upstream.log.slice(mid)).toEqual(['mx.secure.test|1']);
    const hits = r.stats.cacheHits;
    await r.lookup('www.secure.test', 'A');
    expect(r.stats.cacheHits).toBe(hits + 1);
    clock += 301_000;
    const late = world.upstream.log.length;
    await r.lookup('www.secure.test', 'A');
    expect(world.upstream.log.slice(late)).toContain('www.secure.test|1');
    expect(world.upstream.log.slice(late)).toContain('secure.test|48');
  });
  it('concurrent lookups of different names share the key fetches', async () => {
    const r = resolver();
    const before = world.upstream.log.length;
    const names = ['www.secure.test', 'mx.secure.test', 'nothere.secure.test', 'foo.wild.secure.test', 'www.nsec3.test'];
    const answers = await Promise.all(names.map((n) => r.lookup(n, 'A')));
    expect(answers.map((a) => a.proof)).toEqual(['secure', 'secure', 'secure', 'secure', 'secure']);
    const asked = world.upstream.log.slice(before);
    for (const q of ['|48', 'test|43', 'test|48', 'secure.test|43', 'secure.test|48', 'nsec3.test|43', 'nsec3.test|48']) {
      expect(asked.filter((x) => x === q)).toHaveLength(1);
    }
  });
  it('keeps nothing past the expiration of its signatures', async () => {
    let clock = world.now * 1000;
    const r = resolver({ now: () => clock });
    const a = await r.lookup('www.soon.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure' });
    expect(a.ttl).toBeLessThanOrEqual(120);
    expect(a.ttl).toBeGreaterThan(60);
    clock += 150_000;
    const late = await r.lookup('www.soon.test', 'A');
    expect(late).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(late.reason).toMatch(/expired/);
  });
  it('an aborted lookup throws ABORTED', async () => {
    const c = new AbortController();
    c.abort();
    await expect(resolver().lookup('www.secure.test', 'A', { signal: c.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
