/**
 * RFC 7672 §2.2.2: the address lookups of an MX host decide whether TLSA is looked up (secure A/AAAA),
 * and a bogus or indeterminate address lookup fails the host (not "no address").
 */
import { describe, expect, it } from 'vitest';
import type { MxHost } from '../../../src/core/rfc7672/mx.js';
import { planHost } from '../../../src/engine/host-plan.js';
import { exitCodeOf } from '../../../src/core/outcome.js';
import { D32, FixtureResolver, mx, tlsa } from '../../support/fixture-resolver.js';
import { secure, nodata, bogus, servfail, run, twoMx } from '../../support/destination-fixtures.js';

describe('address lookups of a host (RFC 7672 §2.2.2)', () => {
  const host: MxHost = { name: 'mx1.example.test', preference: 10, implicit: false };
  // RFC 7672 §2.2.2: a bogus address RRset — A or AAAA — makes the host unusable; a
  // secure A record does not rescue a bogus AAAA answer (it could hide an attacker's).
  it('a bogus AAAA next to a secure A fails the host; the next MX is used', async () => {
    const r = new FixtureResolver({ 'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': bogus, '_25._tcp.mx1.example.test TLSA': secure([tlsa(3, 1, 1, D32)]) });
    expect(await planHost(r, host, 'example.test', 'secure', { port: 25 })).toMatchObject({ kind: 'failed' });
    const { result, calls } = await run({ ...twoMx, 'mx1.example.test AAAA': bogus }, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test' });
    expect(calls.map((c) => c.address)).toEqual(['192.0.2.2']);
  });

  // RFC 7672 §2.2.2: TLSA records are looked up only when the address records are secure —
  // all of them: a secure A RRset next to an insecure AAAA RRset is not enough, even when
  // secure TLSA records are published.
  it('a secure A with an insecure AAAA: no TLSA lookup although TLSA records exist', async () => {
    const r = new FixtureResolver({ 'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': { proof: 'insecure', records: ['2001:db8::1'] }, '_25._tcp.mx1.example.test TLSA': secure([tlsa(3, 1, 1, D32)]) });
    expect(await planHost(r, host, 'example.test', 'secure', { port: 25 })).toMatchObject({ kind: 'usable', level: { kind: 'may' } });
    expect(r.asked.filter((q) => q.endsWith(' TLSA'))).toEqual([]);
  });

  // RFC 7672 §2.1/§2.2.2: an indeterminate (SERVFAIL, timeout) address lookup is a
  // failure, not "no address": a single MX host so affected defers, never bounces.
  it('an indeterminate A lookup fails the host (tempfail), it is not "no address" (undeliverable)', async () => {
    const r = new FixtureResolver({ 'mx1.example.test A': servfail, 'mx1.example.test AAAA': nodata() });
    expect(await planHost(r, host, 'example.test', 'secure', { port: 25 })).toMatchObject({ kind: 'failed' });
    const { result } = await run({ 'example.test MX': secure([mx(10, 'mx1.example.test')]), 'mx1.example.test A': servfail, 'mx1.example.test AAAA': nodata() }, {});
    expect(result.verdict).toBe('tempfail');
    expect(exitCodeOf([result], 'check')).toBe(75);
  });
});
