/**
 * One destination through declarative DNS (FixtureResolver) and scripted SMTP sessions, as the
 * RFC 7672 rule tests (test/unit/rfc7672/, policy/levels) use it: answers, policy entries,
 * TLSA records of a chain, and `deliverTo`/`run`, which runs processDestination for
 * example.test and returns the result, the sessions opened and the DNS questions asked.
 */
import { createHash } from 'node:crypto';
import type { MxHost } from '../../src/core/rfc7672/mx.js';
import { processDestination, type DestinationOptions } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import type { PolicyEntry } from '../../src/policy/table.js';
import { FixtureResolver, mx, type FixtureAnswer } from './fixture-resolver.js';
import { scriptedSession, type Behaviour, type Call } from './scripted-session.js';
import type { Chain } from './pki.js';

export const host = (name: string): MxHost => ({ name, preference: 10, implicit: false });
/** A secure answer; the second argument is a CNAME chain or more fields of the answer. */
export const secure = (records: unknown[], more?: string[] | Partial<FixtureAnswer>): FixtureAnswer =>
  Array.isArray(more) ? { proof: 'secure', records, cnameChain: more } : { proof: 'secure', records, ...more };
export const nodata = (proof: 'secure' | 'insecure' = 'secure', cnameChain?: string[]): FixtureAnswer => (cnameChain ? { proof, status: 'nodata', cnameChain } : { proof, status: 'nodata' });
export const bogus: FixtureAnswer = { proof: 'bogus', status: 'failed', reason: 'SERVFAIL (EDE 6: DNSSEC Bogus)' };
export const servfail: FixtureAnswer = { proof: 'indeterminate', status: 'failed', reason: 'SERVFAIL' };
export const opts = { port: 25 };

export const policy = (level: PolicyEntry['level']): PolicyEntry => ({ level, match: [], fingerprints: [], source: 'test:1' });

export async function deliverTo(table: Record<string, FixtureAnswer>, behaviours: Record<string, Behaviour>, extra: Partial<DestinationOptions> = {}, job: Job = { kind: 'probe' }) {
  const calls: Call[] = [];
  const resolver = new FixtureResolver(table);
  const result = await processDestination('example.test', job, {
    resolver, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, calls), ...extra,
  });
  return { result, calls, asked: resolver.asked };
}
export const run = deliverTo;

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
export const taRecord = (c: Chain) => ({ usage: 2, selector: 1, matchingType: 1, data: sha256(c.intermediate.spkiDer) });
export const eeRecord = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: sha256(c.leaf.spkiDer) });
export const spki311 = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.leaf.spkiDer).digest() });

/** Two MX hosts, both with secure addresses; callers add the rest. */
export const twoMx = {
  'example.test MX': secure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]),
  'mx1.example.test A': secure(['192.0.2.1']), 'mx1.example.test AAAA': nodata(),
  'mx2.example.test A': secure(['192.0.2.2']), 'mx2.example.test AAAA': nodata(),
};
