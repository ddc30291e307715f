import { describe, expect, it } from 'vitest';
import { CachingResolver } from '../../../src/dns/cache.js';
import type { DnsAnswer, LookupOptions, LookupStatus, RDataOf, RecordType, Resolver } from '../../../src/dns/types.js';

/** An inner resolver whose answers the test releases by hand. */
class Manual implements Resolver {
  calls: { name: string; type: string; signal?: AbortSignal }[] = [];
  pending: { resolve: (a: DnsAnswer<unknown>) => void; reject: (e: unknown) => void; name: string }[] = [];
  lookup<K extends RecordType>(name: string, type: K, options: LookupOptions = {}): Promise<DnsAnswer<RDataOf[K]>> {
    this.calls.push({ name, type, ...(options.signal ? { signal: options.signal } : {}) });
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: resolve as (a: DnsAnswer<unknown>) => void, reject, name });
      options.signal?.addEventListener('abort', () => reject(new Error('inner aborted')), { once: true });
    });
  }
  answer(i: number, a: DnsAnswer<unknown>): void {
    this.pending[i]!.resolve(a);
  }
}

function ans(name: string, status: LookupStatus, ttl = 300): DnsAnswer<string> {
  return { qname: name, qtype: 'A', status, proof: status === 'failed' ? 'indeterminate' : 'secure', records: status === 'data' ? ['127.0.0.1'] : [], ttl, cnameChain: [name], canonicalName: name };
}

/** An inner resolver answering at once from a function. */
function instant(f: (name: string) => DnsAnswer<unknown>): Resolver & { count: number } {
  const r = {
    count: 0,
    async lookup<K extends RecordType>(name: string): Promise<DnsAnswer<RDataOf[K]>> {
      r.count++;
      return f(name) as DnsAnswer<RDataOf[K]>;
    },
  };
  return r;
}

describe('CachingResolver', () => {
  it('keeps an answer for its TTL, counts the TTL down, then asks again', async () => {
    let now = 1_000_000;
    const inner = instant((n) => ans(n, 'data', 60));
    const c = new CachingResolver(inner, { now: () => now });
    expect((await c.lookup('mx.example', 'A')).ttl).toBe(60);
    now += 20_000;
    const again = await c.lookup('MX.example.', 'A');
    expect(again.ttl).toBe(40);
    expect(again.records).toEqual(['127.0.0.1']);
    expect(inner.count).toBe(1);
    await c.lookup('mx.example', 'AAAA'); // another type is another question
    expect(inner.count).toBe(2);
    now += 41_000;
    await c.lookup('mx.example', 'A');
    expect(inner.count).toBe(3);
    expect(c.stats).toMatchObject({ hits: 1, misses: 3 });
  });

  it('does not keep a TTL of 0, caps long TTLs', async () => {
    let now = 0;
    const zero = instant((n) => ans(n, 'data', 0));
    const c0 = new CachingResolver(zero, { now: () => now });
    await c0.lookup('a.example', 'A');
    await c0.lookup('a.example', 'A');
    expect(zero.count).toBe(2);
    const long = instant((n) => ans(n, 'data', 86_400 * 7));
    const c1 = new CachingResolver(long, { now: () => now, maxTtlSeconds: 100 });
    await c1.lookup('a.example', 'A');
    now += 101_000;
    await c1.lookup('a.example', 'A');
    expect(long.count).toBe(2);
  });

  it('keeps NODATA/NXDOMAIN for the negative TTL and failures only briefly', async () => {
    let now = 0;
    const statuses: Record<string, LookupStatus> = { 'nodata.example': 'nodata', 'nx.example': 'nxdomain', 'fail.example': 'failed' };
    const inner = instant((n) => ans(n, statuses[n]!, 0));
    const c = new CachingResolver(inner, { now: () => now, negativeTtlSeconds: 60, failureTtlSeconds: 2 });
    for (const n of Object.keys(statuses)) await c.lookup(n, 'A');
    expect(inner.count).toBe(3);
    now += 1500;
    for (const n of Object.keys(statuses)) expect((await c.lookup(n, 'A')).status).toBe(statuses[n]);
    expect(inner.count).toBe(3);
    now += 1000; // 2.5 s: the failure is asked again, the negative answers are still kept
    for (const n of Object.keys(statuses)) await c.lookup(n, 'A');
    expect(inner.count).toBe(4);
    now += 60_000;
    for (const n of Object.keys(statuses)) await c.lookup(n, 'A');
    expect(inner.count).toBe(7);
  });

  it('shares a lookup in flight', async () => {
    const inner = new Manual();
    const c = new CachingResolver(inner);
    const a = c.lookup('_25._tcp.mx.example', 'TLSA');
    const b = c.lookup('_25._tcp.mx.example', 'TLSA');
    expect(inner.calls).toHaveLength(1);
    inner.answer(0, ans('_25._tcp.mx.example', 'data'));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.status).toBe('data');
    expect(rb.status).toBe('data');
    expect(c.stats).toMatchObject({ misses: 1, joined: 1 });
  });

  it('a caller that aborts stops waiting; the others still get the answer', async () => {
    const inner = new Manual();
    const c = new CachingResolver(inner);
    const ac = new AbortController();
    const a = c.lookup('x.example', 'A', { signal: ac.signal });
    const b = c.lookup('x.example', 'A', { signal: new AbortController().signal });
    ac.abort();
    await expect(a).rejects.toMatchObject({ code: 'ABORTED' });
    expect(inner.calls[0]!.signal!.aborted).toBe(false);
    inner.answer(0, ans('x.example', 'data'));
    expect((await b).status).toBe('data');
  });

  it('the upstream lookup is aborted when every caller has aborted; a later caller starts afresh', async () => {
    const inner = new Manual();
    const c = new CachingResolver(inner);
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const a = c.lookup('y.example', 'A', { signal: ac1.signal });
    const b = c.lookup('y.example', 'A', { signal: ac2.signal });
    ac1.abort();
    ac2.abort();
    await expect(a).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(b).rejects.toMatchObject({ code: 'ABORTED' });
    expect(inner.calls[0]!.signal!.aborted).toBe(true);
    const d = c.lookup('y.example', 'A');
    expect(inner.calls).toHaveLength(2);
    inner.answer(1, ans('y.example', 'data'));
    expect((await d).status).toBe('data');
    await expect(c.lookup('z.example', 'A', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('an inner rejection reaches every waiter and is not cached', async () => {
    const inner = new Manual();
    const c = new CachingResolver(inner);
    const a = c.lookup('e.example', 'A');
    const b = c.lookup('e.example', 'A');
    inner.pending[0]!.reject(new Error('boom'));
    await expect(a).rejects.toThrow('boom');
    await expect(b).rejects.toThrow('boom');
    void c.lookup('e.example', 'A');
    expect(inner.calls).toHaveLength(2);
  });

  it('keeps an answer no longer than its signatures (signatureExpires), whatever its TTL', async () => {
    let now = 1_000_000;
    const expiresAt = (ms: number) => new Date(now + ms).toISOString();
    const sigEnd = expiresAt(10_000);
    const inner = instant((n) => ({ ...ans(n, n.startsWith('nx') ? 'nxdomain' : 'data', 300), signatureExpires: sigEnd }));
    const c = new CachingResolver(inner, { now: () => now });
    expect((await c.lookup('a.example', 'A')).signatureExpires).toBe(sigEnd);
    await c.lookup('nx.example', 'A');
    now += 9_000;
    await c.lookup('a.example', 'A');
    await c.lookup('nx.example', 'A');
    expect(inner.count).toBe(2);
    now += 2_000; // past the signatures, well within the TTL of 300 s and the negative TTL of 60 s
    await c.lookup('a.example', 'A');
    await c.lookup('nx.example', 'A');
    expect(inner.count).toBe(4);
    // Signatures already expired: not kept at all.
    const stale = instant((n) => ({ ...ans(n, 'data', 300), signatureExpires: new Date(now - 1000).toISOString() }));
    const c2 = new CachingResolver(stale, { now: () => now });
    await c2.lookup('a.example', 'A');
    await c2.lookup('a.example', 'A');
    expect(stale.count).toBe(2);
    expect(c2.stats.size).toBe(0);
  });

  it('a deadline failure of the inner lookup reaches every waiter and is kept only for failureTtlSeconds', async () => {
    let now = 0;
    const inner = new Manual();
    const c = new CachingResolver(inner, { now: () => now, failureTtlSeconds: 5 });
    const a = c.lookup('slow.example', 'A');
    const b = c.lookup('slow.example', 'A', { signal: new AbortController().signal });
    inner.answer(0, { ...ans('slow.example', 'failed'), reason: 'timeout after 2s: the DNSSEC validation of A slow.example did not finish in time' });
    for (const r of await Promise.all([a, b])) expect(r).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^timeout/) });
    now += 4_000;
    expect((await c.lookup('slow.example', 'A')).status).toBe('failed');
    expect(inner.calls).toHaveLength(1);
    now += 1_500;
    const again = c.lookup('slow.example', 'A');
    expect(inner.calls).toHaveLength(2);
    inner.answer(1, ans('slow.example', 'data'));
    expect((await again).status).toBe('data');
  });

  it('drops the oldest answers beyond maxEntries', async () => {
    const inner = instant((n) => ans(n, 'data'));
    const c = new CachingResolver(inner, { maxEntries: 2 });
    await c.lookup('1.example', 'A');
    await c.lookup('2.example', 'A');
    await c.lookup('3.example', 'A');
    expect(c.stats.size).toBe(2);
    await c.lookup('1.example', 'A');
    expect(inner.count).toBe(4);
  });
});
