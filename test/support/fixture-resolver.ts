/**
 * A declarative DNS fixture: `'name TYPE': answer` entries, everything else NXDOMAIN
 * (insecure). Records every question so tests can assert which lookups were (not) made.
 */
import type { DnsAnswer, DnsFailure, LookupStatus, Proof, RDataOf, RecordType, Resolver } from '../../src/dns/types.js';

export interface FixtureAnswer {
  proof: Proof;
  status?: LookupStatus;
  records?: unknown[];
  cnameChain?: string[];
  reason?: string;
  failure?: DnsFailure;
}

export class FixtureResolver implements Resolver {
  readonly asked: string[] = [];
  constructor(private readonly table: Record<string, FixtureAnswer>, private readonly fallback: FixtureAnswer = { proof: 'secure', status: 'nxdomain' }) {}

  async lookup<K extends RecordType>(name: string, type: K): Promise<DnsAnswer<RDataOf[K]>> {
    const key = `${name} ${type}`;
    this.asked.push(key);
    const f = this.table[key] ?? this.fallback;
    const records = (f.records ?? []) as RDataOf[K][];
    const status = f.status ?? (records.length > 0 ? 'data' : 'nodata');
    const cnameChain = f.cnameChain ?? [name];
    const answer: DnsAnswer<RDataOf[K]> = {
      qname: name,
      qtype: type,
      status,
      proof: f.proof,
      records,
      ttl: 300,
      cnameChain,
      canonicalName: cnameChain[cnameChain.length - 1]!,
    };
    if (f.reason) answer.reason = f.reason;
    if (f.failure) answer.failure = f.failure;
    return answer;
  }
}

export const mx = (preference: number, exchange: string) => ({ preference, exchange });
export const tlsa = (usage: number, selector: number, matchingType: number, hex: string) => ({ usage, selector, matchingType, data: Buffer.from(hex, 'hex') });
export const D32 = 'ab'.repeat(32);

/**
 * example.test with an insecure MX RRset (opportunistic TLS, no DANE): mx1.example.test
 * (192.0.2.1) at preference 10 before mx2.example.test (192.0.2.2) at 20. For backup-MX tests.
 */
export function twoInsecureMx(): FixtureResolver {
  const insecure = (records: unknown[]): FixtureAnswer => ({ proof: 'insecure', records });
  const nodata: FixtureAnswer = { proof: 'insecure', status: 'nodata' };
  return new FixtureResolver({
    'example.test MX': insecure([mx(10, 'mx1.example.test'), mx(20, 'mx2.example.test')]),
    'mx1.example.test A': insecure(['192.0.2.1']),
    'mx1.example.test AAAA': nodata,
    'mx2.example.test A': insecure(['192.0.2.2']),
    'mx2.example.test AAAA': nodata,
  });
}
