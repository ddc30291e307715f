/**
 * Operator-facing wording of the verdict reason and the findings: the resolver's error text
 * is said once however many lookups or EDE options repeat it, and a backup MX host's reason
 * says that the more-preferred host failed first.
 */
import { describe, expect, it } from 'vitest';
import { processDestination, type DestinationOptions } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import { diagnose } from '../../src/core/findings.js';
import { plain, renderDomain } from '../../src/cli/human.js';
import { collapseOrigins, describeExtendedErrors } from '../../src/dns/wire.js';
import { FixtureResolver, mx, twoInsecureMx, type FixtureAnswer } from '../support/fixture-resolver.js';
import { scriptedSession, type Behaviour } from '../support/scripted-session.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

// What Unbound sends for a bogus answer it asked one server for several times.
const UNBOUND_TEXT = 'validation failure <mx1.example.test. A IN>: signature expired from 127.0.0.53 and 127.0.0.53 and 127.0.0.53 for key example.test. while building chain of trust';
const EDE7 = 'SERVFAIL (EDE 7: signature expired "validation failure <mx1.example.test. A IN>: signature expired from 127.0.0.53 for key example.test. while building chain of trust")';

async function run(resolver: FixtureResolver, behaviours: Record<string, Behaviour>, extra: Partial<DestinationOptions> = {}, job: Job = { kind: 'probe' }) {
  return processDestination('example.test', job, {
    resolver, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, []), ...extra,
  });
}

describe('the resolver text once', () => {
  it('a "from A and A and B" origin list names each origin once; other text is left alone', () => {
    expect(collapseOrigins(UNBOUND_TEXT)).toBe('validation failure <mx1.example.test. A IN>: signature expired from 127.0.0.53 for key example.test. while building chain of trust');
    expect(collapseOrigins('x from 192.0.2.1 port 53 and cache and 192.0.2.1 port 53 and ::1 and ::1; y')).toBe('x from 192.0.2.1 port 53 and cache and ::1; y');
    expect(collapseOrigins('from here and there and there')).toBe('from here and there and there');
  });

  it('the same EDE option twice is described once; distinct ones all stay', () => {
    const e7 = { infoCode: 7, extraText: 'for example.test' };
    expect(describeExtendedErrors([e7, e7, { ...e7 }])).toBe(' (EDE 7: signature expired "for example.test")');
    expect(describeExtendedErrors([e7, { infoCode: 22, extraText: '' }, e7])).toBe(' (EDE 7: signature expired "for example.test"; EDE 22: no reachable authority)');
    expect(describeExtendedErrors([])).toBe('');
  });

  it('A and AAAA bogus alike: one finding and one host failure, each with the text once; the backup host is used', async () => {
    const bogus: FixtureAnswer = { proof: 'bogus', status: 'failed', reason: EDE7 };
    const secure = (records: unknown[]): FixtureAnswer => ({ proof: 'secure', records });
    const resolver = new FixtureResolver({
      'example.test MX': secure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]),
      'mx1.example.test A': bogus,
      'mx1.example.test AAAA': bogus,
      'mx2.example.test A': secure(['192.0.2.2']),
      'mx2.example.test AAAA': { proof: 'secure', status: 'nodata' },
    });
    const result = await run(resolver, { '192.0.2.2': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test' });
    expect(result.hosts[0]!.failure).toBe(`address lookups mx1.example.test A and AAAA failed (bogus: ${EDE7})`);
    const findings = diagnose(result, NOW);
    const bogusFindings = findings.filter((f) => f.code === 'dns-bogus');
    expect(bogusFindings).toHaveLength(1);
    expect(bogusFindings[0]!.message).toMatch(/^the A and AAAA RRsets of mx1\.example\.test are bogus \(SERVFAIL \(EDE 7: /);
    const text = renderDomain({ ...result, findings }, plain);
    const fixLines = text.split('\n').filter((l) => l.startsWith('  fix: '));
    expect(fixLines.filter((l) => l.includes('while building chain of trust'))).toHaveLength(1);
    for (const l of fixLines) expect(count(l, 'while building chain of trust')).toBeLessThanOrEqual(1);
    // The reason says the primary failed, shortly.
    expect(result.reason).toMatch(/; mx1\.example\.test \(preference 10\) failed first: address lookups mx1\.example\.test A and AAAA failed \(bogus: SERVFAIL .{0,60}…$/);
    expect(count(result.reason, 'EDE 7')).toBeLessThanOrEqual(1);
  });

  it('A and AAAA failed differently: both texts stay', async () => {
    const resolver = new FixtureResolver({
      'example.test MX': { proof: 'secure', records: [mx(10, 'mx1.example.test')] },
      'mx1.example.test A': { proof: 'bogus', status: 'failed', reason: 'SERVFAIL (EDE 6: DNSSEC bogus)' },
      'mx1.example.test AAAA': { proof: 'indeterminate', status: 'failed', reason: 'SERVFAIL (EDE 22: no reachable authority)' },
    });
    const result = await run(resolver, {});
    expect(result.hosts[0]!.failure).toBe('address lookups mx1.example.test A and AAAA failed (A: bogus: SERVFAIL (EDE 6: DNSSEC bogus); AAAA: indeterminate: SERVFAIL (EDE 22: no reachable authority))');
    expect(diagnose(result, NOW).map((f) => f.code)).toEqual(['dns-bogus', 'dns-indeterminate']);
  });
});

describe('a backup MX host: the reason says the primary failed first', () => {
  const world = twoInsecureMx();

  it('primary refuses connections: the reason names it with its preference and why', async () => {
    const result = await run(world, { '192.0.2.1': { kind: 'down' }, '192.0.2.2': { kind: 'no-starttls' } });
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test' });
    expect(result.reason).toBe('plaintext to mx2.example.test; the MX RRset of example.test is insecure: DANE does not apply (RFC 7672 §2.2.1); mx1.example.test (preference 10) failed first: connection refused');
  });

  it('the primary works: nothing is added, nor for the hosts probed after it with --all', async () => {
    const first = await run(world, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'down' } });
    expect(first.reason).not.toMatch(/failed first/);
    const all = await run(world, { '192.0.2.1': { kind: 'no-starttls' }, '192.0.2.2': { kind: 'down' } }, { all: true });
    expect(all.hosts.map((h) => h.status)).toEqual(['used', 'failed']);
    expect(all.reason).toBe(first.reason);
  });

  it('a send the primary deferred (451) and the backup delivered', async () => {
    const job: Job = { kind: 'send', envelope: { from: 'a@client.test', to: ['x@example.test'], message: Buffer.from('Subject: t\r\n\r\nhi\r\n') } };
    const result = await run(world, { '192.0.2.1': { kind: 'mail-reply', reply: '451 4.3.0 try later' }, '192.0.2.2': { kind: 'no-starttls' } }, {}, job);
    expect(result).toMatchObject({ host: 'mx2.example.test', recipients: [{ status: 'delivered', host: 'mx2.example.test' }] });
    expect(result.reason).toMatch(/; mx1\.example\.test \(preference 10\) failed first: refused: 451 4\.3\.0 try later$/);
  });
});
