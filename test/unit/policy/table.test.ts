import { describe, expect, it } from 'vitest';
import { lookupPolicy, parseDestination, parsePolicyTable } from '../../../src/policy/table.js';

const FP = 'AB:'.repeat(31) + 'AB';

describe('policy table (Postfix smtp_tls_policy_maps syntax)', () => {
  const table = parsePolicyTable(
    [
      '# comment',
      '',
      'example.test        dane-only',
      '.example.test       may      # subdomains',
      'legacy.test         none',
      'partner.test        fingerprint match=' + FP,
      'bank.test           secure match=.bank.test:mx.bank.test',
      'another.test        secure match=nexthop:dot-nexthop',
      '[relay.test]:587    encrypt',
      '[relay.test]        verify',
    ].join('\n'),
    'policy',
  );
  it('exact domains', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'example.test' }, 'dane')).toMatchObject({ level: 'dane-only', source: 'policy:3' });
  });
  it('.domain covers subdomains but not the domain itself', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'a.b.example.test' }, 'dane')).toMatchObject({ level: 'may', source: 'policy:4' });
  });
  it('everything else gets the default', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'other.test' }, 'dane')).toMatchObject({ level: 'dane', source: 'default' });
  });
  it('fingerprints are normalised', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'partner.test' }, 'dane').fingerprints).toEqual([{ algorithm: 'sha256', hex: 'ab'.repeat(32) }]);
  });
  it('match patterns for secure, default patterns for verify', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'bank.test' }, 'dane').match).toEqual(['.bank.test', 'mx.bank.test']);
    expect(lookupPolicy(table, { kind: 'nexthop', host: 'relay.test' }, 'dane')).toMatchObject({ level: 'verify', match: ['hostname'] });
    expect(lookupPolicy(table, { kind: 'domain', domain: 'another.test' }, 'dane').match).toEqual(['nexthop', 'dot-nexthop']);
  });
  it('[host]:port is its own destination', () => {
    expect(lookupPolicy(table, { kind: 'nexthop', host: 'relay.test', port: 587 }, 'dane')).toMatchObject({ level: 'encrypt', source: 'policy:9' });
  });
  const bad: [string, RegExp][] = [
    ['example.test', /policy:1: no TLS level/],
    ['example.test bogus', /policy:1: unknown TLS level 'bogus'/],
    ['not_a domain!! may', /policy:1: .* is not a destination/],
    ['x.test fingerprint', /needs match=/],
    ['x.test fingerprint match=abcd', /not a SHA-256 or SHA-512/],
    ['x.test may match=foo.test', /only for the fingerprint/],
    ['x.test dane tafile=/x', /unsupported attribute 'tafile'/],
    ['[x.test]:99999 may', /not a destination/],
    ['x.test may\nx.test dane', /policy:2: 'x.test' is listed twice/],
  ];
  for (const [text, err] of bad) {
    it(`refuses ${JSON.stringify(text)} with file and line`, () => {
      expect(() => parsePolicyTable(text, 'policy')).toThrow(err);
    });
  }
  it('destination syntax', () => {
    expect(parseDestination('[MX.Example.TEST]:25')).toEqual({ kind: 'nexthop', host: 'mx.example.test', port: 25 });
    expect(parseDestination('.Example.test')).toEqual({ kind: 'subdomains', suffix: 'example.test' });
  });
});
