/**
 * RFC 7672 §2.2 / §9: when TLS is mandatory (a secure TLSA RRset, the encrypt level) a failed handshake
 * or a missing STARTTLS fails the host; there is no plaintext retry.
 */
import { describe, expect, it } from 'vitest';
import { D32, mx, tlsa } from '../../support/fixture-resolver.js';
import { secure, nodata, deliverTo, policy } from '../../support/destination-fixtures.js';

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
