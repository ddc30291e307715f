import { describe, expect, it } from 'vitest';
import type { Work } from '../../../src/engine/run.js';
import type { DomainResult } from '../../../src/core/result.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../../src/smtp/types.js';
import { addressGate, type AddressGate } from '../../../src/scan/gate.js';
import { scanDomains, type ScanOptions } from '../../../src/scan/scan.js';
import { FixtureResolver, mx, type FixtureAnswer } from '../../support/fixture-resolver.js';
import { scanOptions } from '../../support/scan-options.js';

const ok: SmtpSessionResult = { outcome: 'ok', tls: false, extensions: {} };
const turn = () => new Promise((r) => setImmediate(r));

function table(busy: number, other: number) {
  const t: Record<string, FixtureAnswer> = {
    ' SOA': { proof: 'secure', records: [{}] },
    'mx-a.example A': { proof: 'insecure', records: ['127.0.0.9'] },
    'mx-b.example A': { proof: 'insecure', records: ['127.0.0.10'] },
  };
  const works: Work[] = [];
  for (let i = 0; i < busy; i++) {
    t[`a${i}.example MX`] = { proof: 'insecure', records: [mx(10, 'mx-a.example')] };
    works.push({ domain: `a${i}.example`, job: { kind: 'probe' } });
  }
  for (let i = 0; i < other; i++) {
    t[`b${i}.example MX`] = { proof: 'insecure', records: [mx(10, 'mx-b.example')] };
    works.push({ domain: `b${i}.example`, job: { kind: 'probe' } });
  }
  return { resolver: new FixtureResolver(t), works };
}

const base = scanOptions;

/** A real gate with some methods replaced (to count or to fail). */
function gateWith(inner: AddressGate, over: Partial<Pick<AddressGate, 'acquire' | 'wouldWait' | 'waitingAt'>>): AddressGate {
  return {
    get active() {
      return inner.active;
    },
    get waiting() {
      return inner.waiting;
    },
    wouldWait: over.wouldWait ?? ((a) => inner.wouldWait(a)),
    waitingAt: over.waitingAt ?? ((a) => inner.waitingAt(a)),
    acquire: over.acquire ?? ((a, s) => inner.acquire(a, s)),
  };
}

describe('scanDomains: parked domains ', () => {
  it('a parked domain is not left until the end of the scan when the address goes idle with no waiter', async () => {
    // a0 holds 127.0.0.9 until a1 waits and a2, a3 are parked; a1's session is instant, so the
    // address is free again before the unparked a2 gets there: a2 connects without waiting.
    // b0 (another address) runs until a3 has been stored (or 400 turns of the loop).
    const { resolver, works } = table(4, 1);
    const gate = addressGate(1);
    const results: DomainResult[] = [];
    let outcomeRequeued = 0;
    let first = true;
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      if (o.address === '127.0.0.10') {
        for (let i = 0; i < 400 && !results.some((r) => r.domain === 'a3.example'); i++) await turn();
        return ok;
      }
      if (first) {
        first = false;
        for (let i = 0; i < 400 && !(gate.waitingAt('127.0.0.9') === 1 && outcomeRequeued === 2); i++) await turn();
      }
      return ok;
    };
    // waitersPerAddress 1: waitingAt() >= 1 is asked only by a domain about to be parked.
    const wrapped = gateWith(gate, {
      waitingAt: (a) => {
        const n = gate.waitingAt(a);
        if (n >= 1) outcomeRequeued++;
        return n;
      },
    });
    const o = base(resolver, session, results, { gate: wrapped, waitersPerAddress: 1 });
    const outcome = await scanDomains(works, o);
    expect(outcome).toMatchObject({ checked: 5, unfinished: 0 });
    expect(outcome.requeued).toBe(2);
    const order = results.map((r) => r.domain);
    expect(order.indexOf('a3.example')).toBeLessThan(order.indexOf('b0.example'));
  });
});

describe('scanDomains: interrupted or failing store with parked domains ', () => {
  it('Ctrl-C while domains wait and are parked: the scan ends, nothing is stored twice, the rest is unfinished', async () => {
    const { resolver, works } = table(12, 0);
    const gate = addressGate(1);
    const ac = new AbortController();
    const results: DomainResult[] = [];
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      // The first session hangs until aborted; abort once 2 wait and the others are parked.
      if (results.length === 0) {
        for (let i = 0; i < 2000 && gate.waiting < 2; i++) await turn();
        ac.abort();
      }
      if (o.signal?.aborted) return { outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'ABORTED', message: 'aborted' } };
      return ok;
    };
    const unfinished: string[] = [];
    const outcome = await scanDomains(works, base(resolver, session, results, { signal: ac.signal, concurrency: 4, onUnfinished: (d) => unfinished.push(d) }));
    expect(outcome.interrupted).toBe(true);
    expect(outcome.checked + outcome.unfinished).toBe(12);
    expect(new Set(results.map((r) => r.domain)).size).toBe(results.length);
    // Every domain that had started, parked ones included, is reported given up, once.
    expect(outcome.requeued).toBeGreaterThan(0);
    expect(unfinished.length).toBeGreaterThanOrEqual(3 + outcome.requeued);
    expect(new Set(unfinished).size).toBe(unfinished.length);
    for (const d of unfinished) expect(results.map((r) => r.domain)).not.toContain(d);
    expect(gate.active + gate.waiting).toBe(0);
  });

  it('many domains at one address with waitersPerAddress 1 and concurrency 2: each stored exactly once, none at the end only', async () => {
    const { resolver, works } = table(30, 0);
    const results: DomainResult[] = [];
    const outcome = await scanDomains(works, base(resolver, async () => ok, results, { concurrency: 2, waitersPerAddress: 1 }));
    expect(outcome).toMatchObject({ checked: 30, unfinished: 0 });
    expect(results.map((r) => r.domain).sort()).toEqual(works.map((w) => w.domain).sort());
  });
});

describe('scanDomains: failures around waiting and parked domains', () => {
  it('a store failure while domains wait and are parked: the error is thrown, nothing hangs', async () => {
    const { resolver, works } = table(10, 0);
    const gate = addressGate(1);
    let first = true;
    const session = async (): Promise<SmtpSessionResult> => {
      if (first) {
        first = false;
        for (let i = 0; i < 2000 && gate.waiting < 2; i++) await turn();
      }
      return ok;
    };
    let calls = 0;
    const o = base(resolver, session, [], {
      gate,
      concurrency: 3,
      onResult: () => {
        calls++;
        throw new Error('disk I/O error');
      },
    });
    await expect(scanDomains(works, o)).rejects.toThrow('disk I/O error');
    expect(calls).toBe(1);
    expect(gate.active + gate.waiting).toBe(0);
  });

  it('a gate whose acquire fails for a waiter: that domain is deferred, the others (parked too) are all checked within --concurrency', async () => {
    const { resolver, works } = table(8, 4);
    const inner = addressGate(1);
    let failed = 0;
    const gate = gateWith(inner, {
      acquire: (a, s) => {
        if (a === '127.0.0.9' && inner.wouldWait(a) && failed === 0) {
          failed++;
          return Promise.reject(new Error('gate broke'));
        }
        return inner.acquire(a, s);
      },
    });
    let now = 0;
    let most = 0;
    let first = true;
    const session = async (): Promise<SmtpSessionResult> => {
      now++;
      most = Math.max(most, now);
      try {
        if (first) {
          first = false;
          for (let i = 0; i < 200; i++) await turn();
        }
        return ok;
      } finally {
        now--;
      }
    };
    const results: DomainResult[] = [];
    const outcome = await scanDomains(works, base(resolver, session, results, { gate, concurrency: 2, waitersPerAddress: 1 }));
    expect(failed).toBe(1);
    expect(outcome).toMatchObject({ checked: 12, unfinished: 0 });
    expect(new Set(results.map((r) => r.domain)).size).toBe(12);
    expect(results.filter((r) => r.reason.includes('gate broke'))).toHaveLength(1);
    expect(most).toBeLessThanOrEqual(2);
  });
});
