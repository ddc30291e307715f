/**
 * The scanner's loop: every pending domain is checked exactly as `check` does it (runAll
 * with a probe job: MX, TLSA, STARTTLS, authentication, QUIT; findings included), with
 *
 * - a bounded number of domains at once;
 * - a time budget per domain (its own AbortSignal); time spent waiting for the politeness
 *   gate does not count against it, so many domains behind one busy MX host are not
 *   failed for waiting their turn;
 * - at most one connection per MX address at a time across the whole scan (connectGate);
 * - each result stored (committed) before it is reported, so an interruption loses
 *   nothing already checked. Domains still running when the scan is interrupted are not
 *   stored: a rerun checks them.
 */
import { setMaxListeners } from 'node:events';
import { runAll, type RunOptions, type Work } from '../delivery/run.js';
import type { DomainResult } from '../delivery/result.js';
import { probeValidation, type ValidationProbe } from '../dns/probe.js';
import { TRANSPORT_FAILURE_PREFIXES } from '../dns/stub.js';
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
  /** A domain was given up without a result to store (resolver unreachable, interrupted). */
  onUnfinished?: (domain: string, why: string) => void;
  /** The validation probe, if the caller made it already (else it is made here). */
  probe?: ValidationProbe;
}

export interface ScanOutcome {
  probe: ValidationProbe;
  checked: number;
  /** Domains without a stored result (interrupted, resolver unreachable). */
  unfinished: number;
  interrupted: boolean;
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
}

export async function scanDomains(works: Work[], options: ScanOptions): Promise<ScanOutcome> {
  const { budgetMs, gate: givenGate, onResult, onUnfinished, probe: givenProbe, signal, concurrency, ...runOptions } = options;
  const gate = givenGate ?? addressGate(1);
  const probe = givenProbe ?? (await probeValidation(options.resolver, signal));
  const outcome: ScanOutcome = { probe, checked: 0, unfinished: 0, interrupted: false };
  let next = 0;

  const one = async (work: Work): Promise<void> => {
    const startedAt = new Date();
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // one listener per lookup or session in flight
    const onInterrupt = (): void => controller.abort();
    signal?.addEventListener('abort', onInterrupt, { once: true });
    const budget = budgetMs ? new Budget(budgetMs, controller) : undefined;
    budget?.resume();
    let result: DomainResult | undefined;
    let failure: string | undefined;
    try {
      const [r] = await runAll([work], {
        probe,
        ...runOptions,
        concurrency: 1,
        signal: controller.signal,
        connectGate: async (address) => {
          budget?.pause();
          try {
            return await gate.acquire(address, controller.signal);
          } finally {
            budget?.resume();
          }
        },
      });
      result = r;
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    } finally {
      budget?.pause();
      signal?.removeEventListener('abort', onInterrupt);
    }
    if (signal?.aborted) {
      outcome.unfinished++;
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
      outcome.unfinished++;
      onUnfinished?.(work.domain, result.reason);
      return;
    }
    onResult(result, { startedAt, finishedAt: new Date() });
    outcome.checked++;
  };

  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, works.length)) }, async () => {
    while (next < works.length && !signal?.aborted) {
      await one(works[next++]!);
    }
  });
  await Promise.all(workers);
  outcome.interrupted = Boolean(signal?.aborted);
  if (outcome.interrupted) outcome.unfinished += works.length - next;
  return outcome;
}

/**
 * The MX lookup got no answer from the resolver at all (a timeout or socket error on our
 * side; a lame domain gives SERVFAIL instead): this says nothing about the domain.
 */
function resolverWentAway(result: DomainResult): boolean {
  const mx = result.mx;
  return result.verdict === 'tempfail' && mx?.status === 'failed' && TRANSPORT_FAILURE_PREFIXES.some((p) => (mx.reason ?? '').startsWith(p));
}
