/**
 * RFC 5321 §4.1.1.4, §6.1: once the server has answered 2xx to the final dot it has taken
 * responsibility for the message. Whatever fails afterwards in dane-smtp's own code
 * (reporting, diagnostics, the caller's handler, the clock) is reported as an internal error
 * and never turns that recipient into a deferral: a retry would deliver it twice.
 * Every post-session step is made to throw in turn.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { DomainResult } from '../../src/core/result.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import { exitCodeOf } from '../../src/core/outcome.js';
import { runAll, type RunOptions } from '../../src/engine/run.js';
import { servedTls } from '../../src/smtp/served-chain.js';
import { FixtureResolver, mx } from '../support/fixture-resolver.js';
import { makeChain, type Chain } from '../support/pki.js';

const faults = vi.hoisted(() => ({ diagnose: false }));
vi.mock('../../src/core/findings.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/core/findings.js')>();
  return {
    ...real,
    diagnose: (...args: Parameters<typeof real.diagnose>) => {
      if (faults.diagnose) throw new Error('injected: diagnose');
      return real.diagnose(...args);
    },
  };
});

let chain: Chain;
beforeAll(async () => {
  chain = await makeChain({ leafCn: 'mx.example.test' });
});

const resolver = () =>
  new FixtureResolver({
    ' SOA': { proof: 'secure', records: [{}] },
    'example.test MX': { proof: 'secure', records: [mx(10, 'mx.example.test'), mx(20, 'mx2.example.test')] },
    'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'] },
    'mx.example.test AAAA': { proof: 'secure', status: 'nodata' },
    'mx2.example.test A': { proof: 'secure', records: ['192.0.2.2'] },
    'mx2.example.test AAAA': { proof: 'secure', status: 'nodata' },
    '_25._tcp.mx.example.test TLSA': { proof: 'secure', records: [{ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(chain.leaf.spkiDer).digest() }] },
    '_25._tcp.mx2.example.test TLSA': { proof: 'secure', status: 'nodata' },
  });

type Sabotage = (r: SmtpSessionResult) => SmtpSessionResult;

/** DANE-EE servers: mx accepts the first recipient (250 after the dot) and defers the others with its own 4xx; mx2 defers all. */
function session(calls: string[], sabotage: Sabotage = (r) => r): RunOptions['session'] {
  const run = async (o: SmtpSessionOptions, job: { kind: string; envelope?: { to: string[] } }): Promise<SmtpSessionResult> => {
    calls.push(o.address);
    const served = servedTls('TLSv1.3', 'TLS_AES_128_GCM_SHA256', [chain.leaf.der]);
    const check = o.checkTls ? o.checkTls(served) : { ok: true as const };
    if (!check.ok) return { outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'AUTHENTICATION', message: check.reason } };
    const to = job.envelope?.to ?? [];
    const recipients = to.map((address, i) => (i === 0 && o.address === '192.0.2.1' ? { address, status: 'delivered' as const, reply: '250 2.0.0 queued as A1' } : { address, status: 'deferred' as const, reply: '451 4.3.0 try later' }));
    return sabotage({ outcome: 'rejected', tls: true, served, extensions: {}, recipients, error: { code: 'SMTP_4XX', message: '451 4.3.0 try later' } });
  };
  return run as RunOptions['session'];
}

const envelope = { from: 'a@client.test', to: ['first@example.test', 'second@example.test'], message: Buffer.from('Subject: t\r\n\r\nbody\r\n') };

async function send(extra: Partial<RunOptions> & { sabotage?: Sabotage } = {}): Promise<{ result: DomainResult; calls: string[] }> {
  const calls: string[] = [];
  const { sabotage, ...options } = extra;
  const [result] = await runAll([{ domain: 'example.test', job: { kind: 'send', envelope } }], {
    resolver: resolver(),
    port: 25,
    helo: 'client.test',
    timeoutMs: 1000,
    session: session(calls, sabotage),
    ...options,
  });
  return { result: result!, calls };
}

function expectFirstDelivered(result: DomainResult) {
  expect(result.recipients?.find((r) => r.address === 'first@example.test')).toMatchObject({ status: 'delivered', reply: '250 2.0.0 queued as A1', host: 'mx.example.test' });
  expect(result.recipients?.find((r) => r.address === 'second@example.test')?.status).toBe('deferred');
  // exit 75 for the deferred one only; the delivered one is never retried by the caller
  expect(exitCodeOf([result], 'send')).toBe(75);
}

describe('a recipient is delivered once the server answered 2xx to the final dot (RFC 5321 §6.1)', () => {
  it('control: no fault, the first recipient delivered, the second deferred, no internal error', async () => {
    const { result } = await send();
    expectFirstDelivered(result);
    expect(result.verdict).toBe('dane-authenticated');
    expect(result.internalError).toBeUndefined();
  });

  it('the engine fails while reporting the session (reading its result throws): delivered stays delivered', async () => {
    const sabotage: Sabotage = (r) =>
      new Proxy(r, {
        get(target, key, receiver) {
          if (key === 'served' || key === 'outcome' || key === 'error') throw new Error(`injected: reading ${String(key)}`);
          return Reflect.get(target, key, receiver);
        },
      });
    const { result } = await send({ sabotage });
    expectFirstDelivered(result);
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.example.test', internalError: { stage: 'delivery' } });
    expect(result.internalError?.message).toContain('injected');
    expect(result.findings?.map((f) => f.code)).toContain('internal-error');
  });

  it('diagnostics fail: delivered stays delivered, the failure is an internal-error finding', async () => {
    faults.diagnose = true;
    try {
      const { result } = await send();
      expectFirstDelivered(result);
      expect(result.internalError).toEqual({ stage: 'diagnostics', message: 'injected: diagnose' });
      expect(result.findings).toEqual([expect.objectContaining({ code: 'internal-error', severity: 'error' })]);
    } finally {
      faults.diagnose = false;
    }
  });

  it("the caller's result handler throws: runAll still returns the result, delivered", async () => {
    const { result } = await send({
      onResult: () => {
        throw new Error('injected: onResult');
      },
    });
    expectFirstDelivered(result);
    expect(result.internalError).toEqual({ stage: 'reporting', message: 'injected: onResult' });
  });

  it('the clock fails after the session: delivered stays delivered', async () => {
    let calls = 0;
    const { result } = await send({
      now: () => {
        // the first calls authenticate the server inside the session; later ones come after it
        if (++calls > 1) throw new Error('injected: clock');
        return new Date();
      },
    });
    expectFirstDelivered(result);
    expect(result.internalError?.message).toContain('injected: clock');
  });

  it('every step fails at once: still delivered, and the deferred recipient is not sent to the next MX host twice', async () => {
    faults.diagnose = true;
    try {
      const sabotage: Sabotage = (r) =>
        new Proxy(r, {
          get(target, key, receiver) {
            if (key === 'served') throw new Error('injected: reading served');
            return Reflect.get(target, key, receiver);
          },
        });
      const { result, calls } = await send({
        sabotage,
        onResult: () => {
          throw new Error('injected: onResult');
        },
      });
      expectFirstDelivered(result);
      expect(result.internalError?.stage).toBe('delivery');
      // the engine stopped at the fault: the delivered recipient went to one server only
      expect(calls).toEqual(['192.0.2.1']);
    } finally {
      faults.diagnose = false;
    }
  });
});
