import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAll, type RunOptions } from '../../../src/engine/run.js';
import { CachingResolver } from '../../../src/dns/cache.js';
import { parseTrustAnchors, type TrustAnchor } from '../../../src/dns/dnssec/trust-anchors.js';
import { STRIPPED, ValidatingResolver, type ValidatingResolverOptions } from '../../../src/dns/dnssec/validating-resolver.js';
import { rrsigTime } from '../../../src/dns/dnssec/verify.js';
import { parseRrsig, T } from '../../../src/dns/dnssec/wire-dnssec.js';
import { StubResolver } from '../../../src/dns/stub.js';
import type { SmtpSessionResult } from '../../../src/smtp/types.js';
import { buildWorld, tlsaHex, type World } from '../../support/dnssec-world.js';
import { cleanupZones } from '../../support/dnssec-zones.js';
import { expectNoLeakedSocketsAfterEach } from '../../support/socket-tracker.js';

// Every socket src/ opens during a test is closed by its end (test/support/socket-tracker.ts).
vi.mock('node:dgram', async (orig) => (await import('../../support/socket-tracker.js')).trackDgram(await orig()));
vi.mock('node:net', async (orig) => (await import('../../support/socket-tracker.js')).trackNet(await orig()));
expectNoLeakedSocketsAfterEach();

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
  it('NXDOMAIN with NSEC3 (closest encloser proof), each name hashed once', async () => {
    const r = resolver();
    expect(await r.lookup('a.b.nothere.nsec3.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure' });
    // The name, its ancestors down to the closest encloser nsec3.test, and *.nsec3.test.
    expect(r.stats.nsec3Hashes).toBe(5);
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

/** The earliest expiration of the RRSIGs over `owner`/`type` in the signed zone, as DnsAnswer.signatureExpires. */
function sigExpiry(zone: string, owner: string, type: number): string {
  const sigs = world.zones
    .get(zone)!
    .records.filter((r) => r.type === T.RRSIG && r.name === owner)
    .map((r) => parseRrsig(r.rdata))
    .filter((s) => s.typeCovered === type);
  expect(sigs.length).toBeGreaterThan(0);
  return new Date(Math.min(...sigs.map((s) => rrsigTime(s.expiration, world.now))) * 1000).toISOString();
}

describe('signatureExpires (the RRSIGs that validated the answer)', () => {
  // soon.test is signed until world.now + 120 s, the other zones for 30 days.
  const atWorldTime = () => resolver({ now: () => world.now * 1000 });
  const soon = () => new Date((world.now + 120) * 1000).toISOString();

  it('a secure positive answer: the RRSIG of its RRset', async () => {
    const r = atWorldTime();
    const a = await r.lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', signatureExpires: sigExpiry('secure.test', 'www.secure.test', T.A) });
    expect((await r.lookup('www.soon.test', 'A')).signatureExpires).toBe(soon());
    expect((await r.lookup('soon.test', 'MX')).signatureExpires).toBe(soon());
    // A cached answer keeps it.
    expect((await r.lookup('www.soon.test', 'A')).signatureExpires).toBe(soon());
  });

  it('a CNAME chain: the earliest over the CNAMEs and the final RRset', async () => {
    const r = atWorldTime();
    // secure.test (30 days) -> soon.test (120 s): the target's A RRSIG is the earliest.
    const a = await r.lookup('tosoon.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', cnameChain: ['tosoon.secure.test', 'www.soon.test'], signatureExpires: soon() });
    // soon.test -> secure.test: the CNAME's RRSIG is the earliest.
    const b = await r.lookup('alias.soon.test', 'A');
    expect(b).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.10'], cnameChain: ['alias.soon.test', 'www.secure.test'], signatureExpires: soon() });
    const c = await r.lookup('chain.secure.test', 'A');
    const expected = [sigExpiry('secure.test', 'chain.secure.test', T.CNAME), sigExpiry('secure.test', 'alias.secure.test', T.CNAME), sigExpiry('nsec3.test', 'www.nsec3.test', T.A)].sort()[0];
    expect(c).toMatchObject({ status: 'data', proof: 'secure', signatureExpires: expected });
  });

  it('the same value as the AD-bit stub reads from the same answer', async () => {
    world.upstream.faults = { ad: true };
    const stub = new StubResolver({ server: world.address.server, port: world.address.port, timeoutMs: 2000 });
    for (const name of ['www.secure.test', 'tosoon.secure.test', 'alias.soon.test']) {
      const fromStub = await stub.lookup(name, 'A');
      const validated = await atWorldTime().lookup(name, 'A');
      expect(validated.signatureExpires).toBeDefined();
      expect(validated.signatureExpires).toBe(fromStub.signatureExpires);
    }
  });

  it('secure denial of existence: the RRSIGs of the NSEC/NSEC3 records used', async () => {
    const r = atWorldTime();
    expect(await r.lookup('nothere.soon.test', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure', signatureExpires: soon() });
    expect(await r.lookup('www.soon.test', 'AAAA')).toMatchObject({ status: 'nodata', proof: 'secure', signatureExpires: soon() });
    expect(await r.lookup('tosoon.secure.test', 'AAAA')).toMatchObject({ status: 'nodata', proof: 'secure', signatureExpires: soon() });
    const n3 = await r.lookup('a.b.nothere.nsec3.test', 'A');
    expect(n3).toMatchObject({ status: 'nxdomain', proof: 'secure' });
    expect(Date.parse(n3.signatureExpires!)).toBeGreaterThan((world.now + 29 * 86_400) * 1000);
  });

  it('absent without validated signatures (insecure zone) and on failures', async () => {
    const r = atWorldTime();
    expect('signatureExpires' in (await r.lookup('www.insecure.test', 'A'))).toBe(false);
    expect('signatureExpires' in (await r.lookup('www.expired.test', 'A'))).toBe(false);
  });

  it('rrsig-expires-soon is raised from a validating-mode answer', async () => {
    const validator = atWorldTime();
    const session = async (): Promise<SmtpSessionResult> => ({ outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'CONNECT', message: 'no SMTP in this test' } });
    const options: RunOptions = {
      resolver: validator,
      selfValidating: true,
      port: 25,
      helo: 'client.test',
      timeoutMs: 2000,
      now: () => new Date(world.now * 1000),
      session: session as unknown as RunOptions['session'],
    };
    const [r] = await runAll([{ domain: 'soon.test', job: { kind: 'probe' } }], options);
    expect(r!.mx).toMatchObject({ type: 'MX', proof: 'secure', signatureExpires: soon() });
    const soonFindings = (r!.findings ?? []).filter((f) => f.code === 'rrsig-expires-soon');
    expect(soonFindings.map((f) => f.message).join('\n')).toMatch(/the RRSIG over the MX RRset of soon\.test expires/);
    expect(soonFindings.map((f) => f.message).join('\n')).toMatch(/the RRSIG over the TLSA RRset of _25\._tcp\.mx\.soon\.test expires/);
    // The same domain a month before: nothing to warn about.
    const [later] = await runAll([{ domain: 'secure.test', job: { kind: 'probe' } }], options);
    expect(later!.mx).toMatchObject({ proof: 'secure' });
    expect(later!.findings?.some((f) => f.code === 'rrsig-expires-soon')).toBe(false);
  });
});

describe('one deadline per lookup', () => {
  it('a slow upstream: each query within the timeout, the whole walk not: failed within about the deadline', async () => {
    // A cold cache needs six queries in turn (A, DNSKEY ., DS/DNSKEY test, DS/DNSKEY secure.test):
    // 6 x 300 ms with a per-query deadline of 500 ms used to take 1.8 s and succeed.
    world.upstream.faults = { delayMs: 300 };
    const r = resolver({ timeoutMs: 500 });
    const t0 = performance.now();
    const a = await r.lookup('www.secure.test', 'A');
    const took = performance.now() - t0;
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate', records: [] });
    expect(a.reason).toMatch(/^timeout after 0\.5s: the DNSSEC validation of A www\.secure\.test did not finish in time/);
    expect(took).toBeLessThan(1500);
    // Nothing of it was kept: with a fast upstream the same resolver validates.
    world.upstream.faults = {};
    expect(await r.lookup('www.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
    // With the keys cached, one slow query fits the deadline.
    world.upstream.faults = { delayMs: 300 };
    expect(await r.lookup('mx.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
  });

  it('a caller who aborts does not stop a shared lookup', async () => {
    const r = resolver();
    const before = world.upstream.log.length;
    const ac = new AbortController();
    const a = r.lookup('www.secure.test', 'A', { signal: ac.signal });
    const b = r.lookup('www.secure.test', 'A');
    ac.abort();
    await expect(a).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await b).toMatchObject({ status: 'data', proof: 'secure' });
    expect(world.upstream.log.slice(before).filter((q) => q === 'www.secure.test|1')).toHaveLength(1);
  });

  it("one lookup's deadline does not fail another that shares its DS fetch", async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    // The first lookup's own query is slow, so its DS query for secure.test starts ~800 ms in;
    // that one is held until the first lookup has timed out.
    world.upstream.faults = {
      hold: (q, t) => (q === 'www.secure.test' && t === T.A ? sleep(800) : q === 'secure.test' && t === T.DS ? gate : undefined),
    };
    const r = resolver({ timeoutMs: 2000 });
    const before = world.upstream.log.length;
    const first = r.lookup('www.secure.test', 'A');
    while (!world.upstream.log.slice(before).includes('secure.test|43')) await sleep(20);
    const second = r.lookup('mx.secure.test', 'A');
    const a = await first;
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(a.reason).toMatch(/^timeout after 2s/);
    release();
    expect(await second).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.25'] });
    expect(world.upstream.log.slice(before).filter((q) => q === 'secure.test|43')).toHaveLength(1);
  });

  it('through a CachingResolver: shared, within the deadline, the failure kept only briefly', async () => {
    let clock = 1_000_000;
    world.upstream.faults = { delayMs: 200 };
    const c = new CachingResolver(resolver({ timeoutMs: 300 }), { now: () => clock, failureTtlSeconds: 5 });
    const t0 = performance.now();
    const [x, y] = await Promise.all([c.lookup('www.secure.test', 'A'), c.lookup('www.secure.test', 'A')]);
    expect(performance.now() - t0).toBeLessThan(900);
    for (const a of [x, y]) expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate', reason: expect.stringMatching(/^timeout/) });
    expect(c.stats).toMatchObject({ misses: 1, joined: 1 });
    world.upstream.faults = {};
    clock += 4000;
    expect((await c.lookup('www.secure.test', 'A')).status).toBe('failed');
    clock += 2000;
    expect(await c.lookup('www.secure.test', 'A')).toMatchObject({ status: 'data', proof: 'secure' });
    expect(c.stats.misses).toBe(2);
  });
});

describe('cache lifetimes', () => {
  it('the TTL is capped by the original TTL of the RRSIG (RFC 4035 §5.3.3)', async () => {
    world.upstream.faults = { answerTtl: 86_400 };
    const a = await resolver().lookup('www.secure.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure' });
    expect(a.ttl).toBeLessThanOrEqual(300);
  });

  it('a CachingResolver keeps a validated answer no longer than its signatures', async () => {
    let clock = world.now * 1000;
    const v = resolver({ now: () => clock });
    const c = new CachingResolver(v, { now: () => clock, maxTtlSeconds: 3600 });
    const a = await c.lookup('www.soon.test', 'A');
    expect(a).toMatchObject({ status: 'data', proof: 'secure', signatureExpires: new Date((world.now + 120) * 1000).toISOString() });
    expect(a.ttl).toBeLessThanOrEqual(120);
    clock += 100_000;
    expect((await c.lookup('www.soon.test', 'A')).status).toBe('data');
    expect(c.stats.hits).toBe(1);
    clock += 30_000;
    const late = await c.lookup('www.soon.test', 'A');
    expect(late).toMatchObject({ status: 'failed', proof: 'bogus' });
    expect(c.stats.misses).toBe(2);
  });
});
