import { describe, expect, it } from 'vitest';
import { decideMx, type MxHost } from '../../../src/core/rfc7672/mx.js';
import { planHost } from '../../../src/engine/host-plan.js';
import { D32, FixtureResolver, mx, tlsa, type FixtureAnswer } from '../../support/fixture-resolver.js';

const host = (name: string, implicit = false): MxHost => ({ name, preference: 10, implicit });
const secureA = (ip = '192.0.2.1'): FixtureAnswer => ({ proof: 'secure', records: [ip] });
const nodata = (proof: 'secure' | 'insecure' = 'secure'): FixtureAnswer => ({ proof, status: 'nodata' });

async function mxOf(table: Record<string, FixtureAnswer>, random = () => 0.99) {
  const r = new FixtureResolver(table);
  return decideMx('example.test', await r.lookup('example.test', 'MX'), random);
}

describe('MX decisions (RFC 7672 §2.2.1, RFC 7505, RFC 5321 §5.1)', () => {
  it('bogus MX defers', async () => {
    expect(await mxOf({ 'example.test MX': { proof: 'bogus', status: 'failed', reason: 'EDE 7' } })).toMatchObject({ kind: 'tempfail' });
  });
  it('indeterminate MX (SERVFAIL, timeout) defers, never insecure', async () => {
    expect(await mxOf({ 'example.test MX': { proof: 'indeterminate', status: 'failed', reason: 'timeout' } })).toMatchObject({ kind: 'tempfail' });
  });
  it('NODATA: the domain is its own implicit MX, keeping the proof', async () => {
    expect(await mxOf({ 'example.test MX': nodata() })).toMatchObject({ kind: 'hosts', mxProof: 'secure', hosts: [{ name: 'example.test', implicit: true }] });
  });
  it('null MX is undeliverable', async () => {
    expect(await mxOf({ 'example.test MX': { proof: 'secure', records: [mx(0, '')] } })).toMatchObject({ kind: 'undeliverable' });
  });
  it('null MX is undeliverable even when insecure', async () => {
    expect(await mxOf({ 'example.test MX': { proof: 'insecure', records: [mx(0, '')] } })).toMatchObject({ kind: 'undeliverable' });
  });
  it('NXDOMAIN is undeliverable', async () => {
    expect(await mxOf({ 'example.test MX': { proof: 'secure', status: 'nxdomain' } })).toMatchObject({ kind: 'undeliverable' });
  });
  it('hosts in preference order, duplicates removed, names normalised', async () => {
    const d = await mxOf({ 'example.test MX': { proof: 'insecure', records: [mx(20, 'B.example.test.'), mx(10, 'a.example.test'), mx(30, 'b.example.test')] } });
    expect(d).toMatchObject({ kind: 'hosts', mxProof: 'insecure' });
    if (d.kind === 'hosts') expect(d.hosts.map((h) => `${h.preference} ${h.name}`)).toEqual(['10 a.example.test', '20 b.example.test']);
  });
  it('equal preferences are shuffled', async () => {
    const table = { 'example.test MX': { proof: 'secure' as const, records: [mx(10, 'a.test'), mx(10, 'b.test'), mx(5, 'first.test')] } };
    const d1 = await mxOf(table, () => 0.99);
    const d2 = await mxOf(table, () => 0);
    const names = (d: Awaited<ReturnType<typeof mxOf>>) => (d.kind === 'hosts' ? d.hosts.map((h) => h.name) : []);
    expect(names(d1)[0]).toBe('first.test');
    expect(names(d2)[0]).toBe('first.test');
    expect(new Set([names(d1)[1], names(d2)[1]])).toEqual(new Set(['a.test', 'b.test']));
  });
});

describe('host plans: TLSA only where due (RFC 7672 §2.2.2, §2.2.3)', () => {
  const opts = { port: 25 };
  it('secure MX, secure address, usable TLSA → dane with the three reference names', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] } });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ kind: 'usable', addresses: ['192.0.2.1'], level: { kind: 'dane', tlsaBase: 'mx.example.test', referenceNames: ['mx.example.test', 'example.test'] } });
  });
  it('insecure MX → opportunistic and no TLSA lookup at all', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] } });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'insecure', opts);
    expect(p).toMatchObject({ kind: 'usable', level: { kind: 'may' } });
    expect(r.asked.some((q) => q.endsWith('TLSA'))).toBe(false);
  });
  it('insecure MX with the §2.2.1 option and a secure host → dane, reference name only the TLSA base', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] } });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'insecure', { port: 25, daneWithInsecureMx: true });
    expect(p).toMatchObject({ level: { kind: 'dane', referenceNames: ['mx.example.test'] } });
  });
  it('insecure address records → opportunistic, no TLSA lookup', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'] }, 'mx.example.test AAAA': nodata('insecure') });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ level: { kind: 'may' } });
    expect(r.asked.some((q) => q.endsWith('TLSA'))).toBe(false);
  });
  it('a secure A with an insecure AAAA counts as insecure', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': { proof: 'insecure', records: ['2001:db8::1'] } });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ level: { kind: 'may' } });
  });
  it('uses the port in the TLSA owner name', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_587._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] } });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', { port: 587 })).toMatchObject({ level: { kind: 'dane' } });
  });
  it('secure CNAME chain: TLSA at the expanded name first', async () => {
    const chain = ['mx.example.test', 'mail.hoster.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata', cnameChain: chain },
      '_25._tcp.mail.hoster.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] },
      '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, 'cd'.repeat(32))] },
    });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ level: { kind: 'dane', tlsaBase: 'mail.hoster.test', referenceNames: ['mail.hoster.test', 'mx.example.test', 'example.test'] } });
    expect(r.asked).not.toContain('_25._tcp.mx.example.test TLSA');
  });
  it('secure CNAME chain: the original name when the expanded one has no TLSA', async () => {
    const chain = ['mx.example.test', 'mail.hoster.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata', cnameChain: chain },
      '_25._tcp.mail.hoster.test TLSA': { proof: 'secure', status: 'nxdomain' },
      '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] },
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ level: { kind: 'dane', tlsaBase: 'mx.example.test' } });
  });
  it('secure first CNAME into an insecure zone: TLSA at the original name (§2.2.2)', async () => {
    const chain = ['mx.example.test', 'mail.unsigned.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'insecure', status: 'nodata', cnameChain: chain },
      'mx.example.test CNAME': { proof: 'secure', records: ['mail.unsigned.test'] },
      '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] },
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ level: { kind: 'dane', tlsaBase: 'mx.example.test' } });
    expect(r.asked).not.toContain('_25._tcp.mail.unsigned.test TLSA');
  });
  it('insecure first CNAME: opportunistic, no TLSA', async () => {
    const chain = ['mx.example.test', 'mail.unsigned.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'insecure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'insecure', status: 'nodata', cnameChain: chain },
      'mx.example.test CNAME': { proof: 'insecure', records: ['mail.unsigned.test'] },
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ level: { kind: 'may' } });
    expect(r.asked.some((q) => q.endsWith('TLSA'))).toBe(false);
  });
  it('bogus TLSA: the host fails', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_25._tcp.mx.example.test TLSA': { proof: 'bogus', status: 'failed', reason: 'EDE 6' } });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'failed' });
  });
  it('indeterminate TLSA (SERVFAIL) at the expanded name: the host fails, no fallback to the original', async () => {
    const chain = ['mx.example.test', 'mail.hoster.test'];
    const r = new FixtureResolver({
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata', cnameChain: chain },
      '_25._tcp.mail.hoster.test TLSA': { proof: 'indeterminate', status: 'failed' },
      '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(3, 1, 1, D32)] },
    });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'failed' });
  });
  it('TLSA in an insecure zone (insecure data) does not count', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(), '_25._tcp.mx.example.test TLSA': { proof: 'insecure', records: [tlsa(3, 1, 1, D32)] } });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ level: { kind: 'may' } });
  });
  it('secure TLSA RRset with only unusable records → encrypt (TLS mandatory, unauthenticated)', async () => {
    const r = new FixtureResolver({
      'mx.example.test A': secureA(), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [tlsa(1, 1, 1, D32), tlsa(0, 0, 1, D32), tlsa(3, 1, 1, 'ab'), tlsa(4, 1, 1, D32)] },
    });
    const p = await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts);
    expect(p).toMatchObject({ level: { kind: 'encrypt' } });
    if (p.kind === 'usable' && p.level.kind === 'encrypt') expect(p.level.tlsa.map((t) => t.usability.usable)).toEqual([false, false, false, false]);
  });
  it('a failed address lookup fails the host; no addresses is its own outcome', async () => {
    const bad = new FixtureResolver({ 'mx.example.test A': { proof: 'bogus', status: 'failed' }, 'mx.example.test AAAA': nodata() });
    expect(await planHost(bad, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'failed' });
    const none = new FixtureResolver({ 'mx.example.test A': nodata(), 'mx.example.test AAAA': nodata() });
    expect(await planHost(none, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ kind: 'no-address' });
  });
  it('IPv4 and IPv6 addresses are both used', async () => {
    const r = new FixtureResolver({ 'mx.example.test A': secureA(), 'mx.example.test AAAA': { proof: 'secure', records: ['2001:db8::25'] } });
    expect(await planHost(r, host('mx.example.test'), 'example.test', 'secure', opts)).toMatchObject({ addresses: ['192.0.2.1', '2001:db8::25'] });
  });
});
