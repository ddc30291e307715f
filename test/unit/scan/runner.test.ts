import { describe, expect, it } from 'vitest';
import type { Work } from '../../../src/engine/run.js';
import type { DomainResult } from '../../../src/core/result.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../../src/smtp/types.js';
import { addressGate } from '../../../src/scan/gate.js';
import { scanDomains, type ScanOptions } from '../../../src/scan/scan.js';
import { FixtureResolver, mx, type FixtureAnswer } from '../../support/fixture-resolver.js';
import { scanOptions } from '../../support/scan-options.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** n insecure domains (opportunistic: no TLSA needed) whose MX hosts all have the address 127.0.0.9. */
function world(n: number): { resolver: FixtureResolver; works: Work[] } {
  const table: Record<string, FixtureAnswer> = { ' SOA': { proof: 'secure', records: [{}] } };
  const works: Work[] = [];
  for (let i = 0; i < n; i++) {
    const d = `d${i}.example`;
    table[`${d} MX`] = { proof: 'insecure', records: [mx(10, `mx${i % 3}.shared.example`)] };
    works.push({ domain: d, job: { kind: 'probe' } });
  }
  for (let i = 0; i < 3; i++) table[`mx${i}.shared.example A`] = { proof: 'insecure', records: ['127.0.0.9'] };
  return { resolver: new FixtureResolver(table), works };
}

/** A session that takes `ms` (or until aborted) and records how many ran at once per address. */
function slowSession(ms: number | 'forever', seen: { max: number; now: number }) {
  return async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
    seen.now++;
    seen.max = Math.max(seen.max, seen.now);
    try {
      await new Promise<void>((resolve) => {
        if (o.signal?.aborted) return resolve();
        o.signal?.addEventListener('abort', () => resolve(), { once: true });
        if (ms !== 'forever') setTimeout(resolve, ms);
      });
      if (o.signal?.aborted) return { outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'ABORTED', message: 'aborted' } };
      return { outcome: 'ok', tls: false, extensions: {} };
    } finally {
      seen.now--;
    }
  };
}

function options(resolver: FixtureResolver, session: ReturnType<typeof slowSession>, extra: Partial<ScanOptions> = {}) {
  const results: DomainResult[] = [];
  return { o: scanOptions(resolver, session, results, extra), results };
}

describe('scanDomains', () => {
  it('never opens two connections to one address at once, even with many domains at once', async () => {
    const { resolver, works } = world(8);
    const seen = { max: 0, now: 0 };
    const { o, results } = options(resolver, slowSession(20, seen));
    const outcome = await scanDomains(works, o);
    expect(outcome).toMatchObject({ checked: 8, unfinished: 0, interrupted: false });
    expect(results.map((r) => r.verdict)).toEqual(Array(8).fill('opportunistic'));
    expect(seen.max).toBe(1);
  });

  it('waiting for a busy address does not use up the budget; a domain that hangs runs out of it', async () => {
    const { resolver, works } = world(6);
    const seen = { max: 0, now: 0 };
    // 6 sessions of 100 ms one after the other: the last one waits 500 ms, budget 300 ms.
    const polite = options(resolver, slowSession(100, seen), { budgetMs: 300 });
    await scanDomains(works, polite.o);
    expect(polite.results.map((r) => r.verdict)).toEqual(Array(6).fill('opportunistic'));

    const hang = options(resolver, slowSession('forever', seen), { budgetMs: 150, concurrency: 2 });
    const t0 = Date.now();
    await scanDomains(works.slice(0, 2), hang.o);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(hang.results).toHaveLength(2);
    for (const r of hang.results) {
      expect(r.verdict).toBe('tempfail');
      expect(r.reason).toBe('domain budget of 0.2 s exceeded');
      expect(r.mx?.status).toBe('data'); // what was learnt before is kept
    }
  });

  it('an interrupted scan reports only finished domains', async () => {
    const { resolver, works } = world(6);
    const seen = { max: 0, now: 0 };
    const ac = new AbortController();
    const unfinished: string[] = [];
    const { o, results } = options(resolver, slowSession(60, seen), { signal: ac.signal, onUnfinished: (d) => unfinished.push(d) });
    const p = scanDomains(works, o);
    await sleep(150);
    ac.abort();
    const outcome = await p;
    expect(outcome.interrupted).toBe(true);
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(6);
    expect(results.every((r) => r.verdict === 'opportunistic')).toBe(true);
    expect(outcome.checked + outcome.unfinished).toBe(6);
    expect(unfinished.some((d) => results.some((r) => r.domain === d))).toBe(false);
  });

  it('does not store a domain when the resolver is unreachable', async () => {
    const { works } = world(2);
    const dead = new FixtureResolver({}, { proof: 'indeterminate', status: 'failed', reason: 'timeout after 5000 ms', failure: { kind: 'unreachable', cause: 'timeout' } });
    const seen = { max: 0, now: 0 };
    const { o, results } = options(dead, slowSession(1, seen), { probe: { validates: true, reachable: true, reason: 'ok' } });
    const outcome = await scanDomains(works, o);
    expect(results).toHaveLength(0);
    expect(outcome.unfinished).toBe(2);
  });
});

describe('addressGate', () => {
  it('serves one at a time per address, in order; an aborted waiter leaves the queue', async () => {
    const gate = addressGate(1);
    const r1 = await gate.acquire('192.0.2.1');
    const other = await gate.acquire('192.0.2.2'); // another address is free
    const order: string[] = [];
    const ac = new AbortController();
    const w2 = gate.acquire('192.0.2.1').then((rel) => (order.push('w2'), rel));
    const w3 = gate.acquire('192.0.2.1', ac.signal).then((rel) => (order.push('w3'), rel));
    const w4 = gate.acquire('192.0.2.1').then((rel) => (order.push('w4'), rel));
    expect(gate.waiting).toBe(3);
    expect([gate.wouldWait('192.0.2.1'), gate.waitingAt('192.0.2.1'), gate.wouldWait('192.0.2.3'), gate.waitingAt('192.0.2.3')]).toEqual([true, 3, false, 0]);
    ac.abort();
    await w3; // at once, with a no-op release
    expect(order).toEqual(['w3']);
    r1();
    r1(); // twice is harmless
    (await w2)();
    (await w4)();
    other();
    expect(order).toEqual(['w3', 'w2', 'w4']);
    expect(gate.active).toBe(0);
    expect(gate.waiting).toBe(0);
  });
});

/**
 * `busy` domains on 127.0.0.9 (mx-busy), then `idle` domains on 127.0.0.10 (mx-idle).
 * The first session to 127.0.0.9 holds until every idle domain has a result (or, if the
 * scan is stuck behind it, until the event loop has turned `valve` times with nothing else
 * to do): an ordering, not a time.
 */
async function busyThenIdle(busy: number, idle: number, concurrency: number, valve = 5000) {
  const table: Record<string, FixtureAnswer> = {
    ' SOA': { proof: 'secure', records: [{}] },
    'mx-busy.example A': { proof: 'insecure', records: ['127.0.0.9'] },
    'mx-idle.example A': { proof: 'insecure', records: ['127.0.0.10'] },
  };
  const works: Work[] = [];
  for (let i = 0; i < busy + idle; i++) {
    const d = i < busy ? `busy${i}.example` : `idle${i - busy}.example`;
    table[`${d} MX`] = { proof: 'insecure', records: [mx(10, i < busy ? 'mx-busy.example' : 'mx-idle.example')] };
    works.push({ domain: d, job: { kind: 'probe' } });
  }
  const resolver = new FixtureResolver(table);
  const results: string[] = [];
  const now = new Map<string, number>();
  const most = new Map<string, number>();
  let firstBusy = true;
  const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
    now.set(o.address, (now.get(o.address) ?? 0) + 1);
    most.set(o.address, Math.max(most.get(o.address) ?? 0, now.get(o.address)!));
    try {
      if (o.address === '127.0.0.9' && firstBusy) {
        firstBusy = false;
        for (let turn = 0; turn < valve && results.filter((d) => d.startsWith('idle')).length < idle; turn++) await new Promise((r) => setImmediate(r));
      } else {
        await new Promise((r) => setImmediate(r));
      }
      return { outcome: 'ok', tls: false, extensions: {} };
    } finally {
      now.set(o.address, now.get(o.address)! - 1);
    }
  };
  const outcome = await scanDomains(works, {
    resolver,
    concurrency,
    port: 25,
    helo: 'client.example',
    timeoutMs: 5000,
    session: session as ScanOptions['session'],
    onResult: (r) => results.push(r.domain),
  });
  return { outcome, results, most, mxLookups: resolver.asked.filter((q) => q.endsWith(' MX')).length };
}

describe('scanDomains: a busy MX address does not hold up the others', () => {
  it('20 domains on a busy address, then 40 on an idle one, --concurrency 10: the idle ones are not stuck behind the busy ones', async () => {
    const { outcome, results, most } = await busyThenIdle(20, 40, 10);
    expect(outcome).toMatchObject({ checked: 60, unfinished: 0, interrupted: false });
    // Every idle domain is done while the first busy session is still open.
    expect(results.slice(0, 40).every((d) => d.startsWith('idle'))).toBe(true);
    expect(new Set(results).size).toBe(60);
    expect(most.get('127.0.0.9')).toBe(1);
    expect(most.get('127.0.0.10')).toBe(1);
  });

  it('a provider with many consecutive domains: the rest still flow, domains in memory stay bounded, each domain stored once', async () => {
    const { outcome, results, most, mxLookups } = await busyThenIdle(300, 40, 4);
    expect(outcome).toMatchObject({ checked: 340, unfinished: 0, interrupted: false });
    expect(results.slice(0, 40).every((d) => d.startsWith('idle'))).toBe(true);
    expect(new Set(results).size).toBe(340);
    expect(most.get('127.0.0.9')).toBe(1);
    expect(outcome.peakAdmitted).toBeLessThanOrEqual(4 * 4);
    expect(outcome.requeued).toBeGreaterThan(0);
    // A re-queued domain is looked up again (from the cache in a real scan), not endlessly.
    expect(mxLookups).toBeLessThanOrEqual(340 + outcome.requeued);
  });
});

describe('scanDomains: re-queueing', () => {
  it('a domain that has connected once waits at a busy address instead of being re-queued (no second connection to its first host)', async () => {
    const table: Record<string, FixtureAnswer> = {
      ' SOA': { proof: 'secure', records: [{}] },
      'mx-busy.example A': { proof: 'insecure', records: ['127.0.0.9'] },
      'mx-down.example A': { proof: 'insecure', records: ['127.0.0.11'] },
      'x.example MX': { proof: 'insecure', records: [mx(10, 'mx-down.example'), mx(20, 'mx-busy.example')] },
    };
    const works: Work[] = [];
    for (let i = 0; i < 4; i++) {
      table[`busy${i}.example MX`] = { proof: 'insecure', records: [mx(10, 'mx-busy.example')] };
      works.push({ domain: `busy${i}.example`, job: { kind: 'probe' } });
    }
    works.push({ domain: 'x.example', job: { kind: 'probe' } });
    const gate = addressGate(1);
    const sessions: string[] = [];
    let first = true;
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      sessions.push(o.address);
      if (o.address === '127.0.0.11') return { outcome: 'host-failed', tls: false, extensions: {}, error: { code: 'CONNECT', message: 'refused' } };
      if (first) {
        // Held until x.example queues here as a third waiter (or the loop has turned 5000 times).
        first = false;
        for (let turn = 0; turn < 5000 && gate.waitingAt('127.0.0.9') < 3; turn++) await new Promise((r) => setImmediate(r));
      }
      return { outcome: 'ok', tls: false, extensions: {} };
    };
    const results: DomainResult[] = [];
    const outcome = await scanDomains(works, {
      resolver: new FixtureResolver(table),
      concurrency: 10,
      gate,
      port: 25,
      helo: 'client.example',
      timeoutMs: 5000,
      session: session as ScanOptions['session'],
      onResult: (r) => results.push(r),
    });
    expect(outcome).toMatchObject({ checked: 5, unfinished: 0, requeued: 1 }); // busy3 only
    expect(sessions.filter((a) => a === '127.0.0.11')).toHaveLength(1);
    expect(results.find((r) => r.domain === 'x.example')).toMatchObject({ verdict: 'opportunistic', host: 'mx-busy.example' });
  });

  it('a result that cannot be stored stops the scan: nothing more is started and the error is thrown', async () => {
    const { resolver, works } = world(30);
    const seen = { max: 0, now: 0 };
    let calls = 0;
    const { o } = options(resolver, slowSession(1, seen), {
      onResult: () => {
        calls++;
        throw new Error('database or disk is full');
      },
    });
    await expect(scanDomains(works, o)).rejects.toThrow('database or disk is full');
    expect(calls).toBe(1);
  });
});
