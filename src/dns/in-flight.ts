/**
 * Work shared by concurrent callers with the same key (the caching resolver's lookups, the
 * validator's queries and chain steps): started once, each caller waits for it on its own
 * signal. A caller whose signal aborts stops waiting (rejected with `abandoned()`) without
 * disturbing the others; the work's own signal aborts only when every caller has stopped
 * waiting, and a later caller then starts afresh. A caller without a signal waits to the end.
 */
/** Shared work whose every waiter stopped waiting (a deadline or an abort): never an answer. */
export class Abandoned extends Error {
  constructor() {
    super('abandoned');
  }
}

interface Shared {
  promise: Promise<unknown>;
  controller: AbortController;
  waiters: number;
}

export class InFlight {
  readonly #shared = new Map<string, Shared>();

  /** `abandoned`: the error a caller that stopped waiting is rejected with. */
  constructor(private readonly abandoned: () => Error) {}

  /** The work for `key`: `fn` started now, or joined (`joined`) when already under way. */
  run<V>(key: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<V>): { promise: Promise<V>; joined: boolean } {
    if (signal?.aborted) return { promise: Promise.reject(this.abandoned()), joined: false };
    let entry = this.#shared.get(key);
    const joined = entry !== undefined;
    if (!entry) {
      const controller = new AbortController();
      const started: Shared = { controller, waiters: 0, promise: Promise.resolve() };
      started.promise = fn(controller.signal).finally(() => {
        if (this.#shared.get(key) === started) this.#shared.delete(key);
      });
      // Nobody may be left to observe a rejection (every waiter gone).
      started.promise.catch(() => {});
      this.#shared.set(key, started);
      entry = started;
    }
    return { promise: this.#wait(key, entry, signal) as Promise<V>, joined };
  }

  #wait(key: string, entry: Shared, signal: AbortSignal | undefined): Promise<unknown> {
    entry.waiters++;
    if (!signal) return entry.promise;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        entry.waiters--;
        if (entry.waiters === 0) {
          // Nobody waits any more: stop the work; a later caller starts afresh.
          if (this.#shared.get(key) === entry) this.#shared.delete(key);
          entry.controller.abort();
        }
        reject(this.abandoned());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
