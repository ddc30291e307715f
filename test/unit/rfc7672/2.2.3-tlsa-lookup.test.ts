/**
 * RFC 7672 §2.2.3: the TLSA lookup: CNAMEs at the TLSA owner, the candidate list (expanded name, then
 * original name) and where it ends.
 */
import { describe, expect, it } from 'vitest';
import { planHost } from '../../../src/engine/host-plan.js';
import { D32, FixtureResolver, mx, tlsa } from '../../support/fixture-resolver.js';
import { host, secure, nodata, opts, deliverTo } from '../../support/destination-fixtures.js';

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
