/**
 * Issue 5 in the lab: the library API and the nodemailer transport, and the examples/
 * scripts run as they are written (the documentation's blocks: docs-examples.test.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, daneTransport, deliver, DaneDeliveryError, type DeliveryEvent } from '../../src/index.js';
import { repoRoot } from './cli.js';
import { scenarios } from './scenarios.js';
import { startWorld, type World } from './world.js';

const execFileAsync = promisify(execFile);
const USED = ['ee-311.test', 'ta-211-intermediate.test', 'all-fail.test', 'null-mx.test'];
let world: World;

beforeAll(async () => {
  world = await startWorld({ scenarios: scenarios.filter((s) => USED.includes(s.domain)) });
}, 300_000);
afterAll(async () => {
  await world?.stop();
});

describe('library API', () => {
  it('check() returns the CLI result shape and reports each step', async () => {
    const events: DeliveryEvent['type'][] = [];
    const r = await check('ee-311.test', { resolverAddress: world.resolver, helo: 'client.test', timeoutMs: 5000, onEvent: (e) => events.push(e.type) });
    expect(r).toMatchObject({ domain: 'ee-311.test', verdict: 'dane-authenticated', host: 'mx.ee-311.test', tls: true, resolverValidates: true });
    expect(events).toContain('probe');
    expect(events).toContain('dns');
    expect(events).toContain('smtp');
    expect(events[events.length - 1]).toBe('result');
  });

  it('an expected failure is a result, not an exception', async () => {
    const r = await check('null-mx.test', { resolverAddress: world.resolver, timeoutMs: 5000 });
    expect(r.verdict).toBe('undeliverable');
  });

  it('an aborted call ends as tempfail', async () => {
    const r = await check('ee-311.test', { resolverAddress: world.resolver, timeoutMs: 5000, signal: AbortSignal.abort() });
    expect(r.verdict).toBe('tempfail');
  });

  it('deliver() groups recipients per domain', async () => {
    const results = await deliver('Subject: lib\r\n\r\nlibrary token 7f3a\r\n', {
      from: 'sender@client.test',
      to: ['a@ee-311.test', 'b@ee-311.test', 'c@ta-211-intermediate.test'],
      resolverAddress: world.resolver,
      helo: 'client.test',
      timeoutMs: 5000,
    });
    expect(results.map((r) => [r.domain, r.verdict, r.recipients?.map((x) => x.status)])).toEqual([
      ['ee-311.test', 'dane-authenticated', ['delivered', 'delivered']],
      ['ta-211-intermediate.test', 'dane-authenticated', ['delivered']],
    ]);
    const got = world.receivers.withToken('library token 7f3a');
    expect(got.map((m) => m.receiver).sort()).toEqual(['mx.ee-311.test', 'mx.ta-211-intermediate.test']);
    expect(got.every((m) => m.tls)).toBe(true);
  });
});

describe('nodemailer transport', () => {
  it('delivers into the lab and reports each domain verdict', async () => {
    const transport = nodemailer.createTransport(daneTransport({ resolverAddress: world.resolver, helo: 'client.test', timeoutMs: 5000 }));
    const info = await transport.sendMail({ from: 'sender@client.test', to: 'user@ee-311.test', subject: 'nm', text: 'nodemailer token 91bc' });
    expect(info.accepted).toEqual(['user@ee-311.test']);
    expect(info.results[0]).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.ee-311.test' });
    expect(world.receivers.withToken('nodemailer token 91bc')[0]).toMatchObject({ receiver: 'mx.ee-311.test', tls: true });
  });

  it('a deferred domain rejects the send with a typed error naming the recipients', async () => {
    const transport = nodemailer.createTransport(daneTransport({ resolverAddress: world.resolver, helo: 'client.test', timeoutMs: 5000 }));
    const err = await transport.sendMail({ from: 'sender@client.test', to: ['user@ee-311.test', 'user@all-fail.test'], text: 'partial token 55aa' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaneDeliveryError);
    const e = err as DaneDeliveryError;
    expect(e.code).toBe('NOT_DELIVERED');
    expect(e.deferred.map((d) => d.address)).toEqual(['user@all-fail.test']);
    expect(e.temporary).toBe(true);
    expect(e.info.accepted).toEqual(['user@ee-311.test']);
  });
});

describe('examples/*.mjs, run as written', () => {
  const env = () => ({ ...process.env, DANE_RESOLVER: world.resolver });
  it('examples/check.mjs', async () => {
    const { stdout } = await execFileAsync('node', [join(repoRoot(), 'examples/check.mjs'), 'ee-311.test'], { env: env(), timeout: 60_000 });
    expect(stdout).toMatch(/^ee-311\.test: dane-authenticated/);
  });
  it('examples/nodemailer.mjs', async () => {
    const before = world.receivers.byReceiver('mx.ee-311.test').length;
    const { stdout } = await execFileAsync('node', [join(repoRoot(), 'examples/nodemailer.mjs'), 'you@ee-311.test'], { env: env(), timeout: 60_000 });
    expect(stdout).toContain('ee-311.test: dane-authenticated via mx.ee-311.test');
    expect(world.receivers.byReceiver('mx.ee-311.test').length).toBe(before + 1);
  });
});
