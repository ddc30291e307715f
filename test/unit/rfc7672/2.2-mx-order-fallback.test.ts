/**
 * RFC 7672 §2.2, RFC 5321 §5.1: MX hosts in preference order (equal preferences by the injected random
 * source), a host that fails is skipped for the next, and when the result is tempfail or undeliverable.
 * (The delivery loop itself: engine/delivery-loop.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/core/outcome.js';
import { mx } from '../../support/fixture-resolver.js';
import { secure, nodata, bogus, run, twoMx } from '../../support/destination-fixtures.js';

describe('MX order and fallback (RFC 7672 §2.2, RFC 5321 §5.1)', () => {
  // RFC 5321 §5.1: hosts of equal preference are tried in random order; the delivery loop
  // must use the injected random source (tests, reproducible runs), and the order it
  // yields is exactly the order of the connections.
  it('equal preferences: the connection order follows the injected random source', async () => {
    const four = {
      'example.test MX': secure(['a', 'b', 'c', 'd'].map((n) => mx(10, `${n}.example.test`))),
      ...Object.fromEntries(['a', 'b', 'c', 'd'].flatMap((n, i) => [[`${n}.example.test A`, secure([`192.0.2.${i + 1}`])], [`${n}.example.test AAAA`, nodata()]])),
    };
    const order = async (random: () => number) => (await run(four, {}, { random })).calls.map((c) => c.address);
    // Fisher–Yates: random() = 0.99 keeps the order, 0 rotates it left by one.
    expect(await order(() => 0.99)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']);
    expect(await order(() => 0)).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.1']);
  });

  // RFC 7672 §2.2.3: a bogus TLSA RRset makes that host unusable; RFC 7672 §2.2 / RFC 5321
  // §5.1: the next MX host is then tried.
  it('primary with a bogus TLSA RRset is skipped, the secondary is used', async () => {
    const { result, calls } = await run({ ...twoMx, '_25._tcp.mx1.example.test TLSA': bogus }, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test' });
    expect(result.hosts[0]).toMatchObject({ name: 'mx1.example.test', status: 'failed' });
    expect(calls.map((c) => c.address)).toEqual(['192.0.2.2']);
  });

  // RFC 7672 §2.2: when no host is left the mail is deferred. Only when NO host has an
  // address at all is the domain undeliverable (RFC 5321 §5.1): one host without an
  // address and another that failed DANE is a temporary failure.
  it('one host without an address, the other failing: tempfail (75), not undeliverable', async () => {
    const { result } = await run(
      { ...twoMx, 'mx1.example.test A': nodata(), '_25._tcp.mx2.example.test TLSA': bogus },
      { '192.0.2.2': { kind: 'no-starttls' } },
    );
    expect(result.hosts.map((h) => h.status)).toEqual(['no-address', 'failed']);
    expect(result.verdict).toBe('tempfail');
    expect(exitCodeOf([result], 'check')).toBe(75);
  });
});
