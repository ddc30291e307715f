/**
 * The two small pieces the caching resolver and the validator share: the TTL map
 * (src/dns/ttl-map.ts) and the in-flight sharing (src/dns/in-flight.ts).
 */
import { describe, expect, it } from 'vitest';
import { Abandoned, InFlight } from '../../../src/dns/in-flight.js';
import { TtlMap } from '../../../src/dns/ttl-map.js';

describe('TtlMap', () => {
  it('returns a value until it expires, never after; an expiry not after now keeps nothing', () => {
    const m = new TtlMap<string>(10);
    m.set('a', 'x', 2000, 1000);
    expect(m.get('a', 1999)).toBe('x');
    expect(m.get('a', 2000)).toBeUndefined();
    expect(m.size).toBe(0);
    m.set('b', 'y', 1000, 1000);
    expect(m.get('b', 0)).toBeUndefined();
  });

  it('drops the oldest stored first when full; storing again makes a value the newest', () => {
    const m = new TtlMap<number>(2);
    m.set('a', 1, 10_000, 0);
    m.set('b', 2, 10_000, 0);
    m.set('a', 3, 10_000, 0);
    m.set('c', 4, 10_000, 0);
    expect(m.get('b', 1)).toBeUndefined();
    expect(m.get('a', 1)).toBe(3);
    expect(m.get('c', 1)).toBe(4);
  });
});

describe('InFlight', () => {
  it('runs the work once for concurrent callers; the second joins', async () => {
    const f = new InFlight(() => new Abandoned());
    let runs = 0;
    let release!: (v: string) => void;
    const work = () => {
      runs++;
      return new Promise<string>((r) => (release = r));
    };
    const a = f.run('k', undefined, work);
    const b = f.run('k', undefined, work);
    expect([a.joined, b.joined, runs]).toEqual([false, true, 1]);
    release('v');
    expect(await Promise.all([a.promise, b.promise])).toEqual(['v', 'v']);
    expect(f.run('k', undefined, async () => 'again').joined).toBe(false);
  });

  it('a caller that aborts stops waiting alone; the work is aborted only when nobody waits', async () => {
    const f = new InFlight(() => new Abandoned());
    let workSignal!: AbortSignal;
    let release!: (v: string) => void;
    const work = (s: AbortSignal) => ((workSignal = s), new Promise<string>((r) => (release = r)));
    const c1 = new AbortController();
    const c2 = new AbortController();
    const a = f.run('k', c1.signal, work);
    const b = f.run('k', c2.signal, work);
    c1.abort();
    await expect(a.promise).rejects.toBeInstanceOf(Abandoned);
    expect(workSignal.aborted).toBe(false);
    c2.abort();
    await expect(b.promise).rejects.toBeInstanceOf(Abandoned);
    expect(workSignal.aborted).toBe(true);
    release('late');
    // A later caller starts afresh.
    expect(f.run('k', undefined, async () => 'new').joined).toBe(false);
  });
});
