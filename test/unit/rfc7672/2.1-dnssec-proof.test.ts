/**
 * RFC 7672 §2.1: DNSSEC proofs. §2.1.1: a bogus or indeterminate answer (MX, CNAME, TLSA) defers or fails the
 * host, it never downgrades to opportunistic; §2.1 the resolver probe (only a secure root SOA counts).
 */
import { describe, expect, it } from 'vitest';
import { decideMx } from '../../../src/core/rfc7672/mx.js';
import { planHost } from '../../../src/engine/host-plan.js';
import { D32, FixtureResolver, mx, tlsa } from '../../support/fixture-resolver.js';
import { host, secure, nodata, opts } from '../../support/destination-fixtures.js';
import { probeValidation } from '../../../src/dns/probe.js';

describe('RFC 7672 §2.1.1: bogus and indeterminate answers fail the host or defer, never downgrade', () => {
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

describe('the resolver probe (RFC 7672 §2.1)', () => {
  // The probe must see the signed root SOA itself with AD set; an "authenticated" NODATA
  // for the root SOA (which always exists) is not a validating resolver.
  it('only secure SOA data at the root counts as validating', async () => {
    expect(await probeValidation(new FixtureResolver({ ' SOA': { proof: 'secure', records: [{}] } }))).toMatchObject({ validates: true, reachable: true });
    expect(await probeValidation(new FixtureResolver({ ' SOA': { proof: 'secure', status: 'nodata' } }))).toMatchObject({ validates: false });
  });
});
