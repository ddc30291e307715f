/**
 * RFC 7672 / RFC 7671 conformance review: behaviour the RFCs pin down that the other unit
 * tests do not (TLSA owner CNAMEs, the end of the candidate list, SNI per TLSA base, name
 * checks for CNAMEd MX hosts, no plaintext retry for mandatory TLS, dane-only, bare-key
 * DANE-TA anchors).
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/core/rfc7672/authenticate.js';
import { decideMx, type MxHost } from '../../src/core/rfc7672/mx.js';
import { planHost } from '../../src/engine/host-plan.js';
import { classifyTlsa, usableRecords } from '../../src/core/rfc7672/tlsa.js';
import { processDestination, type DestinationOptions } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import type { PolicyEntry } from '../../src/policy/table.js';
import { D32, FixtureResolver, mx, tlsa, type FixtureAnswer } from '../support/fixture-resolver.js';
import { scriptedSession, type Behaviour, type Call } from '../support/scripted-session.js';
import { makeCert, makeChain, type Chain } from '../support/pki.js';

const host = (name: string): MxHost => ({ name, preference: 10, implicit: false });
const secure = (records: unknown[], cnameChain?: string[]): FixtureAnswer => (cnameChain ? { proof: 'secure', records, cnameChain } : { proof: 'secure', records });
const nodata = (proof: 'secure' | 'insecure' = 'secure', cnameChain?: string[]): FixtureAnswer => (cnameChain ? { proof, status: 'nodata', cnameChain } : { proof, status: 'nodata' });
const opts = { port: 25 };



async function deliverTo(table: Record<string, FixtureAnswer>, behaviours: Record<string, Behaviour>, extra: Partial<DestinationOptions> = {}, job: Job = { kind: 'probe' }) {
  const calls: Call[] = [];
  const resolver = new FixtureResolver(table);
  const result = await processDestination('example.test', job, {
    resolver, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, calls), ...extra,
  });
  return { result, calls, asked: resolver.asked };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const taRecord = (c: Chain) => ({ usage: 2, selector: 1, matchingType: 1, data: sha256(c.intermediate.spkiDer) });
const eeRecord = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: sha256(c.leaf.spkiDer) });
const policy = (level: PolicyEntry['level']): PolicyEntry => ({ level, match: [], fingerprints: [], source: 'test:1' });

describe('RFC 7672 §2.2.3: TLSA lookup, CNAMEs at the TLSA owner and the end of the candidate list', () => {
  it('a secure TLSA owner that is a CNAME is followed; the TLSA base stays the candidate, not the CNAME target', async () => {
    const r = new FixtureResolver({
      'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': secure([tlsa(3, 1, 1, D32)], ['_25._tcp.mx.example.test', '_dane.hoster.test']),
    });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ kind: 'usable', level: { kind: 'dane', tlsaBase: 'mx.example.test', referenceNames: ['mx.example.test', 'example.test'] } });
  });

  it('a TLSA CNAME chain that ends insecure at the expanded name: the original name is tried next', async () => {
    const chain = ['mx.example.test', 'mail.hoster.test'];
    const r = new FixtureResolver({
      'mx.example.test A': secure(['192.0.2.1'], chain), 'mx.example.test AAAA': nodata('secure', chain),
      '_25._tcp.mail.hoster.test TLSA': { proof: 'insecure', records: [tlsa(3, 1, 1, D32)], cnameChain: ['_25._tcp.mail.hoster.test', '_25._tcp.unsigned.test'] },
      '_25._tcp.mx.example.test TLSA': secure([tlsa(3, 1, 1, 'cd'.repeat(32))]),
    });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ level: { kind: 'dane', tlsaBase: 'mx.example.test' } });
    expect(r.asked).toEqual(['mx.example.test A', 'mx.example.test AAAA', '_25._tcp.mail.hoster.test TLSA', '_25._tcp.mx.example.test TLSA']);
  });

  it('a secure RRset of only unusable records at the expanded name ends the search: encrypt there, the original name is not asked', async () => {
    const chain = ['mx.example.test', 'mail.hoster.test'];
    const r = new FixtureResolver({
      'mx.example.test A': secure(['192.0.2.1'], chain), 'mx.example.test AAAA': nodata('secure', chain),
      '_25._tcp.mail.hoster.test TLSA': secure([tlsa(1, 1, 1, D32)]),
      '_25._tcp.mx.example.test TLSA': secure([tlsa(3, 1, 1, D32)]),
    });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ level: { kind: 'encrypt', tlsaBase: 'mail.hoster.test' } });
    expect(r.asked).not.toContain('_25._tcp.mx.example.test TLSA');
  });

  for (const proof of ['secure', 'insecure'] as const) {
    it(`TLSA NODATA (${proof}) at every candidate: opportunistic, the host is not failed`, async () => {
      const chain = ['mx.example.test', 'mail.hoster.test'];
      const r = new FixtureResolver({
        'mx.example.test A': secure(['192.0.2.1'], chain), 'mx.example.test AAAA': nodata('secure', chain),
        '_25._tcp.mail.hoster.test TLSA': nodata(proof),
        '_25._tcp.mx.example.test TLSA': nodata(proof),
      });
      const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
      expect(p).toMatchObject({ kind: 'usable', level: { kind: 'may' } });
      expect(r.asked.filter((q) => q.endsWith('TLSA'))).toEqual(['_25._tcp.mail.hoster.test TLSA', '_25._tcp.mx.example.test TLSA']);
    });
  }

  it('an insecure A RRset hides a secure, usable TLSA RRset: no TLSA lookup, plaintext allowed when STARTTLS is missing', async () => {
    const { result, asked, calls } = await deliverTo({
      'example.test MX': secure([mx(10, 'mx.example.test')]),
      'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'] }, 'mx.example.test AAAA': nodata('insecure'),
      '_25._tcp.mx.example.test TLSA': secure([tlsa(3, 1, 1, D32)]),
    }, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx.example.test', tls: false });
    expect(asked.some((q) => q.endsWith('TLSA'))).toBe(false);
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'may', servername: 'mx.example.test', job: 'probe' }]);
  });
});

describe('RFC 7672 §8.1 / RFC 7671 §10: SNI is the TLSA base domain', () => {
  let expanded: Chain;
  beforeAll(async () => {
    expanded = await makeChain({ leafCn: 'mail.hoster.test' });
  });
  const chain = ['mx.example.test', 'mail.hoster.test'];
  const base = {
    'example.test MX': secure([mx(10, 'mx.example.test')]),
    'mx.example.test A': secure(['192.0.2.1'], chain), 'mx.example.test AAAA': nodata('secure', chain),
  };
  it('TLSA at the expanded name: SNI is the expanded name', async () => {
    const { result, calls } = await deliverTo({ ...base, '_25._tcp.mail.hoster.test TLSA': secure([eeRecord(expanded)]) }, { '192.0.2.1': { kind: 'tls', chain: [expanded.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated' });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mail.hoster.test', job: 'probe' }]);
  });
  it('TLSA at the original name (none at the expanded one): SNI is the original name', async () => {
    const { result, calls } = await deliverTo({ ...base, '_25._tcp.mx.example.test TLSA': secure([eeRecord(expanded)]) }, { '192.0.2.1': { kind: 'tls', chain: [expanded.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated' });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mx.example.test', job: 'probe' }]);
  });
  it('TLSA owner that is a CNAME: SNI is the candidate base, not the CNAME target of the TLSA lookup', async () => {
    const { result, calls } = await deliverTo({
      'example.test MX': secure([mx(10, 'mx.example.test')]),
      'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': secure([eeRecord(expanded)], ['_25._tcp.mx.example.test', '_25._tcp.mail.hoster.test']),
    }, { '192.0.2.1': { kind: 'tls', chain: [expanded.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated' });
    expect(calls[0]!.servername).toBe('mx.example.test');
  });
  it('secure first CNAME into an insecure zone: TLSA and SNI at the original name', async () => {
    const { result, calls } = await deliverTo({
      'example.test MX': secure([mx(10, 'mx.example.test')]),
      'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'], cnameChain: ['mx.example.test', 'mail.unsigned.test'] },
      'mx.example.test AAAA': nodata('insecure', ['mx.example.test', 'mail.unsigned.test']),
      'mx.example.test CNAME': secure(['mail.unsigned.test']),
      '_25._tcp.mx.example.test TLSA': secure([eeRecord(expanded)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [expanded.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated' });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mx.example.test', job: 'probe' }]);
  });
});

describe('RFC 7672 §3.2.2: DANE-TA reference identifiers for a CNAMEd MX host', () => {
  const chain = ['mx.example.test', 'mail.hoster.test'];
  const dns = (c: Chain, at: string) => ({
    'example.test MX': secure([mx(10, 'mx.example.test')]),
    'mx.example.test A': secure(['192.0.2.1'], chain), 'mx.example.test AAAA': nodata('secure', chain),
    [`_25._tcp.${at} TLSA`]: secure([taRecord(c)]),
  });
  for (const name of ['mail.hoster.test', 'mx.example.test', 'example.test']) {
    it(`TLSA at the expanded name: a leaf naming only ${name} is authenticated`, async () => {
      const c = await makeChain({ leafCn: name });
      const { result } = await deliverTo(dns(c, 'mail.hoster.test'), { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der, c.intermediate.der] } });
      expect(result).toMatchObject({ verdict: 'dane-authenticated' });
      expect(result.hosts[0]!.attempts[0]!.authentication).toMatchObject({ ok: true, usage: 'DANE-TA', matchedName: name });
    });
  }
  it('a leaf naming an unrelated host is not authenticated, and the mail is not sent in plaintext', async () => {
    const c = await makeChain({ leafCn: 'other.test' });
    const { result, calls } = await deliverTo(dns(c, 'mail.hoster.test'), { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der, c.intermediate.der] } });
    expect(result).toMatchObject({ verdict: 'tempfail' });
    expect(calls.map((x) => x.tls)).toEqual(['required']);
  });
  it('insecure MX with the §2.2.1 option: a leaf naming only the next-hop domain is not authenticated', async () => {
    const c = await makeChain({ leafCn: 'example.test' });
    const { result } = await deliverTo({ ...dns(c, 'mx.example.test'), 'example.test MX': { proof: 'insecure', records: [mx(10, 'mx.example.test')] }, 'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata() },
      { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der, c.intermediate.der] } }, { daneWithInsecureMx: true });
    expect(result).toMatchObject({ verdict: 'tempfail' });
    expect(result.hosts[0]!.attempts[0]!.authentication).toMatchObject({ ok: false });
  });
});

describe('RFC 7672 §2.2 / §9: mandatory TLS never falls back to plaintext', () => {
  const dns = {
    'example.test MX': secure([mx(10, 'mx.example.test')]),
    'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
    '_25._tcp.mx.example.test TLSA': secure([tlsa(1, 1, 1, D32), tlsa(0, 0, 1, D32)]),
  };
  it('encrypt (secure TLSA RRset, no usable record): a failed handshake is not retried in plaintext', async () => {
    const { result, calls } = await deliverTo(dns, { '192.0.2.1': { kind: 'tls-fails' } });
    expect(result).toMatchObject({ verdict: 'tempfail', tls: false });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mx.example.test', job: 'probe' }]);
    expect(result.hosts[0]!.attempts[0]!.plaintextRetry).toBeUndefined();
  });
  it('encrypt: a server without STARTTLS fails the host, no plaintext', async () => {
    const { result, calls } = await deliverTo(dns, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result.verdict).toBe('tempfail');
    expect(calls.map((c) => c.tls)).toEqual(['required']);
  });
  it('encrypt policy level: a failed handshake is not retried in plaintext either', async () => {
    const { result, calls } = await deliverTo({ ...dns, 'example.test MX': { proof: 'insecure', records: [mx(10, 'mx.example.test')] } }, { '192.0.2.1': { kind: 'tls-fails' } }, { policy: policy('encrypt') });
    expect(result.verdict).toBe('tempfail');
    expect(calls.map((c) => c.tls)).toEqual(['required']);
  });
});

describe('dane-only (mandatory DANE, RFC 7672 §9 local policy)', () => {
  it('every MX host insecure: deferred, nothing connected', async () => {
    const { result, calls } = await deliverTo({
      'example.test MX': { proof: 'insecure', records: [mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')] },
      'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': nodata(),
      'mx2.example.test A': secure(['192.0.2.2']), 'mx2.example.test AAAA': nodata(),
      '_25._tcp.mx1.example.test TLSA': secure([tlsa(3, 1, 1, D32)]),
    }, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } }, { policy: policy('dane-only') });
    expect(result).toMatchObject({ verdict: 'tempfail', host: null });
    expect(calls).toEqual([]);
    expect(result.hosts.map((h) => h.status)).toEqual(['failed', 'failed']);
  });
  it('a host whose secure TLSA RRset has no usable record fails; the next DANE host is used', async () => {
    const c = await makeChain({ leafCn: 'mx2.example.test' });
    const { result, calls } = await deliverTo({
      'example.test MX': secure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]),
      'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': nodata(),
      'mx2.example.test A': secure(['192.0.2.2']), 'mx2.example.test AAAA': nodata(),
      '_25._tcp.mx1.example.test TLSA': secure([tlsa(1, 1, 1, D32)]),
      '_25._tcp.mx2.example.test TLSA': secure([eeRecord(c)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der] }, '192.0.2.2': { kind: 'tls', chain: [c.leaf.der] } }, { policy: policy('dane-only') });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx2.example.test' });
    expect(calls.map((x) => x.address)).toEqual(['192.0.2.2']);
  });
});

describe('MX host names (RFC 7672 §2.2.1, RFC 5321 §5.1)', () => {
  it('an MX exchange written as an IP address is looked up as a name, never connected to as a literal', async () => {
    const { result, calls } = await deliverTo({ 'example.test MX': secure([mx(10, '192.0.2.1')]) }, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result.verdict).toBe('undeliverable');
    expect(calls).toEqual([]);
  });
  it('upper case and a trailing dot in an exchange: TLSA owner and SNI use the normalised name', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test' });
    const { result, calls, asked } = await deliverTo({
      'example.test MX': secure([mx(10, 'MX.Example.TEST.')]),
      'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': secure([eeRecord(c)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.example.test' });
    expect(asked).toContain('_25._tcp.mx.example.test TLSA');
    expect(calls[0]!.servername).toBe('mx.example.test');
  });
  it('a bogus MX RRset behind a CNAME defers (the proof covers the chain)', async () => {
    const r = new FixtureResolver({ 'example.test MX': { proof: 'bogus', status: 'failed', cnameChain: ['example.test', 'example.net'] } });
    expect(decideMx('example.test', await r.lookup('example.test', 'MX'))).toMatchObject({ kind: 'tempfail' });
  });
  it('an insecure CNAME leading to a secure MX RRset: the MX RRset counts as insecure (no TLSA lookups)', async () => {
    const { result, asked } = await deliverTo({
      'example.test MX': { proof: 'insecure', records: [mx(10, 'mx.example.net')], cnameChain: ['example.test', 'example.net'] },
      'mx.example.net A': secure(['192.0.2.1']), 'mx.example.net AAAA': nodata(),
      '_25._tcp.mx.example.net TLSA': secure([tlsa(3, 1, 1, D32)]),
    }, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', tls: false });
    expect(asked.some((q) => q.endsWith('TLSA'))).toBe(false);
  });
});

describe('RFC 7671 §5.2.3: DANE-TA(2) SPKI(1) Full(0) — a bare trust-anchor key, served or not', () => {
  it('the anchor key published in full, its certificate served: authenticated', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test' });
    const records = usableRecords(classifyTlsa([{ usage: 2, selector: 1, matchingType: 0, data: c.root.spkiDer }]));
    expect(authenticate({ records, served: [c.leaf.der, c.intermediate.der, c.root.der], referenceNames: ['mx.example.test'], now: new Date() })).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 2 });
  });
  it('a leaf signed directly by a bare key that is never served as a certificate: authenticated by the key (anchor from the record)', async () => {
    const ca = await makeCert({ cn: 'Bare Key CA', ca: true });
    const leaf = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: ca });
    const records = usableRecords(classifyTlsa([{ usage: 2, selector: 1, matchingType: 0, data: ca.spkiDer }]));
    expect(authenticate({ records, served: [leaf.der], referenceNames: ['mx.example.test'], now: new Date() })).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 1, anchor: 'tlsa-record', matchedName: 'mx.example.test' });
    // the same leaf, a name that is not its own: the usual checks still apply
    const wrongName = authenticate({ records, served: [leaf.der], referenceNames: ['other.example.test'], now: new Date() });
    expect(wrongName.ok).toBe(false);
    if (!wrongName.ok) expect(wrongName.records).toEqual([expect.objectContaining({ code: 'ta-name-mismatch' })]);
  });
});

describe('deviations found in the review, fixed (RFC 7672 §2.1.1, §2.2.1, §3.2.2)', () => {
  it('X1 §2.1.1: a failed CNAME lookup (needed to decide on TLSA at the original name) fails the host instead of downgrading', async () => {
    const chain = ['mx.example.test', 'mail.unsigned.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': nodata('insecure', chain),
      'mx.example.test CNAME': { proof: 'indeterminate', status: 'failed', reason: 'timeout' },
      '_25._tcp.mx.example.test TLSA': secure([tlsa(3, 1, 1, D32)]),
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'failed' });
  });
  it('X2 RFC 5321 §5.1 / RFC 7672 §2.2.1: implicit MX after an MX CNAME is the CNAME target', async () => {
    const r = new FixtureResolver({ 'example.test MX': { proof: 'secure', status: 'nodata', cnameChain: ['example.test', 'example.net'] } });
    expect(decideMx('example.test', await r.lookup('example.test', 'MX'))).toMatchObject({ kind: 'hosts', hosts: [{ name: 'example.net', implicit: true }] });
  });
  it('X3 §3.2.2: MX RRset reached through a secure CNAME: the CNAME-expanded next-hop domain is a reference identifier', async () => {
    const c = await makeChain({ leafCn: 'example.net' });
    const { result } = await deliverTo({
      'example.test MX': { proof: 'secure', records: [mx(10, 'mx.example.net')], cnameChain: ['example.test', 'example.net'] },
      'mx.example.net A': secure(['192.0.2.1']), 'mx.example.net AAAA': nodata(),
      '_25._tcp.mx.example.net TLSA': secure([taRecord(c)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der, c.intermediate.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated' });
  });
  it('X4 §3.2.2: a fixed next hop: the reported destination name is not a reference identifier', async () => {
    const c = await makeChain({ leafCn: 'example.test' });
    const { result } = await deliverTo({
      'relay.example.net A': secure(['192.0.2.1']), 'relay.example.net AAAA': nodata(),
      '_25._tcp.relay.example.net TLSA': secure([taRecord(c)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der, c.intermediate.der] } }, { nexthop: { host: 'relay.example.net' } });
    expect(result.verdict).toBe('tempfail');
    expect(result.nextHop).toBe('[relay.example.net]:25');
  });
  it('X5 §2.1.1: an MX answer with data but a bogus proof (a custom Resolver) defers', async () => {
    const r = new FixtureResolver({ 'example.test MX': { proof: 'bogus', records: [mx(10, 'mx.example.test')] } });
    expect(decideMx('example.test', await r.lookup('example.test', 'MX'))).toMatchObject({ kind: 'tempfail' });
  });
  it('X6 §2.1.1: a TLSA answer with data but an indeterminate proof (a custom Resolver) fails the host', async () => {
    const r = new FixtureResolver({
      'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': { proof: 'indeterminate', records: [tlsa(3, 1, 1, D32)] },
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'failed' });
  });
});
