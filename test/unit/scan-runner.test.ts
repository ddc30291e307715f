import { describe, expect, it } from 'vitest';
import type { Work } from '../../src/delivery/run.js';
import type { DomainResult } from '../../src/delivery/result.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import { addressGate } from '../../src/scan/gate.js';
import { scanDomains, type ScanOptions } from '../../src/scan/scan.js';
import { FixtureResolver, mx, type FixtureAnswer } from '../support/fixture-resolver.js';

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
  const o: ScanOptions = {
    resolver,
    concurrency: 10,
    port: 25,
    helo: 'client.example',
    timeoutMs: 5000,
    session: session as ScanOptions['session'],
    onResult: (r) => results.push(r),
    ...extra,
  };
  return { o, results };
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
    const dead = new FixtureResolver({}, { proof: 'indeterminate', status: 'failed', reason: 'timeout after 5000 ms' });
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
