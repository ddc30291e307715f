/** RFC 7672 §2.1.1: what a DNS answer counts as. Pure. */
import type { DnsAnswer, Proof } from '../../dns/types.js';

/**
 * RFC 7672 §2.1.1: a bogus or indeterminate answer is a failed lookup, whatever else it
 * says. The built-in resolvers never pair them with data, but a Resolver is pluggable.
 */
export function answerFailed(answer: DnsAnswer<unknown>): boolean {
  return answer.status === 'failed' || answer.proof === 'bogus' || answer.proof === 'indeterminate';
}

export function failedWhy(answer: DnsAnswer<unknown>): string {
  return `${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}`;
}

export function weakest(proofs: Proof[]): Proof {
  for (const p of ['bogus', 'indeterminate', 'insecure'] as const) if (proofs.includes(p)) return p;
  return 'secure';
}

