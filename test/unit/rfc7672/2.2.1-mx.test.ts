/**
 * RFC 7672 §2.2.1 (MX resolution), RFC 5321 §5.1: the MX RRset and its proof, MX host names as
 * written, the implicit MX after an MX CNAME.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { decideMx } from '../../../src/core/rfc7672/mx.js';
import { D32, FixtureResolver, mx, tlsa } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';
import { secure, nodata, deliverTo, eeRecord, spki311, servfail, run, twoMx } from '../../support/destination-fixtures.js';
import { runAll } from '../../../src/engine/run.js';
import { scriptedSession, type Call } from '../../support/scripted-session.js';

let good: Chain;

beforeAll(async () => {
  good = await makeChain({ leafCn: 'mx1.example.test' });
});

describe('MX host names (RFC 7672 §2.2.1, RFC 5321 §5.1)', () => {
  it('an MX exchange written as an IP address is looked up as a name, never connected to as a literal', async () => {
    const { result, calls } = await deliverTo({ 'example.test MX': secure([mx(10, '192.0.2.1')]) }, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result.verdict).toBe('undeliverable');
    expect(calls).toEqual([]);
  });
  it('upper case and a trailing dot in an exchange: TLSA owner and SNI use the normalised name', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test' });
    const { result, calls, asked } = await deliverTo({
      'example.test MX': secure([mx(10, 'MX.Example.TEST.')]),
      'mx.example.test A': secure(['192.0.2.1']), 'mx.example.test AAAA': nodata(),
      '_25._tcp.mx.example.test TLSA': secure([eeRecord(c)]),
    }, { '192.0.2.1': { kind: 'tls', chain: [c.leaf.der] } });
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.example.test' });
    expect(asked).toContain('_25._tcp.mx.example.test TLSA');
    expect(calls[0]!.servername).toBe('mx.example.test');
  });
  it('a bogus MX RRset behind a CNAME defers (the proof covers the chain)', async () => {
    const r = new FixtureResolver({ 'example.test MX': { proof: 'bogus', status: 'failed', cnameChain: ['example.test', 'example.net'] } });
    expect(decideMx('example.test', await r.lookup('example.test', 'MX'))).toMatchObject({ kind: 'tempfail' });
  });
  it('an insecure CNAME leading to a secure MX RRset: the MX RRset counts as insecure (no TLSA lookups)', async () => {
    const { result, asked } = await deliverTo({
      'example.test MX': { proof: 'insecure', records: [mx(10, 'mx.example.net')], cnameChain: ['example.test', 'example.net'] },
      'mx.example.net A': secure(['192.0.2.1']), 'mx.example.net AAAA': nodata(),
      '_25._tcp.mx.example.net TLSA': secure([tlsa(3, 1, 1, D32)]),
    }, { '192.0.2.1': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', tls: false });
    expect(asked.some((q) => q.endsWith('TLSA'))).toBe(false);
  });
});

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

describe('RFC 7672 §2.2.1 / RFC 5321 §5.1: the implicit MX after an MX CNAME', () => {
  it('X2 RFC 5321 §5.1 / RFC 7672 §2.2.1: implicit MX after an MX CNAME is the CNAME target', async () => {
    const r = new FixtureResolver({ 'example.test MX': { proof: 'secure', status: 'nodata', cnameChain: ['example.test', 'example.net'] } });
    expect(decideMx('example.test', await r.lookup('example.test', 'MX'))).toMatchObject({ kind: 'hosts', hosts: [{ name: 'example.net', implicit: true }] });
  });
});
