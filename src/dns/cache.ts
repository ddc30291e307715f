/**
 * A caching Resolver wrapper for runs over many domains (the scanner): domains that share
 * MX hosts ask for the same host addresses and TLSA records; they are asked once.
 *
 * - Answers with records are kept for their TTL (the smallest TTL of the records, capped by
 *   `maxTtlSeconds`); a TTL of 0 is not cached (RFC 1035 §3.2.1).
 * - NODATA / NXDOMAIN answers carry no TTL here (the stub does not report the SOA minimum):
 *   they are kept for `negativeTtlSeconds`.
 * - Failed answers (SERVFAIL, timeout, bogus) are kept only briefly (`failureTtlSeconds`),
 *   so one bad moment does not fail every domain for long, and a dead server is not asked
 *   a hundred times in the same second.
 * - Lookups in flight are shared: the second caller waits for the first lookup. A caller
 *   that aborts stops waiting (DaneSmtpError ABORTED) without disturbing the others; the
 *   upstream lookup is aborted only when every caller waiting for it has aborted.
 * - Nothing is kept past the earliest expiration of the RRSIGs behind an answer
 *   (`signatureExpires`): a secure answer is no longer secure once they expire. The TTL of
 *   a validated answer is already capped by the RRSIGs' original TTL and expiration
 *   (ValidatingResolver, RFC 4035 §5.3.3); an AD-bit resolver does that itself.
 * - No deadline of its own: a shared lookup is one lookup of the inner resolver, which
 *   ends within its deadline (StubResolver, ValidatingResolver: `timeoutMs` per lookup);
 *   a caller who joins it waits at most for what is left of it. A deadline failure is a
 *   failed answer like any other: kept for `failureTtlSeconds` only.
 * - A cached answer is returned with its TTL counted down.
 *
 * The map is ttl-map.ts and the sharing in-flight.ts, the same as the validator's.
 */
import { DaneSmtpError } from '../errors.js';
import { InFlight } from './in-flight.js';
import { TtlMap } from './ttl-map.js';
import type { DnsAnswer, LookupOptions, RDataOf, RecordType, Resolver } from './types.js';

export interface CachingResolverOptions {
  /** Upper bound of the time an answer with records is kept (default 3600 s). */
  maxTtlSeconds?: number;
  /** NODATA / NXDOMAIN answers (default 60 s). */
  negativeTtlSeconds?: number;
  /** Failed answers (default 5 s). */
  failureTtlSeconds?: number;
  /** Most answers kept; the oldest are dropped first (default 200,000). */
  maxEntries?: number;
  /** Milliseconds clock (tests). */
  now?: () => number;
}

export interface CacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that joined one already in flight. */
  joined: number;
  /** Lookups sent to the inner resolver. */
  misses: number;
  /** Answers currently kept. */
  size: number;
}

interface Entry {
  answer: DnsAnswer<unknown>;
  storedAt: number;
}

function abortedError(): DaneSmtpError {
  return new DaneSmtpError('ABORTED', 'DNS lookup aborted by the caller');
}

export class CachingResolver implements Resolver {
  readonly #inner: Resolver;
  readonly #entries: TtlMap<Entry>;
  readonly #inFlight = new InFlight(abortedError);
  readonly #maxTtl: number;
  readonly #negativeTtl: number;
  readonly #failureTtl: number;
  readonly #now: () => number;
  #hits = 0;
  #joined = 0;
  #misses = 0;

  constructor(inner: Resolver, options: CachingResolverOptions = {}) {
    this.#inner = inner;
    this.#maxTtl = options.maxTtlSeconds ?? 3600;
    this.#negativeTtl = options.negativeTtlSeconds ?? 60;
    this.#failureTtl = options.failureTtlSeconds ?? 5;
    this.#entries = new TtlMap(options.maxEntries ?? 200_000);
    this.#now = options.now ?? Date.now;
  }

  get validatesItself(): boolean {
    return this.#inner.validatesItself === true;
  }

  get stats(): CacheStats {
    return { hits: this.#hits, joined: this.#joined, misses: this.#misses, size: this.#entries.size };
  }

  /** How long (seconds) an answer is kept. */
  #lifetime(answer: DnsAnswer<unknown>): number {
    switch (answer.status) {
      case 'data':
        return Math.min(answer.ttl, this.#maxTtl);
      case 'nodata':
      case 'nxdomain':
        return answer.ttl > 0 ? Math.min(answer.ttl, this.#negativeTtl) : this.#negativeTtl;
      case 'failed':
        return this.#failureTtl;
    }
  }

  async lookup<K extends RecordType>(name: string, type: K, options: LookupOptions = {}): Promise<DnsAnswer<RDataOf[K]>> {
    const signal = options.signal;
    if (signal?.aborted) throw abortedError();
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const now = this.#now();
    const entry = this.#entries.get(key, now);
    if (entry) {
      this.#hits++;
      const elapsed = Math.floor((now - entry.storedAt) / 1000);
      const a = entry.answer as DnsAnswer<RDataOf[K]>;
      return a.ttl > 0 ? { ...a, ttl: Math.max(0, a.ttl - elapsed) } : { ...a };
    }
    const { promise, joined } = this.#inFlight.run(key, signal, (s) =>
      this.#inner.lookup(name, type, { signal: s }).then((answer) => {
        const ttl = this.#lifetime(answer);
        if (ttl > 0) this.#store(key, answer, ttl);
        return answer;
      }),
    );
    if (joined) this.#joined++;
    else this.#misses++;
    return promise;
  }

  #store(key: string, answer: DnsAnswer<unknown>, ttlSeconds: number): void {
    const now = this.#now();
    let expiresAt = now + ttlSeconds * 1000;
    // A secure answer is no longer secure once its signatures expire.
    const sigExpires = answer.signatureExpires ? Date.parse(answer.signatureExpires) : NaN;
    if (Number.isFinite(sigExpires)) expiresAt = Math.min(expiresAt, sigExpires);
    this.#entries.set(key, { answer, storedAt: now }, expiresAt, now);
  }

  /** Drops every kept answer (lookups in flight are not affected). */
  clear(): void {
    this.#entries.clear();
  }
}
