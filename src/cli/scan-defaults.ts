/** Defaults of `dane-smtp scan`, shared by its options and its actions. */
import { availableParallelism } from 'node:os';

/**
 * Domains at once by default: 16 per CPU, at most 128. A domain costs ~8 ms of CPU and
 * seconds of network waiting (docs/benchmarks.md), so the scanner waits on the
 * network long before the CPU limits it; politeness (one connection per MX address) and
 * the per-domain budget bound the load on any one receiver.
 */
export function defaultScanConcurrency(): number {
  return Math.min(128, 16 * availableParallelism());
}

/** Default time budget per domain, seconds. */
export const DEFAULT_DOMAIN_BUDGET = 120;
