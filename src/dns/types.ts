/**
 * DNS answers as the rest of dane-smtp sees them. The proof is four-state, never a
 * boolean AD bit (the hickory-dns model): a failed lookup is `bogus` or `indeterminate`,
 * never `insecure`.
 */
export type Proof = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TLSA' | 'CNAME' | 'SOA' | 'NS';

export interface MxData {
  preference: number;
  /** Lower-case, no trailing dot; '' (empty) for the root, as in a null MX `0 .`. */
  exchange: string;
}

export interface TlsaData {
  /** Numbers kept as numbers, unknown values included (usage 4 stays 4). */
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export interface RDataOf {
  A: string;
  AAAA: string;
  MX: MxData;
  TLSA: TlsaData;
  CNAME: string;
  SOA: unknown;
  NS: string;
}

/**
 * How a lookup ended:
 * - `data`: records of the asked type exist (possibly after CNAMEs);
 * - `nodata`: the name exists without records of that type;
 * - `nxdomain`: the name (or the end of its CNAME chain) does not exist;
 * - `failed`: SERVFAIL, timeout, REFUSED, malformed or mismatched answer…
 *   Its proof is `bogus` (the resolver said DNSSEC validation failed, e.g. by an
 *   Extended DNS Error 6–12) or `indeterminate`.
 */
export type LookupStatus = 'data' | 'nodata' | 'nxdomain' | 'failed';

/** An Extended DNS Error (RFC 8914) as the resolver sent it. */
export interface ExtendedDnsError {
  infoCode: number;
  extraText: string;
}

/**
 * Why a lookup failed, as data (the reason sentence is made from the same facts):
 * - `unreachable`: no answer from the resolver (a timeout, a socket error);
 * - `rcode`: the resolver answered SERVFAIL, REFUSED… with its Extended DNS Errors;
 * - `bad-answer`: malformed, mismatched or truncated, no recursion (RA=0), a referral;
 * - `validation`: the built-in validator refused the answer or could not finish it.
 */
export type DnsFailure =
  | { kind: 'unreachable'; cause: 'timeout' | 'network' }
  | { kind: 'rcode'; rcode: string; ede: ExtendedDnsError[] }
  | { kind: 'bad-answer' }
  | { kind: 'validation' };

export interface DnsAnswer<T> {
  /** The name asked, lower-case, no trailing dot. */
  qname: string;
  qtype: RecordType;
  status: LookupStatus;
  proof: Proof;
  /** RData of `qtype` owned by `canonicalName` (empty unless status is `data`). */
  records: T[];
  /** Smallest TTL of the records (0 when none). */
  ttl: number;
  /** CNAME chain followed in the answer: [qname, target1, target2, ...]. */
  cnameChain: string[];
  /** Last name of `cnameChain` (qname when there was no CNAME). */
  canonicalName: string;
  /** One line for humans: why it failed, e.g. "SERVFAIL (EDE 7: signature expired)". */
  reason?: string;
  /** Why it failed, as data (status `failed` only). */
  failure?: DnsFailure;
  /**
   * ISO time of the earliest RRSIG expiration covering the answer records (the RRsets of
   * `qtype` and the CNAMEs of the chain), when the answer section carried RRSIGs. The
   * built-in validator sets it from the RRSIGs that validated the answer, and for a
   * secure NXDOMAIN/NODATA from those over the NSEC/NSEC3 records of the proof.
   */
  signatureExpires?: string;
}

export interface LookupOptions {
  signal?: AbortSignal;
}

/** Everything that asks DNS takes one of these as a parameter (the mailauth model). */
export interface Resolver {
  /**
   * True for a resolver that validates DNSSEC itself from trust anchors (ValidatingResolver,
   * or a cache around one): its proofs do not rest on an upstream's AD bit, so they are used
   * as they are even when the root is not under its anchors.
   */
  readonly validatesItself?: boolean;
  lookup<K extends RecordType>(name: string, type: K, options?: LookupOptions): Promise<DnsAnswer<RDataOf[K]>>;
}
