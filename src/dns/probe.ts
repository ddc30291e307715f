/** Does the configured resolver validate DNSSEC? (RFC 7672 §2.1 needs a validating resolver.) */
import { isTransportFailure } from './stub.js';
import type { Resolver } from './types.js';

export interface ValidationProbe {
  /** The signed root SOA came back with AD=1 (RFC 4035 §3.2.3). */
  validates: boolean;
  /** The resolver gave a usable answer (not a timeout, socket error, SERVFAIL or REFUSED); else everything is deferred. */
  reachable: boolean;
  /** One line for humans. */
  reason: string;
  /** Not reachable because no answer came at all (a timeout, a socket error), not a bad one. */
  unreachable?: true;
  /** No probe was made: no destination of the run needs DNS (IP address literals only). */
  skipped?: true;
}

/**
 * Asks the root zone ('') for its SOA with DO set: the root is signed, so a validating
 * resolver sets AD. A caller's abort propagates (DaneSmtpError ABORTED).
 */
export async function probeValidation(resolver: Resolver, signal?: AbortSignal): Promise<ValidationProbe> {
  const answer = await resolver.lookup('', 'SOA', signal ? { signal } : {});
  if (answer.status === 'data' && answer.proof === 'secure') {
    return { validates: true, reachable: true, reason: 'resolver validates DNSSEC (AD bit set on the root SOA)' };
  }
  if (answer.status === 'failed') {
    const why = answer.reason ?? 'lookup failed';
    if (isTransportFailure(answer)) return { validates: false, reachable: false, unreachable: true, reason: `resolver unreachable: ${why}` };
    // SERVFAIL, REFUSED, a malformed answer…: we cannot tell whether it validates. That is
    // indeterminate, so everything is deferred (fail closed), never downgraded to insecure.
    return { validates: false, reachable: false, reason: `the resolver failed the DNSSEC probe (root SOA: ${why})` };
  }
  if (answer.proof === 'insecure') {
    return {
      validates: false,
      reachable: true,
      reason: 'resolver answered the root SOA without the AD bit: it does not validate DNSSEC (or strips AD)',
    };
  }
  return { validates: false, reachable: true, reason: `unexpected root SOA answer: ${answer.status}/${answer.proof}` };
}
