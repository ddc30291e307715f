/**
 * RFC 7672 §3.2.2: the reference identifiers a DANE-TA leaf is checked against: the MX host name,
 * its CNAME expansion, the next-hop domain (also when the MX RRset was reached through a CNAME),
 * never the reported destination name of a fixed next hop.
 */
import { describe, expect, it } from 'vitest';
import { mx } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';
import { secure, nodata, deliverTo, taRecord } from '../../support/destination-fixtures.js';

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

describe('RFC 7672 §3.2.2: reference identifiers after a CNAMEd MX RRset and for a fixed next hop', () => {
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
});
