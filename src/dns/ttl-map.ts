/**
 * The one small TTL map of the DNS code, used by the caching resolver (cache.ts) and the
 * validator's answer and zone caches (dnssec/): values kept until a given time, at most
 * `max` of them; the oldest stored is dropped first. An expired value is never returned
 * (and is dropped when met). Times are milliseconds from the caller's clock.
 */
export class TtlMap<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The value of `key` if it has not expired at `now`. */
  get(key: string, now: number): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Keeps `value` until `expires` (nothing when that is not after `now`); replaces what `key` held. */
  set(key: string, value: V, expires: number, now: number): void {
    this.#entries.delete(key);
    if (expires <= now) return;
    this.#entries.set(key, { value, expires });
    while (this.#entries.size > this.max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
