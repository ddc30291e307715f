/**
 * Tests written from a mutation-testing audit of the DNS, MX and per-host planning rules
 * (RFC 7672 §2.1-§2.2.3, RFC 7505, RFC 5321 §5.1, the local policy levels): each case here
 * fails on a mutant of src/core/rfc7672/host.ts, src/engine/*.ts or src/dns/*.ts that the rest
 * of the suite let through. Declarative DNS fixtures, a scripted SMTP session.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decideMx, type MxHost } from '../../src/core/rfc7672/mx.js';
import { planHost } from '../../src/engine/host-plan.js';
import { processDestination, type DestinationOptions } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import { exitCodeOf } from '../../src/core/outcome.js';
import { runAll } from '../../src/engine/run.js';
import { lookupPolicy, parsePolicyTable, type PolicyEntry } from '../../src/policy/table.js';
import { probeValidation } from '../../src/dns/probe.js';
import { D32, FixtureResolver, mx, tlsa, type FixtureAnswer } from '../support/fixture-resolver.js';
import { scriptedSession, type Behaviour, type Call } from '../support/scripted-session.js';
import { makeChain, type Chain } from '../support/pki.js';



let good: Chain;
const spki311 = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.leaf.spkiDer).digest() });
beforeAll(async () => {
  good = await makeChain({ leafCn: 'mx1.example.test' });
});

const secure = (records: unknown[], extra: Partial<FixtureAnswer> = {}): FixtureAnswer => ({ proof: 'secure', records, ...extra });
const nodata = (proof: 'secure' | 'insecure' = 'secure'): FixtureAnswer => ({ proof, status: 'nodata' });
const bogus: FixtureAnswer = { proof: 'bogus', status: 'failed', reason: 'SERVFAIL (EDE 6: DNSSEC Bogus)' };
const servfail: FixtureAnswer = { proof: 'indeterminate', status: 'failed', reason: 'SERVFAIL' };

const policy = (level: PolicyEntry['level']): PolicyEntry => ({ level, match: [], fingerprints: [], source: 'test:1' });

async function run(table: Record<string, FixtureAnswer>, behaviours: Record<string, Behaviour>, extra: Partial<DestinationOptions> = {}, job: Job = { kind: 'probe' }) {
  const resolver = new FixtureResolver(table);
  const calls: Call[] = [];
  const result = await processDestination('example.test', job, {
    resolver, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, calls), ...extra,
  });
  return { result, calls, asked: resolver.asked };
}

/** Two MX hosts, both with secure addresses; callers add the rest. */
const twoMx = {
  'example.test MX': secure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]),
  'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': nodata(),
  'mx2.example.test A': secure(['192.0.2.2']), 'mx2.example.test AAAA': nodata(),
};

describe('MX RRset security (RFC 7672 §2.2.1)', () => {
  // RFC 7672 §2.2.1: DANE applies only when the MX RRset — or, for an implicit MX, the
  // NODATA proof — is secure. An insecure NODATA must not become a secure implicit MX.
  it('an insecure NODATA keeps its proof: implicit MX, opportunistic, no TLSA lookup', async () => {
    const d = decideMx('example.test', await new FixtureResolver({ 'example.test MX': nodata('insecure') }).lookup('example.test', 'MX'));
    expect(d).toMatchObject({ kind: 'hosts', mxProof: 'insecure', hosts: [{ name: 'example.test', implicit: true }] });
    const { result, asked } = await run(
      { 'example.test MX': nodata('insecure'), 'example.test A': secure(['192.0.2.7']), 'example.test AAAA': nodata(), '_25._tcp.example.test TLSA': secure([tlsa(3, 1, 1, D32)]) },
      { '192.0.2.7': { kind: 'no-starttls' } },
    );
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'example.test' });
    expect(asked).not.toContain('_25._tcp.example.test TLSA');
  });

  // RFC 7672 §2.2.1: the option to use DANE for a host whose own records are secure
  // behind an insecure MX RRset reaches the per-host planning from the delivery options.
  it('insecure MX with the daneWithInsecureMx option: DANE for a secure host', async () => {
    const table = { ...twoMx, 'example.test MX': { proof: 'insecure' as const, records: [mx(10, 'mx1.example.test')] }, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) };
    const off = await run(table, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(off.result).toMatchObject({ verdict: 'opportunistic', host: 'mx1.example.test' });
    const on = await run(table, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, { daneWithInsecureMx: true });
    expect(on.result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx1.example.test' });
    expect(on.calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mx1.example.test', job: 'probe' }]);
  });

  // RFC 7672 §2.2.1 (and §2.1: an insecure answer is not a failure, a failure is never
  // insecure): through a resolver that failed the validation probe, a SERVFAIL on the MX
  // RRset still defers; it is not turned into an insecure "no MX".
  it('non-validating resolver: a failed MX lookup still defers, nothing connected', async () => {
    const calls: Call[] = [];
    const resolver = new FixtureResolver({ ' SOA': { proof: 'insecure', records: [{}] }, 'example.test MX': servfail, 'example.test A': { proof: 'insecure', records: ['192.0.2.7'] }, 'example.test AAAA': nodata('insecure') });
    const [result] = await runAll([{ domain: 'example.test', job: { kind: 'probe' } }], {
      resolver, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
      session: scriptedSession({ '192.0.2.7': { kind: 'no-starttls' } }, calls),
    });
    expect(result).toMatchObject({ resolverValidates: false, verdict: 'tempfail' });
    expect(calls).toHaveLength(0);
  });
});

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

describe('the TLSA base domain is the SNI (RFC 7672 §2.2.2, §8.1)', () => {
  const chain = ['mx1.example.test', 'mail.hoster.test'];
  const cnamed = {
    'example.test MX': secure([mx(10, 'mx1.example.test')]),
    'mx1.example.test A': secure(['192.0.2.1'], { cnameChain: chain }),
    'mx1.example.test AAAA': { proof: 'secure' as const, status: 'nodata' as const, cnameChain: chain },
  };
  // RFC 7672 §8.1: the client sends the TLSA base domain as SNI; with a secure CNAME chain
  // and TLSA at the expanded name, that is the expanded name, not the MX host name.
  it('DANE: TLSA found at the expanded name → SNI is the expanded name', async () => {
    const { result, calls } = await run({ ...cnamed, '_25._tcp.mail.hoster.test TLSA': secure([spki311(good)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx1.example.test' });
    expect(result.hosts[0]!.tlsaBase).toBe('mail.hoster.test');
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mail.hoster.test', job: 'probe' }]);
  });
  // RFC 7672 §2.2 with §8.1: a secure TLSA RRset of only unusable records still names the
  // TLSA base domain; TLS is mandatory (unauthenticated) and SNI is that base domain.
  it('only unusable TLSA at the expanded name → TLS required, SNI is the expanded name', async () => {
    const { result, calls } = await run({ ...cnamed, '_25._tcp.mail.hoster.test TLSA': secure([tlsa(1, 1, 1, D32)]) }, { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'encrypt-unauthenticated' });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mail.hoster.test', job: 'probe' }]);
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

describe('the resolver probe (RFC 7672 §2.1)', () => {
  // The probe must see the signed root SOA itself with AD set; an "authenticated" NODATA
  // for the root SOA (which always exists) is not a validating resolver.
  it('only secure SOA data at the root counts as validating', async () => {
    expect(await probeValidation(new FixtureResolver({ ' SOA': { proof: 'secure', records: [{}] } }))).toMatchObject({ validates: true, reachable: true });
    expect(await probeValidation(new FixtureResolver({ ' SOA': { proof: 'secure', status: 'nodata' } }))).toMatchObject({ validates: false });
  });
});
