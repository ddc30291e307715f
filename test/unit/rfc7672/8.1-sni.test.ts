/**
 * RFC 7672 §8.1 (with RFC 7671 §10 and §2.2.2): the SNI sent is the TLSA base domain: the expanded
 * name or the original name, whichever the TLSA records were found under.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mx, D32, tlsa } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';
import { secure, nodata, deliverTo, eeRecord, spki311, run } from '../../support/destination-fixtures.js';

let good: Chain;

beforeAll(async () => {
  good = await makeChain({ leafCn: 'mx1.example.test' });
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

describe('the TLSA base domain is the SNI (RFC 7672 §2.2.2, §8.1)', () => {
  const chain = ['mx1.example.test', 'mail.hoster.test'];
  const cnamed = {
    'example.test MX': secure([mx(10, 'mx1.example.test')]),
    'mx1.example.test A': secure(['192.0.2.1'], { cnameChain: chain }),
    'mx1.example.test AAAA': { proof: 'secure' as const, status: 'nodata' as const, cnameChain: chain },
  };
  // RFC 7672 §8.1: the client sends the TLSA base domain as SNI; with a secure CNAME chain
  // and TLSA at the expanded name, that is the expanded name, not the MX host name.
  it('DANE: TLSA found at the expanded name → SNI is the expanded name', async () => {
    const { result, calls } = await run({ ...cnamed, '_25._tcp.mail.hoster.test TLSA': secure([spki311(good)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx1.example.test' });
    expect(result.hosts[0]!.tlsaBase).toBe('mail.hoster.test');
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mail.hoster.test', job: 'probe' }]);
  });
  // RFC 7672 §2.2 with §8.1: a secure TLSA RRset of only unusable records still names the
  // TLSA base domain; TLS is mandatory (unauthenticated) and SNI is that base domain.
  it('only unusable TLSA at the expanded name → TLS required, SNI is the expanded name', async () => {
    const { result, calls } = await run({ ...cnamed, '_25._tcp.mail.hoster.test TLSA': secure([tlsa(1, 1, 1, D32)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'encrypt-unauthenticated' });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mail.hoster.test', job: 'probe' }]);
  });
});
