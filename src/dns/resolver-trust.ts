/**
 * How far a run trusts its resolver (RFC 7672 §2.1), decided once for every command (check,
 * send, scan, tlsa --verify and the library):
 *
 * - 'self-validating': dane-smtp validates DNSSEC itself from trust anchors (--validate,
 *   --trust-anchor, the library's `validate`): the proofs are used as they are; the
 *   recursive resolver only has to pass DNSSEC records through.
 * - 'ad-trusted': the resolver set the AD bit on the signed root (the probe): its AD bit is
 *   trusted.
 * - 'untrusted': the resolver answers but does not validate (or strips AD): no answer is
 *   better than insecure, so DANE is off.
 *
 * `resolverFor` makes the resolver for a configuration (the AD-bit stub, or the validator
 * over any recursive resolver); `resolverTrust` and `trustedView` turn the probe into the
 * trust and the resolver as the run sees it.
 */
import { StubResolver } from './stub.js';
import { ValidatingResolver, type TrustAnchor } from './dnssec/index.js';
import { isLoopback } from './resolv-conf.js';
import type { ValidationProbe } from './probe.js';
import type { DnsAnswer, LookupOptions, RDataOf, RecordType, Resolver } from './types.js';

export type ResolverTrust = 'ad-trusted' | 'self-validating' | 'untrusted';

/** Where the resolver is and, to validate here, the trust anchors. */
export interface ResolverConfig {
  address: string;
  port: number;
  timeoutMs: number;
  /** Validate DNSSEC in process from these (else the resolver's AD bit is relied on). */
  anchors?: readonly TrustAnchor[] | undefined;
}

/** The resolver for a run: the AD-bit stub, or with trust anchors the built-in validator. */
export function resolverFor(config: ResolverConfig): Resolver {
  const { address, port, timeoutMs, anchors } = config;
  return anchors
    ? new ValidatingResolver({ upstream: { server: address, port }, timeoutMs, trustAnchors: anchors })
    : new StubResolver({ server: address, port, timeoutMs });
}

/**
 * The trust the probe earns: a resolver that validates itself is trusted for its own
 * proofs (even when its anchors are below the root and the root probe is not secure);
 * otherwise the AD bit counts only when the probe saw it on the signed root.
 */
export function resolverTrust(resolver: Pick<Resolver, 'validatesItself'>, probe: Pick<ValidationProbe, 'validates'>): ResolverTrust {
  if (resolver.validatesItself === true) return 'self-validating';
  return probe.validates ? 'ad-trusted' : 'untrusted';
}

/** The resolver as a run with this trust sees it: untrusted answers are never secure. */
export function trustedView(resolver: Resolver, trust: ResolverTrust): Resolver {
  return trust === 'untrusted' ? untrustedResolver(resolver) : resolver;
}

/**
 * The warning for an AD bit that would cross a network (RFC 7672 §2.1), or undefined: a
 * resolver on loopback, or a run that validates itself, needs none.
 */
export function remoteResolverWarning(config: Pick<ResolverConfig, 'address' | 'anchors'>): string | undefined {
  if (config.anchors || isLoopback(config.address)) return undefined;
  return `resolver ${config.address} is not on loopback; an AD bit that crosses a network can be forged (RFC 7672 §2.1)`;
}

/** The warning for a self-validating run whose root is not secure from its anchors. */
export function anchorsBelowRootWarning(probe: Pick<ValidationProbe, 'reason'>): string[] {
  return [`the root zone is not secure from the given trust anchor(s): ${probe.reason}`, 'only names under a trust anchor can be secure; DANE is off for the rest.'];
}

/**
 * A view of a resolver that failed the validation probe: its AD bit means nothing, so no
 * answer is better than insecure (DANE off, RFC 7672 §2.1). Failures stay failures.
 */
function untrustedResolver(inner: Resolver): Resolver {
  return {
    async lookup<K extends RecordType>(name: string, type: K, options?: LookupOptions): Promise<DnsAnswer<RDataOf[K]>> {
      const a = await inner.lookup(name, type, options);
      return a.proof === 'secure' ? { ...a, proof: 'insecure' } : a;
    },
  };
}
