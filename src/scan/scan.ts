/**
 * The scanner's loop: every pending domain is checked exactly as `check` does it (runAll
 * with a probe job: MX, TLSA, STARTTLS, authentication, QUIT; findings included), with
 *
 * - at most `concurrency` domains doing work (DNS, a session) at once. A domain that must
 *   wait for a busy MX address gives its slot up while it waits, so domains on other
 *   addresses go on; at most `waitersPerAddress` wait at one address: a further domain for
 *   it is re-queued (before it has connected anywhere) and checked again, from the DNS
 *   cache, when that queue moves. At most `maxAdmitted` domains are in memory at once;
 * - a time budget per domain (its own AbortSignal); time spent waiting for the politeness
 *   gate, for a slot after it, or re-queued does not count against it, so many domains
 *   behind one busy MX host are not failed for waiting their turn;
 * - at most one connection per MX address at a time across the whole scan (connectGate);
 * - each result stored (committed) before it is reported, so an interruption loses
 *   nothing already checked. Domains still running when the scan is interrupted are not
 *   stored: a rerun checks them.
 */
import { setMaxListeners } from 'node:events';
import { runAll, type RunOptions, type Work } from '../engine/run.js';
import type { DomainResult } from '../core/result.js';
import { probeValidation, type ValidationProbe } from '../dns/probe.js';
import { isTransportFailure } from '../dns/stub.js';
import type { Resolver } from '../dns/types.js';
import { addressGate, type AddressGate } from './gate.js';

export interface ScanOptions extends Omit<RunOptions, 'resolver' | 'concurrency' | 'signal' | 'onResult' | 'onProbe' | 'connectGate'> {
  resolver: Resolver;
  concurrency: number;
  /** Milliseconds per domain; 0 or undefined: none. */
  budgetMs?: number;
  /** Interrupts the scan (Ctrl-C): running domains are abandoned and not reported. */
  signal?: AbortSignal;
  /** Default: one connection per address at a time. */
  gate?: AddressGate;
  /** Called with each finished domain; return once it is stored. */
  onResult: (result: DomainResult, times: { startedAt: Date; finishedAt: Date }) => void;
  /** A domain was given up without a result to store (resolver unreachable, interrupted; a re-queued one too). */
  onUnfinished?: (domain: string, why: string) => void;
  /** The validation probe, if the caller made it already (else it is made here). */
  probe?: ValidationProbe;
  /** Domains in memory at once (running or waiting at a busy address); default 4 × concurrency. */
  maxAdmitted?: number;
  /** Domains that may wait at one busy address; more are re-queued until it moves (default 2). */
  waitersPerAddress?: number;
}

export interface ScanOutcome {
  probe: ValidationProbe;
  checked: number;
  /** Domains without a stored result (interrupted, resolver unreachable). */
  unfinished: number;
  interrupted: boolean;
  /** Most domains in memory at once. */
  peakAdmitted: number;
  /** Attempts given up at a busy address and re-queued. */
  requeued: number;
}

/** A result for a domain that ran out of its budget before anything could be reported. */
function budgetResult(work: Work, seconds: number, resolverValidates: boolean): DomainResult {
  return {
    domain: work.domain,
    verdict: 'tempfail',
    host: null,
    address: null,
    tls: false,
    reason: `domain budget of ${seconds} s exceeded`,
    mx: null,
    hosts: [],
    resolverValidates,
    level: work.policy?.level ?? 'dane',
    policySource: work.policy?.source ?? 'default',
  };
}

/** A pausable timer that aborts `controller` when `ms` of running time are used up. */
class Budget {
  #remaining: number;
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #controller: AbortController;
  expired = false;

  constructor(ms: number, controller: AbortController) {
    this.#remaining = ms;
    this.#controller = controller;
  }

  resume(): void {
    if (this.#timer || this.expired) return;
    this.#since = Date.now();
    this.#timer = setTimeout(() => {
      this.expired = true;
      this.#controller.abort();
    }, Math.max(0, this.#remaining));
  }

  pause(): void {
    if (!this.#timer) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#remaining -= Date.now() - this.#since;
  }

  /** Milliseconds left (while paused). */
  get remaining(): number {
    return Math.max(0, this.#remaining);
  }
}

/** A domain not yet (or no longer) running: re-queued ones keep their start time and budget. */
interface Pending {
  work: Work;
  startedAt?: Date;
  budgetLeft?: number;
}

/** Thrown by the gate hook to give up an attempt whose address is busy (the domain is re-queued). */
class Requeued extends Error {}

export async function scanDomains(works: Work[], options: ScanOptions): Promise<ScanOutcome> {
  const { budgetMs, gate: givenGate, onResult, onUnfinished, probe: givenProbe, signal, concurrency, maxAdmitted, waitersPerAddress, ...runOptions } = options;
  const gate = givenGate ?? addressGate(1);
  const probe = givenProbe ?? (await probeValidation(options.resolver, signal));
  const outcome: ScanOutcome = { probe, checked: 0, unfinished: 0, interrupted: false, peakAdmitted: 0, requeued: 0 };
  const slots = Math.max(1, concurrency);
  const cap = Math.max(slots, maxAdmitted ?? 4 * slots);
  const perAddress = Math.max(1, waitersPerAddress ?? 2);

  // Slots: domains doing work (DNS, a session). A domain waiting at a gate gives its slot
  // up; once let through it takes one back before anything else starts (resumers first).
  let freeSlots = slots;
  const resumers: (() => void)[] = [];
  // Admission: input order, re-queued domains first; at most `cap` admitted at once.
  let next = 0;
  let admitted = 0;
  const front: Pending[] = [];
  // Domains re-queued because their address was busy with `perAddress` waiters already:
  // one goes back to the queue each time a waiter there is let through.
  const parked = new Map<string, Pending[]>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let pumping = false;
  let again = false;
  // onResult threw (the store: disk full, I/O error): nothing more is started, the running
  // domains are abandoned (not stored) and the error is thrown once they have ended.
  const halt = new AbortController();
  setMaxListeners(0, halt.signal); // one listener per running domain
  let storeFailure: { error: unknown } | undefined;
  const stopped = (): boolean => Boolean(signal?.aborted) || halt.signal.aborted;

  const hasPending = (): boolean => front.length > 0 || next < works.length;
  const pump = (): void => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    do {
      again = false;
      // An address with parked domains that nobody holds or waits for any more (its last
      // holder finished with no waiter, an unparked domain connected without waiting or never
      // came back to it): one of them goes back to the queue.
      if (!stopped()) {
        for (const [address, list] of parked) {
          if (gate.wouldWait(address) || gate.waitingAt(address) > 0) continue;
          front.push(list.shift()!);
          if (list.length === 0) parked.delete(address);
        }
      }
      while (!stopped() && freeSlots > 0 && admitted < cap && hasPending()) {
        const p = front.shift() ?? { work: works[next++]! };
        freeSlots--;
        admitted++;
        outcome.peakAdmitted = Math.max(outcome.peakAdmitted, admitted);
        void one(p).then(() => {
          admitted--;
          pump();
        });
      }
      if (admitted === 0 && !stopped() && !hasPending() && parked.size > 0) {
        // Should not happen (see above); never lose one.
        for (const list of parked.values()) front.push(...list);
        parked.clear();
        again = true;
      }
    } while (again);
    pumping = false;
    if (admitted === 0 && (stopped() || !hasPending())) finish();
  };
  const releaseSlot = (): void => {
    const resumer = resumers.shift();
    if (resumer) return resumer();
    freeSlots++;
    pump();
  };
  const takeSlot = (s: AbortSignal): Promise<boolean> => {
    if (s.aborted) return Promise.resolve(false);
    if (freeSlots > 0) {
      freeSlots--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const resumer = (): void => {
        s.removeEventListener('abort', onAbort);
        resolve(true);
      };
      const onAbort = (): void => {
        const i = resumers.indexOf(resumer);
        if (i >= 0) resumers.splice(i, 1);
        resolve(false);
      };
      s.addEventListener('abort', onAbort, { once: true });
      resumers.push(resumer);
    });
  };
  const unpark = (address: string): void => {
    const list = parked.get(address);
    if (!list) return;
    front.push(list.shift()!);
    if (list.length === 0) parked.delete(address);
    pump();
  };

  // A connection's release: if that leaves the address free (no waiter took it over), a
  // domain parked there goes back to the queue now rather than at the end of the scan.
  const afterRelease = (address: string, release: () => void): (() => void) => () => {
    release();
    if (parked.has(address) && !gate.wouldWait(address) && gate.waitingAt(address) === 0) unpark(address);
  };

  // Holds a slot from admission; returns it before it resolves. Never rejects.
  const one = async (p: Pending): Promise<void> => {
    const { work } = p;
    const startedAt = p.startedAt ?? new Date();
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // one listener per lookup or session in flight
    const onInterrupt = (): void => controller.abort();
    signal?.addEventListener('abort', onInterrupt, { once: true });
    halt.signal.addEventListener('abort', onInterrupt, { once: true });
    const budget = budgetMs ? new Budget(p.budgetLeft ?? budgetMs, controller) : undefined;
    budget?.resume();
    let holdsSlot = true;
    let connected = false; // this attempt has had a connection: it is never re-queued after that
    let requeued = false;
    let result: DomainResult | undefined;
    let failure: string | undefined;
    try {
      const [r] = await runAll([work], {
        probe,
        ...runOptions,
        concurrency: 1,
        signal: controller.signal,
        connectGate: async (address) => {
          if (controller.signal.aborted || !gate.wouldWait(address)) {
            connected = true;
            return afterRelease(address, await gate.acquire(address, controller.signal));
          }
          if (!connected && gate.waitingAt(address) >= perAddress) {
            // Enough domains wait there already: give this attempt up (nothing sent yet)
            // and check the domain again when that queue moves. Its DNS answers are cached.
            requeued = true;
            outcome.requeued++;
            budget?.pause();
            const list = parked.get(address) ?? [];
            list.push({ work, startedAt, ...(budget ? { budgetLeft: budget.remaining } : {}) });
            parked.set(address, list);
            controller.abort();
            throw new Requeued(address);
          }
          // Wait without a slot; neither this wait nor the one for a slot counts against the budget.
          budget?.pause();
          holdsSlot = false;
          releaseSlot();
          let release: () => void;
          try {
            release = await gate.acquire(address, controller.signal);
          } finally {
            // Let through (or given up): one domain parked here goes back to the queue, and
            // this one takes a slot back before it goes on, even if the gate failed.
            unpark(address);
            holdsSlot = await takeSlot(controller.signal);
            budget?.resume();
          }
          connected = true;
          return afterRelease(address, release);
        },
      });
      result = r;
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    } finally {
      budget?.pause();
      signal?.removeEventListener('abort', onInterrupt);
      halt.signal.removeEventListener('abort', onInterrupt);
    }
    try {
      if (requeued) return; // parked: checked again later (or, interrupted, by a rerun)
      if (stopped()) {
        onUnfinished?.(work.domain, 'interrupted');
        return;
      }
      if (budget?.expired) {
        const seconds = Math.round(budgetMs! / 100) / 10;
        if (!result || result.verdict === 'tempfail') {
          // What was learnt before the budget ran out (MX answer, hosts) is kept.
          const base = budgetResult(work, seconds, probe.validates);
          result = result ? { ...result, reason: base.reason } : base;
        }
      } else if (!result) {
        result = { ...budgetResult(work, 0, probe.validates), reason: `internal error: ${failure ?? 'no result'}` };
      }
      if (result.deferredEarly === 'resolver' || resolverWentAway(result)) {
        // The resolver went away: this says nothing about the domain; a rerun checks it.
        onUnfinished?.(work.domain, result.reason);
        return;
      }
      onResult(result, { startedAt, finishedAt: new Date() });
      outcome.checked++;
    } catch (e) {
      storeFailure ??= { error: e };
      halt.abort();
    } finally {
      if (holdsSlot) releaseSlot();
    }
  };

  pump();
  await finished;
  if (stopped()) {
    // Domains that had started and were re-queued (parked, or back in the queue) are given up too.
    for (const p of [...front, ...[...parked.values()].flat()]) if (p.startedAt) onUnfinished?.(p.work.domain, 'interrupted');
  }
  if (storeFailure) throw storeFailure.error;
  outcome.interrupted = Boolean(signal?.aborted);
  // Not stored: interrupted, resolver gone, never started, re-queued when interrupted.
  outcome.unfinished = works.length - outcome.checked;
  return outcome;
}

/**
 * The MX lookup got no answer from the resolver at all (a timeout or socket error on our
 * side; a lame domain gives SERVFAIL instead): this says nothing about the domain.
 */
function resolverWentAway(result: DomainResult): boolean {
  const mx = result.mx;
  return result.verdict === 'tempfail' && mx !== null && isTransportFailure(mx);
}
