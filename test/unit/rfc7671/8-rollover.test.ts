/**
 * RFC 7671 §8 (with RFC 7672 §3.1): during a key rollover a TLSA RRset holds several records; every
 * usable record is tried, a failing one does not stop a later one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeChain, type Chain } from '../../support/pki.js';
import { tlsa, run } from '../../support/authentication-fixtures.js';

let good: Chain;

let other: Chain;

beforeAll(async () => {
  [good, other] = await Promise.all([makeChain({ leafCn: 'mx.example.test' }), makeChain({ leafCn: 'mx.example.test' })]);
});

describe('every usable record is tried (RFC 7672 §3.1, RFC 7671 §8: several records during a key rollover)', () => {
  it('a DANE-EE record that does not match does not stop a later one that does', () => {
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
    expect(run([tlsa(3, 0, 1, other.leaf), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
  });
  it('a failing DANE-TA record does not stop a later DANE-EE one, nor the reverse', () => {
    expect(run([tlsa(2, 0, 1, other.intermediate), tlsa(3, 1, 1, good.leaf)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-EE' });
    expect(run([tlsa(3, 1, 1, other.leaf), tlsa(2, 0, 1, good.intermediate)], [good.leaf, good.intermediate])).toMatchObject({ ok: true, usage: 'DANE-TA' });
  });
});
