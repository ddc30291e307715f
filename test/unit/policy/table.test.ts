import { describe, expect, it } from 'vitest';
import { lookupPolicy, parseDestination, parsePolicyTable } from '../../../src/policy/table.js';
import { parse, dom, hop, colons, FP256, FP512 } from '../../support/policy-table-helpers.js';

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

describe('lookup order (smtp_tls_policy.c tls_policy_lookup; postconf(5) smtp_tls_policy_maps)', () => {
  const table = parse(
    [
      'example.com        dane-only',
      '.example.com       may',
      '.b.example.com     encrypt',
      '.com               secure',
      '[relay.example.net]      verify',
      '[relay.example.net]:587  encrypt',
    ].join('\n'),
  );
  it('the full domain first, then parents with a leading dot, nearest first', () => {
    expect(dom(table, 'example.com')).toMatchObject({ level: 'dane-only', source: 'tls_policy:1' });
    expect(dom(table, 'a.example.com')).toMatchObject({ level: 'may', source: 'tls_policy:2' });
    expect(dom(table, 'x.a.b.example.com')).toMatchObject({ level: 'encrypt', source: 'tls_policy:3' });
    expect(dom(table, 'b.example.com')).toMatchObject({ level: 'may' }); // `.b.example.com` is for its subdomains only
  });
  it('a one-label parent such as `.com` is a valid key, as every parent is looked up', () => {
    expect(dom(table, 'other.com')).toMatchObject({ level: 'secure', source: 'tls_policy:4' });
    expect(parseDestination('.com')).toEqual({ kind: 'subdomains', suffix: 'com' });
    expect(dom(table, 'other.org')).toMatchObject({ level: 'dane', source: 'default' });
  });
  it('`example.org` does not cover its subdomains, `.example.org` does not cover example.org', () => {
    const t = parse('example.org dane-only\n.sub.example.org may\n');
    expect(dom(t, 'mx.example.org')).toMatchObject({ source: 'default' });
    expect(dom(t, 'sub.example.org')).toMatchObject({ source: 'default' });
  });
  it('a fixed next hop matches only its verbatim key: `[host]:port` does not fall back to `[host]`', () => {
    expect(hop(table, 'relay.example.net')).toMatchObject({ level: 'verify', source: 'tls_policy:5' });
    expect(hop(table, 'relay.example.net', 587)).toMatchObject({ level: 'encrypt', source: 'tls_policy:6' });
    // Postfix: the key is "[relay.example.net]:25", which is not in the table → default.
    expect(hop(table, 'relay.example.net', 25)).toMatchObject({ level: 'dane', source: 'default' });
  });
  it('a fixed next hop never uses domain or parent-domain entries', () => {
    const t = parse('mx.example.org secure\n.example.org none\n');
    expect(hop(t, 'mx.example.org')).toMatchObject({ level: 'dane', source: 'default' });
  });
  it('keys are case-insensitive and a trailing dot is ignored', () => {
    const t = parse('Example.ORG. dane-only\n.Sub.Example.org. may\n[MX.Example.org.]:587 encrypt\n');
    expect(dom(t, 'example.org')).toMatchObject({ level: 'dane-only' });
    expect(dom(t, 'a.sub.example.org')).toMatchObject({ level: 'may' });
    expect(hop(t, 'mx.example.org', 587)).toMatchObject({ level: 'encrypt' });
  });
  it('keys Postfix accepts but dane-smtp cannot use are errors with FILE:LINE', () => {
    expect(() => parse('example.org:587 encrypt')).toThrow(/^tls_policy:1: 'example.org:587' is not a destination/);
    expect(() => parse('# ok\n[192.0.2.1:25] encrypt')).toThrow(/^tls_policy:2: '\[192.0.2.1:25\]' is not a destination/);
  });
  it('an address literal next hop is a key as in Postfix (no DNS, DANE cannot apply)', () => {
    expect(hop(parse('# ok\n[192.0.2.1]:25 encrypt'), '192.0.2.1', 25)).toMatchObject({ level: 'encrypt', source: 'tls_policy:2' });
  });
});

describe('Postfix match= for the verify and secure levels', () => {
  it('strategies and names are case-insensitive; several match= attributes add up', () => {
    const t = parse('x.example secure match=Nexthop:DOT-NEXTHOP match=MX.Partner.example:.Partner.EXAMPLE:HostName');
    expect(dom(t, 'x.example').match).toEqual(['nexthop', 'dot-nexthop', 'mx.partner.example', '.partner.example', 'hostname']);
  });
  it('an empty match= is an error, never the default names (Postfix: "attribute has empty value")', () => {
    expect(() => parse('x.example verify match=')).toThrow(/tls_policy:1: match= has an empty value/);
    expect(() => parse('x.example secure match=:')).toThrow(/tls_policy:1: match=: names nothing/);
  });
  it('match= at other levels, and patterns that are not names, are errors', () => {
    for (const l of ['none', 'may', 'encrypt', 'dane', 'dane-only']) expect(() => parse(`x.example ${l} match=nexthop`)).toThrow(/only for the fingerprint, verify and secure levels/);
    expect(() => parse('x.example verify match=*.example.com')).toThrow(/'\*.example.com' is not a host-name pattern/);
    expect(() => parse('x.example verify match=.')).toThrow(/'\.' is not a host-name pattern/);
  });
});

describe('fingerprint (smtp_tls_fingerprint_digest: sha256 by default since Postfix 3.6)', () => {
  it('"|" separates fingerprints, colons are optional, case does not matter, SHA-512 too, match= repeats', () => {
    const t = parse(`x.example fingerprint match=${colons(FP256).toUpperCase()}|${FP512.toUpperCase()} match=${'ef'.repeat(32)}`);
    expect(dom(t, 'x.example').fingerprints).toEqual([
      { algorithm: 'sha256', hex: FP256 },
      { algorithm: 'sha512', hex: FP512 },
      { algorithm: 'sha256', hex: 'ef'.repeat(32) },
    ]);
  });
  it('MD5 and SHA-1 fingerprints (the pre-3.6 default md5, or sha1) are refused and named', () => {
    expect(() => parse(`x.example fingerprint match=${colons('ab'.repeat(16))}`)).toThrow(/tls_policy:1: .* is not a SHA-256 or SHA-512 fingerprint .*an MD5 fingerprint/);
    expect(() => parse(`x.example fingerprint match=${'ab'.repeat(20)}`)).toThrow(/a SHA-1 fingerprint/);
  });
  it('colons only between bytes, as Postfix hex_decode_opt allows them', () => {
    expect(() => parse(`x.example fingerprint match=a:b${'ab'.repeat(31)}`)).toThrow(/not a SHA-256 or SHA-512 fingerprint/);
    expect(() => parse(`x.example fingerprint match=ab::${'ab'.repeat(31)}`)).toThrow(/not a SHA-256 or SHA-512 fingerprint/);
  });
  it('no fingerprint, or an empty one, is an error (Postfix: "no fingerprints to match" defers)', () => {
    expect(() => parse('x.example fingerprint')).toThrow(/needs match=/);
    expect(() => parse('x.example fingerprint match=')).toThrow(/match= has an empty value/);
    expect(() => parse('x.example fingerprint match=||')).toThrow(/names nothing/);
  });
});

describe('attributes Postfix accepts', () => {
  const refused = ['protocols=!SSLv2:!SSLv3', 'protocols=>=TLSv1.2', 'ciphers=high', 'exclude=aNULL', 'tafile=/etc/postfix/ta.pem', 'servername=hostname', 'policy_type=sts'];
  for (const attr of refused) {
    it(`${attr} is refused with FILE:LINE, never silently ignored`, () => {
      expect(() => parse(`# header\nx.example secure ${attr}`)).toThrow(/^tls_policy:2: unsupported attribute '\w+' \(a Postfix attribute dane-smtp does not implement: refused rather than ignored/);
    });
  }
  it('an unknown attribute is refused', () => {
    expect(() => parse('x.example secure foo=bar')).toThrow(/tls_policy:1: unsupported attribute 'foo' \(not a Postfix policy attribute/);
    expect(() => parse('x.example secure =bar')).toThrow(/expected attribute=value, found '=bar'/);
    expect(() => parse('x.example secure match')).toThrow(/expected attribute=value, found 'match'/);
  });
  it('connection_reuse= and enable_rpk= (yes or no) change nothing dane-smtp checks and are accepted', () => {
    const t = parse(`x.example fingerprint match=${FP256} connection_reuse=yes ENABLE_RPK=No\ny.example dane connection_reuse=no`);
    expect(dom(t, 'x.example')).toMatchObject({ level: 'fingerprint', fingerprints: [{ hex: FP256 }] });
    expect(dom(t, 'y.example').level).toBe('dane');
    expect(() => parse('x.example dane connection_reuse=maybe')).toThrow(/tls_policy:1: connection_reuse= must be yes or no/);
  });
  it('attribute names are case-insensitive (strcasecmp)', () => {
    expect(dom(parse('x.example verify MATCH=nexthop'), 'x.example').match).toEqual(['nexthop']);
  });
  it('attributes may be separated by commas as well as whitespace', () => {
    const t = parse('x.example secure, match=.x.example,match=mx.other.example');
    expect(dom(t, 'x.example')).toMatchObject({ level: 'secure', match: ['.x.example', 'mx.other.example'] });
  });
  it('{ name = value } quoting (Postfix 3.x): whitespace around = and inside braces', () => {
    const t = parse('x.example secure { match = nexthop:.x.example } {connection_reuse=yes}');
    expect(dom(t, 'x.example').match).toEqual(['nexthop', '.x.example']);
    expect(() => parse('x.example secure { match = nexthop')).toThrow(/tls_policy:1: missing '}'/);
    expect(() => parse('x.example secure match=nexthop}')).toThrow(/tls_policy:1: unbalanced '}'/);
    expect(() => parse('x.example secure { match nexthop }')).toThrow(/expected attribute=value/);
  });
});

describe('policy table file syntax (postmap(1), readlline(3))', () => {
  it('a line that starts with whitespace continues the previous one: the postconf(5) fingerprint example', () => {
    const t = parse(
      [
        '# Postfix 2.5 and later',
        `[thumb.example.org]          fingerprint`,
        `    match=${colons('b6'.repeat(32))}`,
        '    # a comment line inside a logical line is skipped',
        `    match=${colons('51'.repeat(32))}`,
        'example.net                 secure',
        '.example.net                secure match=.example.net:example.net',
        '[mail.example.org]:587      secure match=nexthop',
      ].join('\n'),
    );
    expect(hop(t, 'thumb.example.org')).toMatchObject({ level: 'fingerprint', source: 'tls_policy:2', fingerprints: [{ hex: 'b6'.repeat(32) }, { hex: '51'.repeat(32) }] });
    expect(dom(t, 'a.example.net')).toMatchObject({ level: 'secure', source: 'tls_policy:7', match: ['.example.net', 'example.net'] });
    expect(hop(t, 'mail.example.org', 587)).toMatchObject({ level: 'secure', source: 'tls_policy:8', match: ['nexthop'] });
  });
  it('an indented line is never a separate (weaker) entry: it continues the one above, and a bad result says so', () => {
    expect(() => parse('x.example secure\n  y.example none\n')).toThrow(/^tls_policy:1: expected attribute=value, found 'y.example' \(lines that start with whitespace continue this line/);
  });
  it('text that starts with whitespace at the top of the file is an error', () => {
    expect(() => parse('# header\n   x.example none\n')).toThrow(/^tls_policy:2: a line that starts with whitespace continues the previous line, and there is none/);
  });
  it('comments: `#` first on a line (Postfix), or after text (a dane-smtp extension); CRLF line ends', () => {
    const t = parse('  # indented comment\r\nx.example   dane-only   # mandatory\r\n\r\n\t\r\ny.example may\r\n');
    expect(dom(t, 'x.example')).toMatchObject({ level: 'dane-only', source: 'tls_policy:2' });
    expect(dom(t, 'y.example')).toMatchObject({ level: 'may', source: 'tls_policy:5' });
  });
  it('a key listed twice is an error naming the second line (postmap keeps the first, with a warning)', () => {
    expect(() => parse('x.example dane-only\n# c\nX.Example. may\n')).toThrow(/^tls_policy:3: 'x.example' is listed twice/);
    expect(() => parse('[r.example]:25 encrypt\n[r.example]:25 may\n')).toThrow(/^tls_policy:2: '\[r.example\]:25' is listed twice/);
    // [r.example] and [r.example]:25 are different keys in Postfix too.
    expect(() => parse('[r.example] encrypt\n[r.example]:25 may\n')).not.toThrow();
  });
});

describe('policy table lookup (Postfix smtp_tls_policy_maps: exact, then parent suffixes)', () => {
  const table = parsePolicyTable(['.example.test may', '.deep.example.test dane-only'].join('\n'), 'p');
  // `.example.test` covers the subdomains only, never example.test itself: the domain
  // keeps the default (dane), so a "may" meant for subdomains cannot switch DANE off for it.
  it('.domain does not cover the domain itself', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'example.test' }, 'dane')).toMatchObject({ level: 'dane', source: 'default' });
  });
  // Matching is by whole labels: notexample.test is not under .example.test.
  it('.domain matches on a label boundary', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'notexample.test' }, 'dane')).toMatchObject({ level: 'dane', source: 'default' });
    expect(lookupPolicy(table, { kind: 'domain', domain: 'a.example.test' }, 'dane')).toMatchObject({ level: 'may', source: 'p:1' });
  });
  // The most specific (longest) suffix wins.
  it('the longest suffix wins', () => {
    expect(lookupPolicy(table, { kind: 'domain', domain: 'mx.deep.example.test' }, 'dane')).toMatchObject({ level: 'dane-only', source: 'p:2' });
  });
});
