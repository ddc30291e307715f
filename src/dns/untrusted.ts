import type { DnsAnswer, LookupOptions, RDataOf, RecordType, Resolver } from './types.js';

/**
 * A view of a resolver that failed the validation probe: its AD bit means nothing, so no
 * answer is better than insecure (DANE off, RFC 7672 §2.1). Failures stay failures.
 */
export function untrustedResolver(inner: Resolver): Resolver {
  return {
    async lookup<K extends RecordType>(name: string, type: K, options?: LookupOptions): Promise<DnsAnswer<RDataOf[K]>> {
      const a = await inner.lookup(name, type, options);
      return a.proof === 'secure' ? { ...a, proof: 'insecure' } : a;
    },
  };
}
