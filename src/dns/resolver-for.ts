/**
 * The resolver for a run: the AD-bit stub (trusting a validating resolver, RFC 7672 §2.1),
 * or, with trust anchors, the built-in validator over any recursive resolver.
 */
import { StubResolver } from './stub.js';
import { ValidatingResolver, type TrustAnchor } from './dnssec/index.js';
import type { Resolver } from './types.js';

export function resolverFor(spec: { address: string; port: number }, timeoutMs: number, anchors: readonly TrustAnchor[] | undefined): Resolver {
  return anchors
    ? new ValidatingResolver({ upstream: { server: spec.address, port: spec.port }, timeoutMs, trustAnchors: anchors })
    : new StubResolver({ server: spec.address, port: spec.port, timeoutMs });
}
