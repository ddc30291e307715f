/**
 * `check` findings (src/core/findings.ts): declarative DomainResult fixtures per
 * finding code; the RRSIG expiration carried from the wire (src/dns/stub.ts) into the
 * DnsReport; the human "fix:" lines; and findings on runAll results built from real
 * certificate chains, so the wording of authenticate() and diagnose() stay in step.
 */
import { servedTls } from '../../../src/smtp/served-chain.js';
import { createHash } from 'node:crypto';
import type { RecordFailure } from '../../../src/core/rfc7672/authenticate.js';
import dnsPacket from 'dns-packet';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderDomain } from '../../../src/cli/human.js';
import { reportAnswer, type DnsReport } from '../../../src/core/dns-report.js';
import { runAll, type RunOptions } from '../../../src/engine/run.js';
import type { AttemptReport, DomainResult, FailedDomainResult, HostReport, SessionDomainResult, TlsaReport } from '../../../src/core/result.js';
import { CERT_EXPIRY_WARNING_DAYS, FINDING_CODES, RRSIG_EXPIRY_WARNING_DAYS, diagnose } from '../../../src/core/findings.js';
import { StubResolver, answerFromMessage, earliestSignatureExpiration } from '../../../src/dns/stub.js';
import { parseMessage } from '../../../src/dns/wire.js';
import type { CertInfo } from '../../../src/core/rfc7672/authenticate.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../../src/smtp/types.js';
import { reply, ScriptedDnsServer } from '../../support/dns-server.js';
import { FixtureResolver, mx, type FixtureAnswer } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const DAY = 86_400_000;
const at = (days: number) => new Date(NOW.getTime() + days * DAY).toISOString();
const D32 = 'ab'.repeat(32);
const SPKI = 'cd'.repeat(32);
const SPKI512 = 'c5'.repeat(64);
const CERT512 = '05'.repeat(64);

// ------------------------------------------------------------------ fixtures

function dns(type: DnsReport['type'], name: string, over: Partial<DnsReport> = {}): DnsReport {
  return { name, type, status: 'data', proof: 'secure', records: [], ...over };
}

const usable = (record: string): TlsaReport => ({ record, usable: true });
const unusable = (record: string, reason: NonNullable<TlsaReport['reason']>, detail = `${reason} detail`): TlsaReport => ({ record, usable: false, reason, detail });

function cert(depth: number, over: Partial<CertInfo> = {}): CertInfo {
  return { depth, subject: `CN=cert${depth}`, issuer: `CN=cert${depth + 1}`, spkiSha256: depth === 0 ? SPKI : 'ef'.repeat(32), certSha256: '01'.repeat(32), spkiSha512: depth === 0 ? SPKI512 : 'e5'.repeat(64), certSha512: CERT512, notBefore: at(-100), notAfter: at(300), ...over };
}

function attempt(over: Partial<AttemptReport> = {}): AttemptReport {
  return { address: '192.0.2.1', result: 'ok', tls: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', chain: [cert(0), cert(1)], ...over };
}

function host(over: Partial<HostReport> = {}): HostReport {
  const name = over.name ?? 'mx.example.test';
  return {
    name,
    preference: 10,
    implicit: false,
    dns: [dns('A', name, { records: ['192.0.2.1'] }), dns('AAAA', name, { status: 'nodata' }), dns('TLSA', `_25._tcp.${name}`, { records: [`3 1 1 ${D32}`] })],
    addresses: ['192.0.2.1'],
    level: 'dane',
    levelReason: 'DANE',
    tlsaBase: name,
    tlsa: [usable(`3 1 1 ${D32}`), usable(`3 1 1 ${'ee'.repeat(32)}`)],
    attempts: [attempt({ authentication: { ok: true, record: `3 1 1 ${D32}`, usage: 'DANE-EE' as const, depth: 0 } })],
    status: 'used',
    ...over,
  };
}

/** A fixture: any mix of fields (cast: a test may build what the code never returns). */
function result(over: Partial<SessionDomainResult | FailedDomainResult> = {}): DomainResult {
  return {
    domain: 'example.test',
    verdict: 'dane-authenticated',
    host: 'mx.example.test',
    address: '192.0.2.1',
    tls: true,
    reason: 'ok',
    mx: dns('MX', 'example.test', { records: ['10 mx.example.test'] }),
    hosts: [host()],
    resolverValidates: true,
    level: 'dane',
    policySource: 'default',
    ...over,
  } as DomainResult;
}

const codes = (r: DomainResult) => diagnose(r, NOW).map((f) => f.code);
const only = (r: DomainResult, code: string) => diagnose(r, NOW).filter((f) => f.code === code);

/** A failed DANE attempt with per-record reasons exactly as authenticate() words them. */
const failedAuth = (records: RecordFailure[]): Partial<AttemptReport> => ({
  result: 'failed',
  tls: false,
  error: 'server not authenticated',
  errorCode: 'AUTHENTICATION',
  authentication: { ok: false, reason: 'no usable TLSA record matched', records },
});

// ------------------------------------------------------------------ per code

describe('diagnose: policy-not-met', () => {
  it('dane-only and an insecure MX: the deferral is explained, with what the receiver would need', () => {
    const r = result({
      verdict: 'tempfail', host: null, address: null, tls: false, level: 'dane-only', policySource: 'policy.cf:3',
      reason: 'the dane-only policy requires DANE, and the MX RRset of example.test is insecure',
      mx: dns('MX', 'example.test', { proof: 'insecure', records: ['10 mx.example.test'] }),
      hosts: [host({ level: 'may', tlsa: [], attempts: [], status: 'not-tried', dns: [dns('A', 'mx.example.test', { proof: 'insecure', records: ['192.0.2.1'] })] })],
    });
    const f = only(r, 'policy-not-met');
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/dane-only \(policy\.cf:3\).*DNSSEC-signed MX/);
  });
  it('not added when another error already explains the deferral, nor for a delivered verdict', () => {
    const failedHost = host({ status: 'failed', attempts: [attempt({ result: 'failed', tls: false, error: 'connection refused', errorCode: 'CONNECT' })] });
    expect(codes(result({ verdict: 'tempfail', hosts: [failedHost] }))).not.toContain('policy-not-met');
    expect(codes(result())).not.toContain('policy-not-met');
  });
});

describe('diagnose: a healthy destination', () => {
  it('has no findings when two usable records back the key and nothing expires soon', () => {
    expect(diagnose(result(), NOW)).toEqual([]);
  });

  it('every code it emits is documented in FINDING_CODES', () => {
    expect(Object.keys(FINDING_CODES)).toContain('tlsa-pkix-usage');
    for (const [, v] of Object.entries(FINDING_CODES)) expect(['error', 'warning', 'advice']).toContain(v.severity);
  });
});

describe('diagnose: unusable TLSA records', () => {
  it('tlsa-pkix-usage: usage 0/1 records; error when nothing usable is left (RFC 7672 §3.1.3)', () => {
    const r = result({
      verdict: 'encrypt-unauthenticated',
      hosts: [host({ level: 'encrypt', tlsa: [unusable(`0 0 1 ${D32}`, 'pkix-usage'), unusable(`1 1 1 ${D32}`, 'pkix-usage')], attempts: [attempt()] })],
    });
    const f = only(r, 'tlsa-pkix-usage');
    expect(f).toHaveLength(2);
    expect(f[0]).toMatchObject({ severity: 'error', host: 'mx.example.test' });
    expect(f[0]!.message).toMatch(/^TLSA 0 0 1 abab.* at mx\.example\.test: pkix-usage detail; publish it with usage 2 instead \(2 0 1 abab.*, DANE-TA: the server must then send that CA certificate in its chain\).*unauthenticated/);
    expect(f[1]!.message).toMatch(/publish it with usage 3 instead \(3 1 1 abab.*, DANE-EE\)/);
  });

  it('tlsa-pkix-usage is a warning beside a usable record', () => {
    const r = result({ hosts: [host({ tlsa: [unusable(`1 1 1 ${D32}`, 'pkix-usage'), usable(`3 1 1 ${D32}`), usable(`2 1 1 ${D32}`)] })] });
    expect(only(r, 'tlsa-pkix-usage')).toMatchObject([{ severity: 'warning' }]);
  });

  it('tlsa-digest-length: a digest of the wrong length (and empty data)', () => {
    const r = result({
      verdict: 'encrypt-unauthenticated',
      hosts: [host({ level: 'encrypt', tlsa: [unusable(`3 1 1 ${'ab'.repeat(31)}`, 'bad-digest-length', 'matching type 1 needs a 32-byte digest, this one has 31 bytes'), unusable('3 1 0 ', 'empty-data')], attempts: [attempt()] })],
    });
    const f = only(r, 'tlsa-digest-length');
    expect(f).toHaveLength(2);
    expect(f[0]!.severity).toBe('error');
    expect(f[0]!.message).toContain('this one has 31 bytes; recompute the digest');
  });

  it('tlsa-unknown-parameter: unknown usage, selector or matching type', () => {
    const r = result({
      hosts: [host({ tlsa: [unusable(`4 1 1 ${D32}`, 'unknown-usage'), unusable(`3 2 1 ${D32}`, 'unknown-selector'), unusable(`3 1 3 ${D32}`, 'unknown-matching-type'), usable(`3 1 1 ${D32}`), usable(`3 1 2 ${D32}${D32}`)] })],
    });
    const f = only(r, 'tlsa-unknown-parameter');
    expect(f.map((x) => x.severity)).toEqual(['warning', 'warning', 'warning']);
    expect(f[1]!.message).toContain('selector 0 or 1');
  });

  it('tlsa-weaker-digest: advice, whatever else the host has (RFC 7671 §9)', () => {
    const r = result({ hosts: [host({ tlsa: [unusable(`3 1 1 ${D32}`, 'weaker-digest'), usable(`3 1 2 ${D32}${D32}`), usable(`2 1 1 ${D32}`)] })] });
    expect(only(r, 'tlsa-weaker-digest')).toMatchObject([{ severity: 'advice', host: 'mx.example.test' }]);
  });
});

describe('diagnose: authentication failures', () => {
  it('tlsa-no-match: the served key matches no DANE-EE record; the fix names the new key', () => {
    const r = result({
      verdict: 'tempfail',
      host: null,
      hosts: [host({ status: 'failed', tlsa: [usable(`3 1 1 ${D32}`)], attempts: [attempt(failedAuth([{ record: `3 1 1 ${D32}`, code: 'ee-no-match', why: 'does not match the leaf certificate' }]))] })],
    });
    const f = only(r, 'tlsa-no-match');
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('error');
    // The full zone-file line, owner included (the TLSA RRset's owner name).
    expect(f[0]!.message).toContain(`publish "_25._tcp.mx.example.test. IN TLSA 3 1 1 ${SPKI}"`);
    expect(f[0]!.message).toContain('does not match its DANE-EE record (3 1 1 abab');
    expect(codes(r)).not.toContain('host-failed');
  });

  it('tlsa-no-match: the line is at the TLSA base and port used; 3 1 2 when a 3 1 2 record is published (RFC 7671 §9)', () => {
    const fail = (record: string) => attempt(failedAuth([{ record, code: 'ee-no-match', why: 'does not match the leaf certificate' }]));
    // Behind a CNAME the records are at the expanded name; a next hop on port 587.
    const cname = result({
      verdict: 'tempfail',
      hosts: [host({ tlsaBase: 'srv.example.net', dns: [dns('TLSA', '_587._tcp.srv.example.net', { records: [`3 1 1 ${D32}`] })], tlsa: [usable(`3 1 1 ${D32}`)], attempts: [fail(`3 1 1 ${D32}`)] })],
    });
    expect(only(cname, 'tlsa-no-match')[0]!.message).toContain(`publish "_587._tcp.srv.example.net. IN TLSA 3 1 1 ${SPKI}"`);
    const strong = `3 1 2 ${'77'.repeat(64)}`;
    const r512 = result({ verdict: 'tempfail', hosts: [host({ tlsa: [usable(strong)], attempts: [fail(strong)] })] });
    expect(only(r512, 'tlsa-no-match')[0]!.message).toContain(`publish "_25._tcp.mx.example.test. IN TLSA 3 1 2 ${SPKI512}"`);
  });

  it('tlsa-no-match: a matching weaker digest hidden by a wrong stronger one (RFC 7671 §9) says so', () => {
    const strong = `3 1 2 ${'77'.repeat(64)}`;
    const r = result({
      verdict: 'tempfail',
      hosts: [host({ tlsa: [unusable(`3 1 1 ${SPKI}`, 'weaker-digest'), usable(strong)], attempts: [attempt(failedAuth([{ record: strong, code: 'ee-no-match', why: 'does not match the leaf certificate' }]))] })],
    });
    expect(codes(r)).toEqual(['tlsa-no-match', 'tlsa-weaker-digest']);
    const m = only(r, 'tlsa-no-match')[0]!.message;
    expect(m).toContain('is ignored because a stronger digest is published');
    expect(m).not.toContain('IN TLSA');
  });

  it('ta-not-served: the DANE-TA anchor is not in the served chain (RFC 7672 §3.1.2)', () => {
    const r = result({
      verdict: 'tempfail',
      hosts: [host({ tlsa: [usable(`2 0 1 ${D32}`)], attempts: [attempt(failedAuth([{ record: `2 0 1 ${D32}`, code: 'ta-not-served', why: 'matches no certificate the server sent (the trust anchor must be in the served chain)' }]))] })],
    });
    expect(codes(r)).toEqual(['ta-not-served']);
    expect(only(r, 'ta-not-served')[0]!.message).toContain('must send its trust anchor');
  });

  it('ta-not-served: an anchor served off the issuer path of the leaf', () => {
    const r = result({ hosts: [host({ tlsa: [usable(`2 0 1 ${D32}`)], attempts: [attempt(failedAuth([{ record: `2 0 1 ${D32}`, code: 'ta-off-path', why: 'matches a served certificate that is not on the issuer path of the leaf' }]))] })] });
    expect(only(r, 'ta-not-served')[0]!.message).toContain('serve the chain of the leaf');
  });

  it('ta-name-mismatch: the leaf names none of the reference identifiers under DANE-TA', () => {
    const r = result({
      hosts: [host({ tlsa: [usable(`2 1 1 ${D32}`)], attempts: [attempt(failedAuth([{ record: `2 1 1 ${D32}`, code: 'ta-name-mismatch', why: 'trust anchor at depth 1, but leaf certificate names none of mx.example.test, example.test', referenceNames: ['mx.example.test', 'example.test'] }]))] })],
    });
    const f = only(r, 'ta-name-mismatch');
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toContain('names none of mx.example.test, example.test');
    expect(f[0]!.message).toContain('reissue it with mx.example.test');
  });

  it('cert-expired and ta-chain-invalid: other DANE-TA path failures', () => {
    const r = result({
      hosts: [
        host({
          tlsa: [usable(`2 1 1 ${D32}`), usable(`2 0 1 ${D32}`)],
          attempts: [
            attempt(
              failedAuth([
                { record: `2 1 1 ${D32}`, code: 'ta-date', why: 'trust anchor at depth 1, but certificate at depth 0 (CN=mx) expired 2030-01-01T00:00:00.000Z', pathProblem: 'certificate at depth 0 (CN=mx) expired 2030-01-01T00:00:00.000Z' },
                { record: `2 0 1 ${D32}`, code: 'ta-eku', why: 'trust anchor at depth 1, but leaf certificate is not for TLS server authentication (extended key usage)' },
              ]),
            ),
          ],
        }),
      ],
    });
    expect(codes(r)).toEqual(['cert-expired', 'ta-chain-invalid']);
    expect(only(r, 'cert-expired')[0]!.message).toMatch(/^under DANE-TA \(.*\), certificate at depth 0 \(CN=mx\) expired .*renew/);
  });

  it('one finding per problem, not per address', () => {
    const fail = attempt(failedAuth([{ record: `3 1 1 ${D32}`, code: 'ee-no-match', why: 'does not match the leaf certificate' }]));
    const r = result({ hosts: [host({ addresses: ['192.0.2.1', '2001:db8::1'], tlsa: [usable(`3 1 1 ${D32}`)], attempts: [fail, { ...fail, address: '2001:db8::1' }] })] });
    expect(codes(r)).toEqual(['tlsa-no-match']);
  });
});

describe('diagnose: STARTTLS and other host failures', () => {
  it('starttls-missing: a host with TLSA records does not offer STARTTLS', () => {
    const r = result({
      verdict: 'tempfail',
      hosts: [host({ status: 'failed', attempts: [attempt({ result: 'failed', tls: false, chain: undefined, error: 'STARTTLS not offered', errorCode: 'NO_STARTTLS' })] })],
    });
    expect(codes(r)).toEqual(['starttls-missing']);
    expect(diagnose(r, NOW)[0]).toMatchObject({ severity: 'error', host: 'mx.example.test' });
  });

  it('an opportunistic host without STARTTLS is no finding; other failures are host-failed', () => {
    const may = host({ level: 'may', tlsa: undefined, tlsaBase: undefined, attempts: [attempt({ tls: false, chain: undefined, plaintextRetry: true })] });
    expect(codes(result({ hosts: [may] }))).toEqual([]);
    const down = host({ status: 'failed', attempts: [attempt({ result: 'failed', tls: false, chain: undefined, error: 'connection refused', errorCode: 'CONNECT' })] });
    expect(diagnose(result({ hosts: [down] }), NOW)).toMatchObject([{ code: 'host-failed', message: 'mx.example.test [192.0.2.1] could not be used: connection refused' }]);
  });

  it('host-no-address', () => {
    const r = result({ verdict: 'undeliverable', hosts: [host({ status: 'no-address', addresses: [], attempts: [], level: null, tlsa: undefined })] });
    expect(codes(r)).toEqual(['host-no-address']);
  });
});

describe('diagnose: DNS', () => {
  it('mx-bogus carries the EDE text and a hint', () => {
    const r = result({
      verdict: 'tempfail',
      host: null,
      hosts: [],
      mx: dns('MX', 'example.test', { status: 'failed', proof: 'bogus', reason: 'SERVFAIL (EDE 7: signature expired "for example.test MX")' , failure: { kind: 'rcode', rcode: 'SERVFAIL', ede: [{ infoCode: 7, extraText: '' }] } }),
    });
    const f = diagnose(r, NOW);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ code: 'mx-bogus', severity: 'error' });
    expect(f[0]!.host).toBeUndefined();
    expect(f[0]!.message).toContain('EDE 7: signature expired "for example.test MX"');
    expect(f[0]!.message).toContain('re-sign the zone');
    expect(f[0]!.message).toContain('mail is deferred');
  });

  it('tlsa-bogus and dns-bogus (address) name the host; dns-indeterminate without a verdict', () => {
    const tlsaBogus = host({ status: 'failed', level: null, tlsa: undefined, attempts: [], dns: [dns('A', 'mx.example.test'), dns('TLSA', '_25._tcp.mx.example.test', { status: 'failed', proof: 'bogus', reason: 'SERVFAIL (EDE 6: DNSSEC bogus)' , failure: { kind: 'rcode', rcode: 'SERVFAIL', ede: [{ infoCode: 6, extraText: '' }] } })] });
    const aBogus = host({ name: 'mx2.example.test', status: 'failed', level: null, tlsa: undefined, attempts: [], dns: [dns('A', 'mx2.example.test', { status: 'failed', proof: 'bogus', reason: 'SERVFAIL (EDE 9: DNSKEY missing)' , failure: { kind: 'rcode', rcode: 'SERVFAIL', ede: [{ infoCode: 9, extraText: '' }] } })] });
    const r = result({ verdict: 'tempfail', hosts: [tlsaBogus, aBogus] });
    expect(diagnose(r, NOW)).toMatchObject([
      { code: 'tlsa-bogus', host: 'mx.example.test' },
      { code: 'dns-bogus', host: 'mx2.example.test' },
    ]);
    expect(only(r, 'dns-bogus')[0]!.message).toContain('fix the DS record');
    const lame = result({ verdict: 'tempfail', hosts: [], mx: dns('MX', 'example.test', { status: 'failed', proof: 'indeterminate', reason: 'SERVFAIL (EDE 22: no reachable authority)' , failure: { kind: 'rcode', rcode: 'SERVFAIL', ede: [{ infoCode: 22, extraText: '' }] } }) });
    expect(diagnose(lame, NOW)).toMatchObject([{ code: 'dns-indeterminate', severity: 'error' }]);
  });

  it('cname-insecure: a warning when the host loses DANE, advice when TLSA at the original name still applies', () => {
    const chain = ['mx.example.test', 'srv.insecure.test'];
    const lost = host({ level: 'may', tlsa: undefined, tlsaBase: undefined, dns: [dns('A', 'mx.example.test', { proof: 'insecure', cnameChain: chain }), dns('CNAME', 'mx.example.test', { proof: 'insecure' })] });
    expect(only(result({ verdict: 'opportunistic', hosts: [lost] }), 'cname-insecure')).toMatchObject([{ severity: 'warning', host: 'mx.example.test' }]);
    const kept = host({ dns: [dns('A', 'mx.example.test', { proof: 'insecure', cnameChain: chain }), dns('AAAA', 'mx.example.test', { proof: 'insecure', status: 'nodata', cnameChain: chain })] });
    expect(only(result({ hosts: [kept] }), 'cname-insecure')).toMatchObject([{ severity: 'advice' }]);
    // An insecure MX RRset: DANE was never due, nothing to say about the CNAME.
    expect(codes(result({ mx: dns('MX', 'example.test', { proof: 'insecure' }), hosts: [lost] }))).toEqual([]);
    // A secure chain is fine.
    expect(codes(result({ hosts: [host({ dns: [dns('A', 'mx.example.test', { cnameChain: chain })] })] }))).toEqual([]);
  });

  it(`rrsig-expires-soon: MX or TLSA signatures expiring within ${RRSIG_EXPIRY_WARNING_DAYS} days`, () => {
    const r = result({
      mx: dns('MX', 'example.test', { signatureExpires: at(3) }),
      hosts: [host({ dns: [dns('A', 'mx.example.test', { signatureExpires: at(1) }), dns('TLSA', '_25._tcp.mx.example.test', { signatureExpires: at(0.25) })] })],
    });
    const f = only(r, 'rrsig-expires-soon');
    expect(f).toHaveLength(2); // A records are not asked about
    expect(f[0]).toMatchObject({ severity: 'warning' });
    expect(f[0]!.host).toBeUndefined();
    expect(f[0]!.message).toContain(`expires ${at(3)} (in 3 days)`);
    expect(f[1]).toMatchObject({ host: 'mx.example.test' });
    expect(f[1]!.message).toContain('(in 6 hours)');
    expect(codes(result({ mx: dns('MX', 'example.test', { signatureExpires: at(8) }) }))).toEqual([]);
    expect(codes(result({ mx: dns('MX', 'example.test', { proof: 'insecure', signatureExpires: at(1) }), hosts: [] }))).toEqual([]);
  });

  it('resolver-not-validating, and resolver-unreachable for the unreachable-resolver result', () => {
    const r = result({ resolverValidates: false, verdict: 'opportunistic', mx: dns('MX', 'example.test', { proof: 'insecure' }) });
    expect(diagnose(r, NOW)).toMatchObject([{ code: 'resolver-not-validating', severity: 'error' }]);
    const down = result({ resolverValidates: false, verdict: 'tempfail', deferredEarly: 'resolver', host: null, address: null, mx: null, hosts: [], reason: 'resolver unreachable: timeout after 5s' });
    expect(codes(down)).toEqual(['resolver-unreachable']);
    // An abort is no problem to fix; an internal error is reported as such.
    expect(codes({ ...down, resolverValidates: true, deferredEarly: 'aborted', reason: 'aborted' } as DomainResult)).toEqual([]);
    expect(codes({ ...down, resolverValidates: true, deferredEarly: 'internal-error', reason: 'internal error: boom' } as DomainResult)).toEqual(['internal-error']);
  });
});

describe('diagnose: certificates and rollover', () => {
  const ta = (chain: CertInfo[], depth = 1) =>
    host({ tlsa: [usable(`2 1 1 ${D32}`)], attempts: [attempt({ chain, authentication: { ok: true, record: `2 1 1 ${D32}`, usage: 'DANE-TA', depth, matchedName: 'mx.example.test' } })] });

  it(`cert-expires-soon: under DANE-TA, leaf to anchor, within ${CERT_EXPIRY_WARNING_DAYS} days`, () => {
    const r = result({ hosts: [ta([cert(0, { notAfter: at(10) }), cert(1, { notAfter: at(20) }), cert(2, { notAfter: at(5) })])] });
    const f = only(r, 'cert-expires-soon');
    expect(f.map((x) => x.severity)).toEqual(['warning', 'warning']); // depth 2 is above the anchor
    expect(f[0]!.message).toContain(`expires ${at(10)} (in 10 days)`);
    expect(codes(result({ hosts: [ta([cert(0, { notAfter: at(40) }), cert(1)])] }))).toEqual([]);
  });

  it('cert-expires-soon is not reported under DANE-EE (dates do not count there)', () => {
    const ee = host({ attempts: [attempt({ chain: [cert(0, { notAfter: at(2) })], authentication: { ok: true, record: `3 1 1 ${D32}`, usage: 'DANE-EE' as const, depth: 0 } })] });
    expect(codes(result({ hosts: [ee] }))).toEqual([]);
  });

  it('no-rollover-slack: one matching DANE-EE record and no other usable record (advice)', () => {
    const r = result({ hosts: [host({ tlsa: [usable(`3 1 1 ${D32}`), unusable(`1 1 1 ${D32}`, 'pkix-usage')] })] });
    const f = only(r, 'no-rollover-slack');
    expect(f).toMatchObject([{ severity: 'advice', host: 'mx.example.test' }]);
    expect(f[0]!.message).toContain("publish the next key's record");
    expect(codes(result())).not.toContain('no-rollover-slack'); // two usable records
  });

  it('no-rollover-slack names where the records are published when the MX host is a CNAME', () => {
    const r = result({ hosts: [host({ tlsaBase: 'srv.example.net', tlsa: [usable(`3 1 1 ${D32}`)] })] });
    expect(only(r, 'no-rollover-slack')[0]!.message).toMatch(/^the only usable TLSA record of mx\.example\.test \(3 1 1 abab.*, published at srv\.example\.net\) matches/);
  });

  it('no-rollover-slack: several usable DANE-EE records that all match the served leaf (key and certificate) still leave no slack (RFC 7671 §8.1)', () => {
    const leafCert = '01'.repeat(32); // cert(0).certSha256
    const authed = { authentication: { ok: true as const, record: `3 1 1 ${SPKI}`, usage: 'DANE-EE' as const, depth: 0 } };
    const withTlsa = (tlsa: TlsaReport[]) => result({ hosts: [host({ tlsa, attempts: [attempt(authed)] })] });
    const f = only(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 0 1 ${leafCert}`)]), 'no-rollover-slack');
    expect(f).toMatchObject([{ severity: 'advice', host: 'mx.example.test' }]);
    expect(f[0]!.message).toMatch(/^all 2 usable TLSA records of mx\.example\.test .* match the certificate it serves now.*publish the next key's record beside them/);
    // Full(0) data is compared through its SHA-256; unusable records do not count.
    const full = Buffer.from('full certificate bytes');
    const fullHash = createHash('sha256').update(full).digest('hex');
    const fullLeaf = result({ hosts: [host({ tlsa: [usable(`3 1 1 ${SPKI}`), usable(`3 0 0 ${full.toString('hex')}`), unusable(`1 1 1 ${D32}`, 'pkix-usage')], attempts: [attempt({ ...authed, chain: [cert(0, { certSha256: fullHash }), cert(1)] })] })] });
    expect(codes(fullLeaf)).toEqual(['tlsa-pkix-usage', 'no-rollover-slack']);
    // Slack: a record for another key, a usable DANE-TA record, a SHA2-512 record of another certificate.
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 0 1 ${leafCert}`), usable(`3 1 1 ${D32}`)]))).not.toContain('no-rollover-slack');
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`2 1 1 ${'ef'.repeat(32)}`)]))).not.toContain('no-rollover-slack');
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 0 2 ${D32}${D32}`)]))).not.toContain('no-rollover-slack');
  });

  it('tls-old-version: advice for a server that negotiated TLS 1.0 or 1.1 (accepted, RFC 7672 §8.1; RFC 8996), none for 1.2 or 1.3', () => {
    const withVersion = (...versions: (string | undefined)[]) =>
      result({ hosts: [host({ addresses: versions.map((_, i) => `192.0.2.${i + 1}`), attempts: versions.map((v, i) => attempt({ address: `192.0.2.${i + 1}`, tlsVersion: v, authentication: { ok: true, record: `3 1 1 ${D32}`, usage: 'DANE-EE' as const, depth: 0 } })) })] });
    for (const v of ['TLSv1', 'TLSv1.1']) {
      const f = only(withVersion(v), 'tls-old-version');
      expect(f).toEqual([{ code: 'tls-old-version', severity: 'advice', host: 'mx.example.test', message: `mx.example.test negotiated ${v}: enable TLS 1.2 or 1.3 on the server; RFC 8996 deprecates 1.0/1.1` }]);
    }
    // Said once per host and version, however many addresses negotiated it.
    expect(only(withVersion('TLSv1', 'TLSv1', 'TLSv1.3'), 'tls-old-version')).toHaveLength(1);
    for (const v of ['TLSv1.2', 'TLSv1.3', undefined]) expect(codes(withVersion(v))).not.toContain('tls-old-version');
    // Advice only: the verdict and the other findings are unchanged.
    expect(codes(withVersion('TLSv1'))).toEqual(['tls-old-version']);
    expect(FINDING_CODES['tls-old-version'].severity).toBe('advice');
  });

  it('no-rollover-slack: SHA2-512 records are compared with the leaf\'s SHA-512 digests (spkiSha512, certSha512)', () => {
    const authed = { authentication: { ok: true as const, record: `3 1 1 ${SPKI}`, usage: 'DANE-EE' as const, depth: 0 } };
    const withTlsa = (tlsa: TlsaReport[], chain?: CertInfo[]) => result({ hosts: [host({ tlsa, attempts: [attempt({ ...authed, ...(chain ? { chain } : {}) })] })] });
    // 3 1 2 of the current key beside 3 1 1 of the current key: no slack.
    const f = only(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 1 2 ${SPKI512}`)]), 'no-rollover-slack');
    expect(f).toMatchObject([{ severity: 'advice', host: 'mx.example.test' }]);
    expect(f[0]!.message).toMatch(/^all 2 usable TLSA records of mx\.example\.test \(3 1 1 cdcd.*, 3 1 2 c5c5.*\) match the certificate it serves now/);
    // 3 0 2 of the current certificate beside 3 1 1: no slack either.
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 0 2 ${CERT512}`)]))).toContain('no-rollover-slack');
    // 3 1 2 of another key (the next one): slack.
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 1 2 ${'a5'.repeat(64)}`)]))).not.toContain('no-rollover-slack');
    // A result without the SHA-512 digests (an older version): a SHA2-512 record cannot be told, it counts as slack.
    const { spkiSha512: _s, certSha512: _c, ...old } = cert(0);
    expect(codes(withTlsa([usable(`3 1 1 ${SPKI}`), usable(`3 1 2 ${SPKI512}`)], [old, cert(1)]))).not.toContain('no-rollover-slack');
  });

  it('sorts errors, then warnings, then advice', () => {
    const r = result({
      mx: dns('MX', 'example.test', { signatureExpires: at(1) }),
      hosts: [host({ tlsa: [unusable(`3 1 1 ${D32}`, 'weaker-digest'), usable(`3 1 2 ${D32}${D32}`)], attempts: [attempt(failedAuth([{ record: `3 1 2 ${D32}${D32}`, code: 'ee-no-match', why: 'does not match the leaf certificate' }]))] })],
    });
    expect(codes(r)).toEqual(['tlsa-no-match', 'rrsig-expires-soon', 'tlsa-weaker-digest']);
  });
});

// ------------------------------------------------------------------ human output

describe('human output', () => {
  it('prints one "fix:" line per finding after the verdict', () => {
    const r = result({ hosts: [host({ tlsa: [usable(`3 1 1 ${D32}`)] })] });
    r.findings = diagnose(r, NOW);
    const text = renderDomain(r);
    const lines = text.split('\n');
    const verdictAt = lines.findIndex((l) => l.startsWith('  verdict:'));
    expect(lines.slice(verdictAt + 1)).toEqual([`  fix: advice no-rollover-slack (mx.example.test): ${r.findings[0]!.message}`]);
  });

  it('prints nothing extra without findings', () => {
    expect(renderDomain(result({ findings: [] }))).not.toContain('fix:');
  });
});

// ------------------------------------------------------------------ RRSIG expiration from the wire

const rrsig = (name: string, typeCovered: string, expiration: number): dnsPacket.Answer => ({
  type: 'RRSIG',
  name,
  ttl: 300,
  data: { typeCovered, algorithm: 13, labels: 2, originalTTL: 300, expiration, inception: expiration - 30 * 86400, keyTag: 1234, signersName: 'example.test', signature: Buffer.alloc(64, 1) },
});

function wire(answers: dnsPacket.Answer[], qname: string, qtype: dnsPacket.RecordType) {
  const buf = dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.AUTHENTIC_DATA | dnsPacket.RECURSION_AVAILABLE, questions: [{ type: qtype, name: qname }], answers });
  return parseMessage(Buffer.from(buf));
}

describe('signatureExpires (RRSIG, RFC 4034 §3.1.5)', () => {
  const nowSec = Math.floor(NOW.getTime() / 1000);

  it('is the earliest RRSIG expiration over the answer RRset, ignoring other types and names', () => {
    const msg = wire(
      [
        { type: 'MX', name: 'example.test', ttl: 300, data: { preference: 10, exchange: 'mx.example.test' } },
        rrsig('example.test', 'MX', nowSec + 5 * 86400),
        rrsig('example.test', 'MX', nowSec + 9 * 86400),
        rrsig('example.test', 'A', nowSec + 86400),
        rrsig('other.test', 'MX', nowSec + 3600),
      ],
      'example.test',
      'MX',
    );
    const a = answerFromMessage(msg, 'example.test', 'MX', NOW);
    expect(a.signatureExpires).toBe(at(5));
    expect(reportAnswer(a).signatureExpires).toBe(at(5));
  });

  it('counts the CNAME RRSIGs of the chain', () => {
    const msg = wire(
      [
        { type: 'CNAME', name: 'mx.example.test', ttl: 300, data: 'srv.example.net' },
        rrsig('mx.example.test', 'CNAME', nowSec + 2 * 86400),
        { type: 'A', name: 'srv.example.net', ttl: 300, data: '192.0.2.1' },
        rrsig('srv.example.net', 'A', nowSec + 20 * 86400),
      ],
      'mx.example.test',
      'A',
    );
    expect(answerFromMessage(msg, 'mx.example.test', 'A', NOW).signatureExpires).toBe(at(2));
  });

  it('is absent without RRSIGs (answers unchanged for non-DNSSEC data)', () => {
    const msg = wire([{ type: 'A', name: 'example.test', ttl: 300, data: '192.0.2.1' }], 'example.test', 'A');
    const a = answerFromMessage(msg, 'example.test', 'A', NOW);
    expect('signatureExpires' in a).toBe(false);
    expect('signatureExpires' in reportAnswer(a)).toBe(false);
  });

  it('uses serial-number arithmetic across the 2106 wrap of the 32-bit field (RFC 1982)', () => {
    const after = new Date(Date.UTC(2106, 1, 7, 0, 0, 0)); // shortly before 2^32 seconds
    const afterSec = Math.floor(after.getTime() / 1000);
    const expiration = (afterSec + 10 * 86400) % 2 ** 32; // wrapped to a small number
    expect(expiration).toBeLessThan(afterSec);
    const recs = [{ name: 'example.test', type: 46, class: 1, ttl: 300, data: rrsigRdata(1, expiration) }];
    expect(earliestSignatureExpiration(recs, [{ name: 'example.test', type: 1 }], after)).toBe(new Date((afterSec + 10 * 86400) * 1000).toISOString());
    // And an expiration in the recent past stays in the past.
    const past = [{ name: 'example.test', type: 46, class: 1, ttl: 300, data: rrsigRdata(1, nowSec - 3600) }];
    expect(earliestSignatureExpiration(past, [{ name: 'example.test', type: 1 }], NOW)).toBe(new Date((nowSec - 3600) * 1000).toISOString());
    // Malformed (short) RRSIG RDATA is skipped.
    expect(earliestSignatureExpiration([{ name: 'example.test', type: 46, class: 1, ttl: 300, data: Buffer.alloc(10) }], [{ name: 'example.test', type: 1 }], NOW)).toBeUndefined();
  });
});

function rrsigRdata(typeCovered: number, expiration: number): Buffer {
  const b = Buffer.alloc(18 + 13 + 64);
  b.writeUInt16BE(typeCovered, 0);
  b.writeUInt32BE(expiration >>> 0, 8);
  return b;
}

describe('signatureExpires through the StubResolver', () => {
  const servers: ScriptedDnsServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('is filled from the RRSIGs of a DO answer', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3 * 86400;
    const s = await ScriptedDnsServer.start((q) =>
      reply(q, {
        ad: true,
        answers: [{ type: 'TLSA', name: '_25._tcp.mx.example.test', ttl: 300, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) } }, rrsig('_25._tcp.mx.example.test', 'TLSA', exp)],
      }),
    );
    servers.push(s);
    const a = await new StubResolver({ server: s.address, port: s.port, timeoutMs: 1500 }).lookup('_25._tcp.mx.example.test', 'TLSA');
    expect(a.status).toBe('data');
    expect(a.signatureExpires).toBe(new Date(exp * 1000).toISOString());
  });
});

// ------------------------------------------------------------------ runAll with real chains

describe('runAll attaches findings (real chains through authenticate)', () => {
  let current: Chain;
  let renewed: Chain;
  beforeAll(async () => {
    [current, renewed] = await Promise.all([makeChain({ leafCn: 'mx.example.test' }), makeChain({ leafCn: 'mx.example.test' })]);
  });
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

  async function check(table: Record<string, FixtureAnswer>, chain: Buffer[]): Promise<DomainResult> {
    const resolver = new FixtureResolver({
      ' SOA': { proof: 'secure', records: [{}] },
      'example.test MX': { proof: 'secure', records: [mx(10, 'mx.example.test')] },
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'] },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata' },
      ...table,
    });
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      const served = servedTls('TLSv1.3', 'TLS_AES_128_GCM_SHA256', chain);
      const c = o.checkTls ? o.checkTls(served) : { ok: true as const };
      if (!c.ok) return { outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'AUTHENTICATION', message: c.reason } };
      return { outcome: 'ok', tls: true, extensions: {}, served };
    };
    const options: RunOptions = { resolver, port: 25, helo: 'client.test', timeoutMs: 1000, session: session as RunOptions['session'] };
    const [r] = await runAll([{ domain: 'example.test', job: { kind: 'probe' } }], options);
    return r!;
  }

  it('key rollover error: tlsa-no-match names the new key', async () => {
    const r = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [{ usage: 3, selector: 1, matchingType: 1, data: sha256(current.leaf.spkiDer) }] } }, [renewed.leaf.der, renewed.intermediate.der]);
    expect(r.verdict).toBe('tempfail');
    expect(r.findings?.map((f) => f.code)).toEqual(['tlsa-no-match']);
    expect(r.findings?.[0]?.message).toContain(sha256(renewed.leaf.spkiDer).toString('hex'));
  });

  it('DANE-TA anchor not served: ta-not-served', async () => {
    const r = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [{ usage: 2, selector: 0, matchingType: 1, data: sha256(current.root.der) }] } }, [current.leaf.der, current.intermediate.der]);
    expect(r.findings?.map((f) => f.code)).toEqual(['ta-not-served']);
  });

  it('DANE-TA leaf naming another host: ta-name-mismatch', async () => {
    const other = await makeChain({ leafCn: 'mx.elsewhere.test' });
    const r = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [{ usage: 2, selector: 1, matchingType: 1, data: sha256(other.intermediate.spkiDer) }] } }, [other.leaf.der, other.intermediate.der]);
    expect(r.findings?.map((f) => f.code)).toEqual(['ta-name-mismatch']);
  });

  it('3 1 1 of the current key and 3 0 1 of the current certificate: no-rollover-slack; a record for the next key or a DANE-TA record gives slack', async () => {
    const ee = (selector: number, der: Buffer) => ({ usage: 3, selector, matchingType: 1, data: sha256(der) });
    const served = [current.leaf.der, current.intermediate.der];
    const both = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [ee(1, current.leaf.spkiDer), ee(0, current.leaf.der), { usage: 3, selector: 1, matchingType: 0, data: current.leaf.spkiDer }] } }, served);
    expect(both.verdict).toBe('dane-authenticated');
    expect(both.findings).toMatchObject([{ code: 'no-rollover-slack', severity: 'advice', host: 'mx.example.test' }]);
    expect(both.findings?.[0]?.message).toContain('all 3 usable TLSA records');
    const next = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [ee(1, current.leaf.spkiDer), ee(0, current.leaf.der), ee(1, renewed.leaf.spkiDer)] } }, served);
    expect(next.findings).toEqual([]);
    const ta = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [ee(1, current.leaf.spkiDer), { usage: 2, selector: 1, matchingType: 1, data: sha256(current.intermediate.spkiDer) }] } }, served);
    expect(ta.findings).toEqual([]);
  });

  it('a single matching 3 1 1: no-rollover-slack only', async () => {
    const r = await check({ '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [{ usage: 3, selector: 1, matchingType: 1, data: sha256(current.leaf.spkiDer) }] } }, [current.leaf.der, current.intermediate.der]);
    expect(r.verdict).toBe('dane-authenticated');
    expect(r.findings).toMatchObject([{ code: 'no-rollover-slack', severity: 'advice' }]);
  });
});
