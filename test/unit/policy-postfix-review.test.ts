/**
 * Conformance review of the policy table against Postfix's smtp_tls_policy_maps, as
 * postconf(5) (smtp_tls_policy_maps, smtp_tls_verify_cert_match, smtp_tls_secure_cert_match,
 * smtp_tls_fingerprint_digest), TLS_README and the source (smtp_tls_policy.c,
 * tls_client.c add_namechecks, readlline.c, tls_dane.c) describe it. Each test says what a
 * Postfix operator expects; where dane-smtp is stricter than Postfix (an error instead of a
 * warning), the error names FILE:LINE and nothing is sent.
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { lookupPolicy, parseDestination, parsePolicyTable, type Level, type PolicyTable } from '../../src/policy/table.js';
import { checkFingerprints, checkPkix, nameMatches } from '../../src/policy/verify.js';
import { certSha256, certSha512, makeCert, spkiSha256, spkiSha512, type Issued } from '../support/pki.js';

const parse = (text: string) => parsePolicyTable(text, 'tls_policy');
const dom = (table: PolicyTable, domain: string, def: Level = 'dane') => lookupPolicy(table, { kind: 'domain', domain }, def);
const hop = (table: PolicyTable, host: string, port?: number) => lookupPolicy(table, port ? { kind: 'nexthop', host, port } : { kind: 'nexthop', host }, 'dane');
const colons = (hex: string) => hex.replace(/(..)(?!$)/g, '$1:');
const FP256 = 'ab'.repeat(32);
const FP512 = 'cd'.repeat(64);

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

describe('levels and their defaults', () => {
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

describe('match= for verify and secure', () => {
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

describe('file syntax (postmap(1), readlline(3))', () => {
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

describe('verify/secure names as Postfix hands them to OpenSSL (tls_client.c add_namechecks)', () => {
  let wildcard: Issued, cnOnly: Issued, sanAndCn: Issued, deep: Issued;
  const ctx = { host: 'mx.example.test', nexthop: 'example.test' };
  const x = (c: Issued) => new X509Certificate(c.der);
  beforeAll(async () => {
    [wildcard, cnOnly, sanAndCn, deep] = await Promise.all([
      makeCert({ cn: 'wildcard', sans: ['*.example.test'] }),
      makeCert({ cn: 'mx.example.test' }),
      makeCert({ cn: 'mx.example.test', sans: ['mail.elsewhere.test'] }),
      makeCert({ cn: 'deep', sans: ['A.B.Example.TEST'] }),
    ]);
  });
  it('dot-nexthop and `.suffix` accept a wildcard certificate for the suffix (OpenSSL leading-dot reference names)', () => {
    expect(nameMatches(x(wildcard), ['dot-nexthop'], ctx)).toBe('*.example.test');
    expect(nameMatches(x(wildcard), ['.example.test'], ctx)).toBe('*.example.test');
    expect(nameMatches(x(wildcard), ['hostname'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(wildcard), ['nexthop'], ctx)).toBeUndefined(); // *.example.test does not name example.test
  });
  it('the subject CN counts when the certificate has no DNS names, for every pattern kind', () => {
    expect(nameMatches(x(cnOnly), ['dot-nexthop'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(cnOnly), ['hostname'], ctx)).toBe('mx.example.test');
    expect(nameMatches(x(sanAndCn), ['dot-nexthop', 'hostname'], ctx)).toBeUndefined(); // DNS names present: CN ignored
  });
  it('`.suffix` is subdomains at any depth but not the suffix itself; case is ignored', () => {
    expect(nameMatches(x(deep), ['.example.test'], ctx)).toBe('A.B.Example.TEST'); // the certificate's spelling
    expect(nameMatches(x(deep), ['.b.example.test'], ctx)).toBe('A.B.Example.TEST');
    expect(nameMatches(x(deep), ['.a.b.example.test'], ctx)).toBeUndefined();
    expect(nameMatches(x(deep), ['a.b.example.test'], ctx)).toBe('a.b.example.test');
  });
  it('the secure default (nexthop:dot-nexthop) authenticates an MX with a wildcard certificate for the domain', async () => {
    const root = await makeCert({ cn: 'Review Root', ca: true });
    const leaf = await makeCert({ cn: 'wildcard', sans: ['*.example.test'], issuer: root });
    const r = checkPkix([leaf.der], [root.certPem], ['nexthop', 'dot-nexthop'], { ...ctx, now: new Date() });
    expect(r).toEqual({ ok: true, detail: 'PKIX chain to CN=Review Root, name *.example.test' });
    expect(checkPkix([leaf.der], [root.certPem], ['nexthop', 'dot-nexthop'], { host: 'mx.other.test', nexthop: 'other.test', now: new Date() }).ok).toBe(false);
  });
});

describe('fingerprint matching (certificate or public key, Postfix ≥ 2.9)', () => {
  let leaf: Issued;
  beforeAll(async () => {
    leaf = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'] });
  });
  it('certificate and public-key digests, SHA-256 and SHA-512, are interchangeable', () => {
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha256', hex: spkiSha256(leaf.spkiDer) }])).toMatchObject({ ok: true, detail: 'public-key sha256 fingerprint matched' });
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha512', hex: certSha512(leaf.der) }])).toMatchObject({ ok: true, detail: 'certificate sha512 fingerprint matched' });
    expect(checkFingerprints([leaf.der], [{ algorithm: 'sha512', hex: spkiSha512(leaf.spkiDer) }]).ok).toBe(true);
  });
  it('a table line with an upper-case colon-separated digest (openssl x509 -fingerprint output) matches', () => {
    const t = parse(`x.example fingerprint match=${'00'.repeat(32)}|${colons(certSha256(leaf.der)).toUpperCase()}`);
    expect(checkFingerprints([leaf.der], dom(t, 'x.example').fingerprints).ok).toBe(true);
  });
  it('only the leaf counts: a digest of another certificate in the chain does not', async () => {
    const ca = await makeCert({ cn: 'FP CA', ca: true });
    const l = await makeCert({ cn: 'mx.example.test', issuer: ca });
    expect(checkFingerprints([l.der, ca.der], [{ algorithm: 'sha256', hex: certSha256(ca.der) }]).ok).toBe(false);
  });
});
