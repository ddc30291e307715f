import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { processDestination, type DestinationOptions } from '../../../src/engine/destination.js';
import { type Job } from '../../../src/smtp/types.js';
import { exitCodeOf } from '../../../src/core/outcome.js';
import { runAll } from '../../../src/engine/run.js';
import { FixtureResolver, mx, type FixtureAnswer } from '../../support/fixture-resolver.js';
import { scriptedSession, type Behaviour, type Call } from '../../support/scripted-session.js';
import { makeChain, type Chain } from '../../support/pki.js';




let good: Chain;
let other: Chain;
const spki311 = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.leaf.spkiDer).digest() });
beforeAll(async () => {
  [good, other] = await Promise.all([makeChain({ leafCn: 'mx1.example.test' }), makeChain({ leafCn: 'mx2.example.test' })]);
});

const secure = (records: unknown[]): FixtureAnswer => ({ proof: 'secure', records });
const nodata: FixtureAnswer = { proof: 'secure', status: 'nodata' };

function world(table: Record<string, FixtureAnswer>) {
  return new FixtureResolver({ 'mx1.example.test AAAA': nodata, 'mx2.example.test AAAA': nodata, ...table });
}

async function run(resolver: FixtureResolver, behaviours: Record<string, Behaviour>, job: Job = { kind: 'probe' }, extra: Partial<DestinationOptions> = {}) {
  const calls: Call[] = [];
  const result = await processDestination('example.test', job, {
    resolver, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, calls), ...extra,
  });
  return { result, calls };
}

const twoMx = { 'example.test MX': secure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]), 'mx1.example.test A': secure(['192.0.2.1']), 'mx2.example.test A': secure(['192.0.2.2']) };

describe('delivery loop (RFC 7672 §2.2: MX order over security)', () => {
  it('DANE host authenticated', async () => {
    const { result, calls } = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) }), { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx1.example.test', address: '192.0.2.1', tls: true });
    expect(calls).toEqual([{ address: '192.0.2.1', tls: 'required', servername: 'mx1.example.test', job: 'probe' }]);
    expect(result.hosts[0]!.attempts[0]!.authentication).toMatchObject({ ok: true, usage: 'DANE-EE', depth: 0 });
    expect(exitCodeOf([result], 'check')).toBe(0);
  });
  it('DANE-TA with the anchor from a 2 0 0 record (not served): authenticated, the result says where the anchor came from', async () => {
    const ta200 = { usage: 2, selector: 0, matchingType: 0, data: good.intermediate.der };
    const { result } = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([ta200]) }), { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx1.example.test' });
    expect(result.hosts[0]!.attempts[0]!.authentication).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 1, anchor: 'tlsa-record', matchedName: 'mx1.example.test' });
  });
  it('primary fails DANE → secondary used, with its own verdict', async () => {
    const { result, calls } = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) }), {
      '192.0.2.1': { kind: 'tls', chain: [other.leaf.der] },
      '192.0.2.2': { kind: 'tls', chain: [other.leaf.der] },
    });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test' });
    expect(result.hosts[0]).toMatchObject({ status: 'failed', level: 'dane' });
    expect(calls.map((c) => c.address)).toEqual(['192.0.2.1', '192.0.2.2']);
  });
  it('a DANE-only secondary does not outrank a working primary', async () => {
    const { result, calls } = await run(world({ ...twoMx, '_25._tcp.mx2.example.test TLSA': secure([spki311(other)]) }), {
      '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'tls', chain: [other.leaf.der] },
    });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx1.example.test', tls: false });
    expect(calls).toHaveLength(1);
  });
  it('DANE host without STARTTLS fails, never plaintext; all failed → tempfail (75)', async () => {
    const { result, calls } = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]), '_25._tcp.mx2.example.test TLSA': secure([spki311(other)]) }), {
      '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'tls-fails' },
    });
    expect(result).toMatchObject({ verdict: 'tempfail', host: null });
    expect(calls.every((c) => c.tls === 'required')).toBe(true);
    expect(exitCodeOf([result], 'check')).toBe(75);
  });
  it('encrypt level (only unusable records) still requires TLS', async () => {
    const { result, calls } = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([{ ...spki311(good), usage: 1 }]) }), {
      '192.0.2.1': { kind: 'tls', chain: [other.leaf.der] },
    });
    expect(result).toMatchObject({ verdict: 'encrypt-unauthenticated', host: 'mx1.example.test' });
    expect(calls[0]!.tls).toBe('required');
  });
  it('opportunistic host: TLS failure is retried in plaintext (Postfix "may")', async () => {
    const { result, calls } = await run(world({ ...twoMx, 'example.test MX': { proof: 'insecure', records: [mx(10, 'mx1.example.test')] } }), { '192.0.2.1': { kind: 'tls-fails' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', tls: false });
    expect(calls.map((c) => c.tls)).toEqual(['may', 'none']);
  });
  it('null MX: undeliverable (69), nothing connected', async () => {
    const { result, calls } = await run(world({ 'example.test MX': secure([mx(0, '')]), 'example.test A': secure(['192.0.2.9']) }), { '192.0.2.9': { kind: 'no-starttls' } });
    expect(result.verdict).toBe('undeliverable');
    expect(calls).toHaveLength(0);
    expect(exitCodeOf([result], 'check')).toBe(69);
  });
  it('no MX host has an address: undeliverable', async () => {
    const { result } = await run(world({ 'example.test MX': secure([mx(10, 'mx1.example.test')]), 'mx1.example.test A': nodata }), {});
    expect(result.verdict).toBe('undeliverable');
  });
  it('implicit MX: host is the domain itself', async () => {
    const { result } = await run(world({ 'example.test MX': nodata, 'example.test A': secure(['192.0.2.7']), 'example.test AAAA': nodata }), { '192.0.2.7': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'example.test' });
  });
  it('--all probes every host, the verdict stays the first usable one', async () => {
    const { result, calls } = await run(world(twoMx), { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } }, { kind: 'probe' }, { all: true });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx1.example.test' });
    expect(calls).toHaveLength(2);
    expect(result.hosts.map((h) => h.status)).toEqual(['used', 'probed']);
  });
  it('send: recipients from the session; tempfail defers them', async () => {
    const job: Job = { kind: 'send', envelope: { from: 'a@client.test', to: ['u@example.test'], message: Buffer.from('x') } };
    const ok = await run(world({ ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]) }), { '192.0.2.1': { kind: 'tls', chain: [good.leaf.der] } }, job);
    expect(ok.result.recipients).toEqual([{ address: 'u@example.test', status: 'delivered', reply: '250 ok', host: 'mx1.example.test' }]);
    expect(exitCodeOf([ok.result], 'send')).toBe(0);
  });
  it('bogus MX: tempfail without any connection', async () => {
    const { result, calls } = await run(world({ 'example.test MX': { proof: 'bogus', status: 'failed', reason: 'EDE 6' } }), {});
    expect(result.verdict).toBe('tempfail');
    expect(calls).toHaveLength(0);
  });
});

describe('the resolver probe (RFC 7672 §2.1)', () => {
  const dane = { ...twoMx, '_25._tcp.mx1.example.test TLSA': secure([]) };
  async function runWithProbe(probe: FixtureAnswer) {
    const calls: Call[] = [];
    const resolver = world({ ...dane, '_25._tcp.mx1.example.test TLSA': secure([spki311(good)]), ' SOA': probe });
    const [result] = await runAll([{ domain: 'example.test', job: { kind: 'probe' } }], {
      resolver, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
      session: scriptedSession({ '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'no-starttls' } }, calls),
    });
    return { result: result!, calls };
  }
  it('a validating resolver: DANE applies (the DANE host without STARTTLS is skipped)', async () => {
    const { result } = await runWithProbe({ proof: 'secure', records: [{}] });
    expect(result).toMatchObject({ resolverValidates: true, verdict: 'opportunistic', host: 'mx2.example.test' });
  });
  it('a non-validating resolver: DANE is off, nothing better than opportunistic', async () => {
    const { result } = await runWithProbe({ proof: 'insecure', records: [{}] });
    expect(result).toMatchObject({ resolverValidates: false, verdict: 'opportunistic', host: 'mx1.example.test' });
  });
  it('a probe that fails (SERVFAIL): everything deferred, nothing connected — never downgraded to insecure', async () => {
    const { result, calls } = await runWithProbe({ proof: 'indeterminate', status: 'failed', reason: 'SERVFAIL' });
    expect(result).toMatchObject({ verdict: 'tempfail', deferredEarly: 'resolver' });
    expect(calls).toHaveLength(0);
  });
});

describe('recipients', () => {
  it('are grouped per domain; the domain compares case-insensitively, each address once', async () => {
    const { groupRecipients } = await import('../../../src/engine/recipients.js');
    const fail = (a: string): never => {
      throw new Error(a);
    };
    expect([...groupRecipients(['bob@Example.TEST', 'bob@example.test', 'Bob@example.test', 'x@other.test'], fail)]).toEqual([
      ['example.test', ['bob@Example.TEST', 'Bob@example.test']],
      ['other.test', ['x@other.test']],
    ]);
    expect(() => groupRecipients(['not an address'], fail)).toThrow('not an address');
  });
});

describe('library arguments', () => {
  it('a bad option is a USAGE error before anything happens, never a silent DANE-off', async () => {
    const { check } = await import('../../../src/api.js');
    const resolver = world({});
    for (const bad of [{ level: 'DANE' }, { port: 0 }, { timeoutMs: -5 }, { helo: 'bad name' }, { localAddress: 'nope' }]) {
      await expect(check('example.test', { resolver, helo: 'client.test', ...bad } as never)).rejects.toMatchObject({ code: 'USAGE' });
    }
    expect(resolver.asked).toEqual([]);
  });
});
