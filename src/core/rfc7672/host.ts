/**
 * RFC 7672 §2.2: the TLS level of one MX host, from DNSSEC-tagged answers: address records,
 * the first CNAME when §2.2.2 needs it, the TLSA RRset at the base domain. Pure: the
 * lookups themselves are the engine's (engine/host-plan.ts).
 */
import { isAddressLiteral, tlsaOwner } from '../../dns/names.js';
import type { DnsAnswer, Proof, TlsaData } from '../../dns/types.js';
import type { DnsReport } from '../dns-report.js';
import type { MxHost } from './mx.js';
import { answerFailed, failedWhy, weakest } from './answer.js';
import { classifyTlsa, usableRecords, type ClassifiedTlsa } from './tlsa.js';

/** The TLS level a host gets (Postfix's names; RFC 7672 §2.2). */
export type HostLevel =
  | {
      kind: 'dane';
      /** RFC 7672 §2.2.3: the name the TLSA records were found under; also the SNI. */
      tlsaBase: string;
      tlsa: ClassifiedTlsa[];
      usable: ClassifiedTlsa[];
      /** RFC 7672 §3.2.2: names a DANE-TA leaf may carry. */
      referenceNames: string[];
    }
  | { kind: 'encrypt'; tlsaBase: string; tlsa: ClassifiedTlsa[]; why: string }
  | { kind: 'may'; cause: MayCause; why: string };

/** Why DANE does not apply to a host (opportunistic TLS). */
export type MayCause =
  | 'policy' // local policy switches DANE off
  | 'mx-insecure' // RFC 7672 §2.2.1: the MX RRset is not secure
  | 'address-insecure' // §2.2.2: the address records are not secure, so no TLSA lookup
  | 'no-tlsa' // no secure TLSA RRset at any candidate base domain
  | 'address-literal'; // a next hop given as an IP address: no name for TLSA

export type HostPlan =
  | { kind: 'usable'; host: MxHost; addresses: string[]; level: HostLevel; dns: DnsReport[] }
  | { kind: 'no-address'; host: MxHost; reason: string; dns: DnsReport[] }
  | { kind: 'failed'; host: MxHost; reason: string; dns: DnsReport[]; level?: HostLevel };


/** TLSA RRset → level. Pure. */
export function levelFromTlsa(tlsaBase: string, records: TlsaData[], referenceNames: string[]): HostLevel {
  const tlsa = classifyTlsa(records);
  const usable = usableRecords(tlsa);
  if (usable.length > 0) return { kind: 'dane', tlsaBase, tlsa, usable, referenceNames };
  // RFC 7672 §2.2: a secure TLSA RRset with no usable record still makes TLS mandatory,
  // without authentication (encrypt).
  return { kind: 'encrypt', tlsaBase, tlsa, why: records.length === 1 ? `the only TLSA record at ${tlsaBase} is unusable` : `all ${records.length} TLSA records at ${tlsaBase} are unusable` };
}

/**
 * RFC 7672 §2.2.2: the candidate TLSA base domains of a host, in lookup order, from its
 * (not failed) address answers and, when it is needed, the answer to a CNAME query at the
 * host name. Pure.
 *  - address records secure: the fully CNAME-expanded name first (when it differs), then
 *    the original name;
 *  - insecure, and the host is a CNAME: the original name only when its FIRST CNAME is
 *    secure — `need-first-cname` asks the caller for that answer;
 *  - otherwise none: DANE does not apply.
 */
export type TlsaBaseCandidates =
  | { kind: 'bases'; bases: string[]; rule: 'secure' | 'secure-cname' | 'first-cname-secure'; expanded: string; addrProof: Proof }
  | { kind: 'need-first-cname'; expanded: string; addrProof: Proof }
  | { kind: 'cname-failed'; answer: DnsAnswer<unknown>; expanded: string; addrProof: Proof }
  | { kind: 'none'; expanded: string; addrProof: Proof };

export function tlsaBaseCandidates(hostName: string, addressAnswers: readonly DnsAnswer<unknown>[], firstCname?: DnsAnswer<unknown>): TlsaBaseCandidates {
  const addrProof = weakest(addressAnswers.map((x) => x.proof));
  const expanded = (addressAnswers.find((x) => x.records.length > 0) ?? addressAnswers[addressAnswers.length - 1])?.canonicalName ?? hostName;
  const cnamed = expanded !== hostName;
  if (addrProof === 'secure') {
    return cnamed ? { kind: 'bases', bases: [expanded, hostName], rule: 'secure-cname', expanded, addrProof } : { kind: 'bases', bases: [hostName], rule: 'secure', expanded, addrProof };
  }
  if (!cnamed) return { kind: 'none', expanded, addrProof };
  if (!firstCname) return { kind: 'need-first-cname', expanded, addrProof };
  // RFC 7672 §2.1.1: a failed lookup is never "insecure": it must not switch DANE off.
  if (answerFailed(firstCname)) return { kind: 'cname-failed', answer: firstCname, expanded, addrProof };
  // RFC 7672 §2.2.2: an insecure chain whose FIRST CNAME is secure still gets TLSA at the original name.
  if (firstCname.status === 'data' && firstCname.proof === 'secure') return { kind: 'bases', bases: [hostName], rule: 'first-cname-secure', expanded, addrProof };
  return { kind: 'none', expanded, addrProof };
}

/** The outcome of the RFC 7672 §2.2.2 TLSA lookups for one host. */
export type TlsaBaseResult =
  | { kind: 'none'; addrProof: Proof }
  | { kind: 'cname-failed'; answer: DnsAnswer<unknown> }
  /** The first candidate whose TLSA lookup failed: the host is unusable (RFC 7672 §2.2.3). */
  | { kind: 'tlsa-failed'; base: string; answer: DnsAnswer<TlsaData> }
  /** The first candidate with a secure TLSA RRset: the TLSA base domain. */
  | { kind: 'found'; base: string; answer: DnsAnswer<TlsaData> }
  /** No candidate has a secure TLSA RRset. */
  | { kind: 'absent'; bases: string[] };

export function levelSummary(level: HostLevel): string {
  switch (level.kind) {
    case 'dane':
      return `DANE: ${level.usable.length} usable TLSA record${level.usable.length === 1 ? '' : 's'} at ${level.tlsaBase}`;
    case 'encrypt':
      return `TLS mandatory, unauthenticated: ${level.why}`;
    case 'may':
      return `opportunistic: ${level.why}`;
  }
}

/**
 * A next hop given as an IP address literal: nothing to look up, and no name to find TLSA
 * records under (RFC 7672 §2.2.3 TLSA base domains are host names), so DANE cannot apply;
 * as in Postfix, level dane becomes opportunistic and dane-only defers.
 */
export function addressLiteralPlan(host: MxHost): HostPlan | undefined {
  if (!host.addressLiteral || !isAddressLiteral(host.name)) return undefined;
  return { kind: 'usable', host, addresses: [host.name], level: { kind: 'may', cause: 'address-literal', why: `${host.name} is an IP address literal: no TLSA records can apply` }, dns: [] };
}

/** The A and AAAA answers of a host: its addresses, or why it cannot be used. */
export function addressStep(host: MxHost, a: DnsAnswer<string>, aaaa: DnsAnswer<string>, dns: DnsReport[]): HostPlan | { kind: 'addresses'; addresses: string[] } {
  const failedAddr = [a, aaaa].filter(answerFailed);
  if (failedAddr.length > 0) {
    // A bogus or failed address lookup: this host cannot be used; the next one is tried.
    // Both failed alike (a bogus zone): the resolver's text once, not once per type.
    const [first, second] = failedAddr as [DnsAnswer<unknown>, DnsAnswer<unknown>?];
    const reason = !second
      ? `address lookup ${first.qname} ${first.qtype} failed (${failedWhy(first)})`
      : failedWhy(first) === failedWhy(second)
        ? `address lookups ${first.qname} A and AAAA failed (${failedWhy(first)})`
        : `address lookups ${first.qname} A and AAAA failed (A: ${failedWhy(first)}; AAAA: ${failedWhy(second)})`;
    return { kind: 'failed', host, dns, reason };
  }
  const addresses = [...a.records, ...aaaa.records];
  if (addresses.length === 0) return { kind: 'no-address', host, dns, reason: `${host.name} has no A or AAAA records (${a.status})` };
  return { kind: 'addresses', addresses };
}

export interface DaneGateOptions {
  /**
   * RFC 7672 §2.2.1 allows DANE for a host whose own records are secure even when the
   * MX RRset is insecure. Off by default, as in Postfix.
   */
  daneWithInsecureMx?: boolean;
  /** False when local policy switches DANE off for this destination: no TLSA lookups at all. */
  dane?: boolean;
}

/**
 * Whether TLSA lookups are due at all (local policy, RFC 7672 §2.2.1), and the reference
 * identifiers the MX RRset vouches for (§3.2.2: the MX host and the next-hop domain count
 * only when the MX RRset is secure).
 */
export function daneGate(host: MxHost, nextHopNames: readonly string[], mxProof: Proof, options: DaneGateOptions): Extract<HostLevel, { kind: 'may' }> | { kind: 'tlsa-due'; mxNames: string[] } {
  if (options.dane === false) return { kind: 'may', cause: 'policy', why: 'DANE is off by local policy' };
  const mxSecure = mxProof === 'secure';
  if (!mxSecure && !options.daneWithInsecureMx) {
    // RFC 7672 §2.2.1: with an insecure MX RRset DANE does not apply (opportunistic TLS).
    return { kind: 'may', cause: 'mx-insecure', why: `the MX RRset of ${nextHopNames[0] ?? host.name} is ${mxProof}: DANE does not apply (RFC 7672 §2.2.1)` };
  }
  return { kind: 'tlsa-due', mxNames: mxSecure ? [host.name, ...nextHopNames] : [] };
}

/** The host's plan from the outcome of its RFC 7672 §2.2.2 TLSA lookups. */
export function planFromTlsa(host: MxHost, addresses: string[], r: TlsaBaseResult, mxNames: readonly string[], port: number, dns: DnsReport[]): HostPlan {
  const withAddrs = (level: HostLevel): HostPlan => ({ kind: 'usable', host, addresses, level, dns });
  switch (r.kind) {
    case 'cname-failed':
      // RFC 7672 §2.1.1: a failed lookup is never "insecure": it must not switch DANE off.
      return { kind: 'failed', host, dns, reason: `CNAME lookup ${r.answer.qname} failed (${failedWhy(r.answer)}): cannot tell whether TLSA is due at ${host.name}; host skipped (RFC 7672 §2.2.2)` };
    case 'none':
      return withAddrs({ kind: 'may', cause: 'address-insecure', why: `the address records of ${host.name} are ${r.addrProof}: no TLSA lookup (RFC 7672 §2.2.2)` });
    case 'tlsa-failed':
      // RFC 7672 §2.2.3: a failed or bogus TLSA lookup makes the host unusable.
      return { kind: 'failed', host, dns, reason: `TLSA lookup ${r.answer.qname} failed (${failedWhy(r.answer)}): host skipped (RFC 7672 §2.2.3)` };
    case 'found':
      return withAddrs(levelFromTlsa(r.base, r.answer.records, [...new Set([r.base, ...mxNames])]));
    case 'absent':
      return withAddrs({ kind: 'may', cause: 'no-tlsa', why: `no secure TLSA records at ${r.bases.map((b) => tlsaOwner(b, port)).join(' or ')}` });
  }
}
