/**
 * Built-in DNSSEC validation (issue 6): a Resolver that validates from trust anchors
 * instead of trusting an upstream's AD bit.
 */
export { ValidatingResolver, type ValidatingResolverOptions, type ValidatingResolverStats } from './validating-resolver.js';
export { STRIPPED } from './view.js';
export { parseTrustAnchors, IANA_ROOT_ANCHORS, IANA_ROOT_ANCHORS_TEXT, type TrustAnchor } from './trust-anchors.js';
export { DEFAULT_NSEC3_ITERATION_LIMIT } from './nsec.js';
export { ZoneTextError } from './zone-text.js';
