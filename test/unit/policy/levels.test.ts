/**
 * The TLS policy levels (Postfix smtp_tls_policy_maps / smtp_tls_security_level, README
 * "Per-destination policy"): level names and defaults, dane-only (RFC 7672 §9 local policy), local
 * policy applied before DANE, the levels enforced per host.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { parse, dom, FP256 } from '../../support/policy-table-helpers.js';
import { D32, mx, tlsa } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';
import { secure, nodata, deliverTo, eeRecord, policy, spki311, bogus, run, twoMx } from '../../support/destination-fixtures.js';
import { createHash } from 'node:crypto';
import type { PolicyEntry } from '../../../src/policy/table.js';

let good: Chain;

beforeAll(async () => {
  good = await makeChain({ leafCn: 'mx1.example.test' });
});

describe('Postfix policy levels and their defaults (tls_level_lookup)', () => {
  it('level names are case-insensitive, as tls_level_lookup is', () => {
    const t = parse('a.example DANE-ONLY\nb.example Secure\nc.example FINGERPRINT match=' + FP256 + '\n');
    expect(dom(t, 'a.example').level).toBe('dane-only');
    expect(dom(t, 'b.example')).toMatchObject({ level: 'secure', match: ['nexthop', 'dot-nexthop'] });
    expect(dom(t, 'c.example').level).toBe('fingerprint');
  });
  it('secure defaults to nexthop:dot-nexthop, verify to hostname (smtp_tls_secure_cert_match, smtp_tls_verify_cert_match)', () => {
    const t = parse('s.example secure\nv.example verify\n');
    expect(dom(t, 's.example').match).toEqual(['nexthop', 'dot-nexthop']);
    expect(dom(t, 'v.example').match).toEqual(['hostname']);
    expect(dom(t, 'x.example', 'secure').match).toEqual(['nexthop', 'dot-nexthop']);
    expect(dom(t, 'x.example', 'verify').match).toEqual(['hostname']);
  });
  it('every Postfix level except the output-only halfdane is known; anything else is refused', () => {
    for (const l of ['none', 'may', 'encrypt', 'dane', 'dane-only', 'verify', 'secure']) expect(dom(parse(`x.example ${l}`), 'x.example').level).toBe(l);
    expect(() => parse('x.example halfdane')).toThrow(/tls_policy:1: unknown TLS level 'halfdane'/);
    expect(() => parse('x.example must')).toThrow(/unknown TLS level 'must'/); // smtp_tls_per_site keywords are another table
  });
  it('a level with no destination, a destination with no level', () => {
    expect(() => parse('secure match=nexthop')).toThrow(/^tls_policy:1: 'secure' is not a destination/);
    expect(() => parse('x.example\n')).toThrow(/^tls_policy:1: no TLS level after 'x.example'/);
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

describe('local policy is applied before DANE (README "Per-destination policy", Postfix smtp_tls_policy_maps)', () => {
  const daneWorld = () => ({ ...twoMx, '_25._tcp.mx1.example.test TLSA': bogus, '_25._tcp.mx2.example.test TLSA': secure([spki311(good)]) });
  // Levels other than dane/dane-only switch DANE off for the destination: no TLSA lookup at
  // all, so a bogus TLSA RRset cannot make the primary fail (RFC 7672 §2.2.3 only applies
  // where DANE is in force).
  it.each(['none', 'may', 'encrypt'] as const)('%s: no TLSA lookup, the primary is used even with a bogus TLSA RRset', async (level) => {
    const { result, asked } = await run(daneWorld(), { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: policy(level) });
    expect(result).toMatchObject({ host: 'mx1.example.test', level });
    expect(asked.filter((q) => q.endsWith(' TLSA'))).toEqual([]);
  });

  // dane-only: a host without usable TLSA records fails, including one whose secure TLSA
  // RRset has only unusable records (README: "a host without secure usable TLSA records
  // fails"); an insecure MX RRset fails too.
  it('dane-only: a host with only unusable TLSA records fails; so does an insecure MX', async () => {
    const unusable = await run({ ...twoMx, 'example.test MX': secure([mx(10, 'mx1.example.test')]), '_25._tcp.mx1.example.test TLSA': secure([tlsa(0, 0, 1, D32)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: policy('dane-only') });
    expect(unusable.result.verdict).toBe('tempfail');
    expect(unusable.calls).toHaveLength(0);
    const insecure = await run({ ...twoMx, 'example.test MX': { proof: 'insecure', records: [mx(10, 'mx1.example.test')] }, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: policy('dane-only') });
    expect(insecure.result.verdict).toBe('tempfail');
    expect(insecure.calls).toHaveLength(0);
  });

  // dane-only (RFC 7672 §2.2 still holds: security never trumps preference, a host that
  // fails is skipped and the next one tried): the primary without TLSA fails the policy,
  // the DANE secondary is then used.
  it('dane-only: a primary without TLSA is skipped, the DANE secondary authenticates', async () => {
    const { result, calls } = await run({ ...twoMx, '_25._tcp.mx2.example.test TLSA': secure([spki311(good)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] }, '192.0.2.2': { kind: 'tls', chain: [good.leaf.der] } }, { policy: policy('dane-only') });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx2.example.test' });
    expect(result.hosts[0]).toMatchObject({ name: 'mx1.example.test', status: 'failed' });
    expect(calls.map((c) => c.address)).toEqual(['192.0.2.2']);
  });

  // none: never STARTTLS, even to a DANE host; encrypt: TLS mandatory, defer when it fails.
  it('none never starts TLS; encrypt defers when no host offers STARTTLS', async () => {
    const none = await run({ ...daneWorld(), '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: policy('none') });
    expect(none.result).toMatchObject({ verdict: 'opportunistic', tls: false });
    expect(none.calls.map((c) => c.tls)).toEqual(['none']);
    const enc = await run(twoMx, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } }, { policy: policy('encrypt') });
    expect(enc.result.verdict).toBe('tempfail');
    expect(enc.calls.map((c) => c.tls)).toEqual(['required', 'required']);
  });
});

describe('policy levels enforced per host (README "Per-destination policy")', () => {
  // fingerprint: TLS mandatory and the served leaf must match a listed digest; otherwise
  // the host fails and, none being left, the mail is deferred.
  it('fingerprint: a non-matching certificate defers, a matching one authenticates', async () => {
    const one = { ...twoMx, 'example.test MX': secure([mx(10, 'mx1.example.test')]) };
    const fp = (hex: string): PolicyEntry => ({ ...policy('fingerprint'), fingerprints: [{ algorithm: 'sha256', hex }] });
    const wrong = await run(one, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: fp('00'.repeat(32)) });
    expect(wrong.result.verdict).toBe('tempfail');
    const right = await run(one, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { policy: fp(createHash('sha256').update(good.leaf.der).digest('hex')) });
    expect(right.result).toMatchObject({ verdict: 'fingerprint-authenticated', tls: true });
  });

  // Fail closed: an unknown level must never silently turn DANE off.
  it('an unknown level is a USAGE error, never opportunistic', async () => {
    await expect(run(twoMx, { '192.0.2.1': { kind: 'no-starttls' } }, { policy: { ...policy('dane'), level: 'DANE' as never } })).rejects.toMatchObject({ code: 'USAGE' });
  });
});
