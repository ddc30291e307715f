/**
 * A soft refusal sends the recipients it deferred on to the next MX host, as Postfix does
 * (smtp_trouble.c: a 4xx on a non-final server keeps the recipient for a backup server);
 * recipients delivered or bounced are final and never sent again.
 */
import { describe, expect, it } from 'vitest';
import { processDestination } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import { plain, renderDomain } from '../../src/cli/human.js';
import { twoInsecureMx } from '../support/fixture-resolver.js';
import { scriptedSession, type Behaviour, type Call } from '../support/scripted-session.js';

// example.test: an insecure MX (opportunistic TLS, no DANE), mx1 before mx2.
const world = twoInsecureMx();
const send: Job = { kind: 'send', envelope: { from: 'a@client.test', to: ['x@example.test', 'y@example.test'], message: Buffer.from('Subject: t\r\n\r\nhi\r\n') } };

async function deliver(behaviours: Record<string, Behaviour>) {
  const calls: Call[] = [];
  const result = await processDestination('example.test', send, {
    resolver: world, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: scriptedSession(behaviours, calls),
  });
  return { result, calls: calls.map((c) => c.address) };
}

const ok: Behaviour = { kind: 'no-starttls' }; // accepts everything in plaintext

/** As deliver(), with the recipients each session was given. */
async function deliverWithEnvelopes(behaviours: Record<string, Behaviour>) {
  const calls: Call[] = [];
  const envelopes: string[][] = [];
  const scripted = scriptedSession(behaviours, calls)!;
  const result = await processDestination('example.test', send, {
    resolver: world, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000, random: () => 0.99,
    session: (o, job) => {
      if (job.kind === 'send') envelopes.push([...job.envelope.to]);
      return scripted(o, job);
    },
  });
  return { result, calls: calls.map((c) => c.address), envelopes };
}

describe('soft refusals go on to the next MX host (Postfix)', () => {
  it('451 to MAIL at the primary: delivered by the secondary; the primary is reported failed', async () => {
    const { result, calls } = await deliver({ '192.0.2.1': { kind: 'mail-reply', reply: '451 4.3.0 try later' }, '192.0.2.2': ok });
    expect(calls).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(result).toMatchObject({ verdict: 'opportunistic', host: 'mx2.example.test', recipients: [{ status: 'delivered' }, { status: 'delivered' }] });
    expect(result.hosts.map((h) => h.status)).toEqual(['failed', 'used']);
  });

  it('every RCPT deferred at the primary (greylisting): the secondary is tried', async () => {
    const { result } = await deliver({ '192.0.2.1': { kind: 'rcpt-replies', replies: ['450 4.2.0 greylisted', '450 4.2.0 greylisted'] }, '192.0.2.2': ok });
    expect(result).toMatchObject({ host: 'mx2.example.test', recipients: [{ status: 'delivered' }, { status: 'delivered' }] });
  });

  it('every host defers: the first soft refusal is the result, its recipients deferred with its reply', async () => {
    const soft: Behaviour = { kind: 'mail-reply', reply: '451 4.3.0 try later' };
    const { result, calls } = await deliver({ '192.0.2.1': soft, '192.0.2.2': { kind: 'mail-reply', reply: '452 4.3.1 full' } });
    expect(calls).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(result).toMatchObject({ host: 'mx1.example.test', recipients: [{ status: 'deferred', reply: '451 4.3.0 try later' }, { status: 'deferred' }] });
    expect(result.hosts.map((h) => h.status)).toEqual(['used', 'failed']);
  });

  it('a partial result: the delivered recipient is final, the one the primary deferred goes on to the secondary alone', async () => {
    const { result, calls, envelopes } = await deliverWithEnvelopes({ '192.0.2.1': { kind: 'rcpt-replies', replies: ['250 ok', '450 4.2.0 later'] }, '192.0.2.2': ok });
    expect(calls).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(envelopes).toEqual([['x@example.test', 'y@example.test'], ['y@example.test']]);
    expect(result).toMatchObject({
      verdict: 'opportunistic',
      host: 'mx1.example.test',
      recipients: [
        { address: 'x@example.test', status: 'delivered', host: 'mx1.example.test' },
        { address: 'y@example.test', status: 'delivered', host: 'mx2.example.test' },
      ],
    });
    expect(result.reason).toMatch(/recipients mx1\.example\.test deferred went on to mx2\.example\.test \(opportunistic\)/);
    expect(result.hosts.map((h) => h.status)).toEqual(['used', 'used']);
    const text = renderDomain(result, plain);
    expect(text).toMatch(/rcpt x@example\.test: delivered — 250 ok/);
    expect(text).toMatch(/rcpt y@example\.test: delivered \(at mx2\.example\.test\) — 250 ok/);
  });

  it('a partial result where the secondary defers too: the first reply stands, nothing is sent twice', async () => {
    const { result, envelopes } = await deliverWithEnvelopes({ '192.0.2.1': { kind: 'rcpt-replies', replies: ['250 ok', '450 4.2.0 later'] }, '192.0.2.2': { kind: 'rcpt-replies', replies: ['451 4.3.0 busy'] } });
    expect(envelopes).toEqual([['x@example.test', 'y@example.test'], ['y@example.test']]);
    expect(result).toMatchObject({
      host: 'mx1.example.test',
      recipients: [
        { status: 'delivered', host: 'mx1.example.test' },
        { status: 'deferred', reply: '450 4.2.0 later', host: 'mx1.example.test' },
      ],
    });
    expect(result.hosts.map((h) => h.status)).toEqual(['used', 'failed']);
  });

  it('a recipient bounced at the primary is final; only the deferred one goes on', async () => {
    const { result, envelopes } = await deliverWithEnvelopes({ '192.0.2.1': { kind: 'rcpt-replies', replies: ['550 5.1.1 no such user', '452 4.5.3 too many recipients'] }, '192.0.2.2': ok });
    expect(envelopes).toEqual([['x@example.test', 'y@example.test'], ['y@example.test']]);
    expect(result.recipients!.map((r) => [r.status, r.host])).toEqual([['bounced', 'mx1.example.test'], ['delivered', 'mx2.example.test']]);
  });

  it('no reply after the data (timeout or lost connection): deferred, never sent to the secondary (it may have been accepted)', async () => {
    const { result, calls } = await deliver({ '192.0.2.1': { kind: 'rcpt-replies', replies: ['timeout after 1000 ms waiting for the reply to the end of data', 'timeout after 1000 ms waiting for the reply to the end of data'] }, '192.0.2.2': ok });
    expect(calls).toEqual(['192.0.2.1']);
    expect(result.recipients!.map((r) => r.status)).toEqual(['deferred', 'deferred']);
  });

  it('a hard refusal (5xx to MAIL) is final: bounced, the secondary is not asked', async () => {
    const { result, calls } = await deliver({ '192.0.2.1': { kind: 'mail-reply', reply: '550 5.7.1 no' }, '192.0.2.2': ok });
    expect(calls).toEqual(['192.0.2.1']);
    expect(result.recipients!.map((r) => r.status)).toEqual(['bounced', 'bounced']);
  });
});
