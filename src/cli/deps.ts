/** What the command line takes from outside, for tests. */
import type { ResolverConfig } from '../dns/resolver-trust.js';
import type { Resolver } from '../dns/types.js';

/** What the command line takes from outside, injectable for tests (no packet leaves them). */
export interface CliDeps {
  /** The resolver for check and send (`config`: address, port, timeout, anchors); default: resolverFor, a StubResolver or a ValidatingResolver with anchors. */
  makeResolver?: (config: ResolverConfig) => Resolver;
}
