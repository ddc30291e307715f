/**
 * Scan results and StoreError checks for the scan file tests (test/unit/scan/).
 */
import type { DomainResult } from '../../src/core/result.js';

export function result(domain: string): DomainResult {
  return { domain, verdict: 'opportunistic', host: `mx.${domain}`, address: '192.0.2.1', tls: true, reason: 'r', mx: null, hosts: [], resolverValidates: true, level: 'dane', policySource: 'default' };
}

export const times = { startedAt: new Date(), finishedAt: new Date() };
