/**
 * The RFC 7672 planner: from DNSSEC-tagged DNS answers to the TLS level each MX host
 * must get. All decisions live here, next to their RFC sections; the only I/O is the
 * injected Resolver, so the rules run in unit tests against declarative fixtures.
 */
import type { DnsAnswer, DnsFailure, MxData, Proof, RecordType, Resolver, TlsaData } from '../dns/types.js';
import { isAddressLiteral, normalizeName, tlsaOwner } from '../dns/names.js';
import { classifyTlsa, tlsaToText, usableRecords, type ClassifiedTlsa } from './tlsa.js';

/** A DNS answer as reported (JSON and human output). */
export interface DnsReport {
  name: string;
  type: RecordType;
  status: DnsAnswer<unknown>['status'];
  proof: Proof;
  records: string[];
  cnameChain?: string[];
  reason?: string;
  /** Why it failed, as data (status `failed` only). */
  failure?: DnsFailure;
  /** ISO time of the earliest RRSIG expiration over the answer records, when known. */
  signatureExpires?: string;
}

export function reportAnswer(a: DnsAnswer<unknown>): DnsReport {
  const records = a.records.map((r) => recordText(a.qtype, r));
  const out: DnsReport = { name: a.qname, type: a.qtype, status: a.status, proof: a.proof, records };
  if (a.cnameChain.length > 1) out.cnameChain = a.cnameChain;
  if (a.reason) out.reason = a.reason;
  if (a.failure) out.failure = a.failure;
  if (a.signatureExpires) out.signatureExpires = a.signatureExpires;
  return out;
}

function recordText(type: RecordType, r: unknown): string {
  if (type === 'MX') {
    const mx = r as MxData;
    return `${mx.preference} ${mx.exchange || '.'}`;
  }
  if (type === 'TLSA') return tlsaToText(r as TlsaData);
  return typeof r === 'string' ? r : JSON.stringify(r);
}

export interface MxHost {
  /** The exchange as written in the MX record (the domain itself for an implicit MX). */
  name: string;
  preference: number;
  implicit: boolean;
  /**
   * An IP address literal from local configuration (a `[192.0.2.1]` next hop). Never set
   * for an MX exchange: one written as an address is looked up as a name (RFC 5321 §5.1).
   */
  addressLiteral?: true;
}

export type MxDecision =
  | {
      kind: 'hosts';
      hosts: MxHost[];
      mxProof: Proof;
      mx: DnsReport;
      /**
       * RFC 7672 §3.2.2: the next-hop domain as a reference identifier: the domain, and
       * its CNAME-expanded name when the MX lookup followed a CNAME (RFC 5321 §5.1).
       */
      nextHopNames: string[];
    }
  | { kind: 'tempfail'; reason: string; mx: DnsReport }
  | { kind: 'undeliverable'; reason: string; mx: DnsReport };

/** Fisher–Yates shuffle with an injected random source (tests pass a fixed one). */
function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Decide what the MX answer means for the destination. Pure. */
export function decideMx(domain: string, answer: DnsAnswer<MxData>, random: () => number = Math.random): MxDecision {
  const mx = reportAnswer(answer);
  if (answerFailed(answer)) {
    // RFC 7672 §2.2.1: a bogus or indeterminate MX RRset defers the mail.
    return { kind: 'tempfail', reason: `MX lookup for ${domain} failed (${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}); mail is deferred (RFC 7672 §2.2.1)`, mx };
  }
  // RFC 5321 §5.1: a CNAME found for the domain is processed as if it were the initial name.
  const expanded = normalizeName(answer.canonicalName || domain);
  const nextHopNames = [...new Set([domain, expanded])];
  switch (answer.status) {
    case 'failed':
      // RFC 7672 §2.2.1: a bogus or indeterminate MX RRset defers the mail.
      return { kind: 'tempfail', reason: `MX lookup for ${domain} failed (${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}); mail is deferred (RFC 7672 §2.2.1)`, mx };
    case 'nxdomain':
      return { kind: 'undeliverable', reason: `${domain} does not exist (NXDOMAIN)`, mx };
    case 'nodata':
      // RFC 5321 §5.1: no MX records, the domain is its own implicit MX.
      return { kind: 'hosts', hosts: [{ name: expanded, preference: 0, implicit: true }], mxProof: answer.proof, mx, nextHopNames };
    case 'data': {
      // RFC 7505 §3: a null MX ("0 .") says the domain accepts no mail; never fall back to its A record.
      if (answer.records.some((r) => r.exchange === '')) {
        return { kind: 'undeliverable', reason: `${domain} publishes a null MX (RFC 7505): it accepts no mail`, mx };
      }
      // RFC 5321 §5.1: ascending preference, equal preferences in random order.
      const byPref = new Map<number, string[]>();
      for (const r of answer.records) {
        const name = normalizeName(r.exchange);
        const list = byPref.get(r.preference) ?? [];
        if (!list.includes(name)) list.push(name);
        byPref.set(r.preference, list);
      }
      const seen = new Set<string>();
      const hosts: MxHost[] = [];
      for (const pref of [...byPref.keys()].sort((a, b) => a - b)) {
        for (const name of shuffle(byPref.get(pref)!, random)) {
          if (seen.has(name)) continue; // a host listed twice keeps its best preference
          seen.add(name);
          hosts.push({ name, preference: pref, implicit: false });
        }
      }
      return { kind: 'hosts', hosts, mxProof: answer.proof, mx, nextHopNames };
    }
  }
}

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
  | { kind: 'may'; why: string };

export type HostPlan =
  | { kind: 'usable'; host: MxHost; addresses: string[]; level: HostLevel; dns: DnsReport[] }
  | { kind: 'no-address'; host: MxHost; reason: string; dns: DnsReport[] }
  | { kind: 'failed'; host: MxHost; reason: string; dns: DnsReport[]; level?: HostLevel };

export interface PlanOptions {
  /** SMTP port: the TLSA owner is `_<port>._tcp.<host>`. */
  port: number;
  /**
   * RFC 7672 §2.2.1 allows DANE for a host whose own records are secure even when the
   * MX RRset is insecure. Off by default, as in Postfix.
   */
  daneWithInsecureMx?: boolean;
  /** False when local policy switches DANE off for this destination: no TLSA lookups at all. */
  dane?: boolean;
  signal?: AbortSignal;
}

/**
 * RFC 7672 §2.1.1: a bogus or indeterminate answer is a failed lookup, whatever else it
 * says. The built-in resolvers never pair them with data, but a Resolver is pluggable.
 */
export function answerFailed(answer: DnsAnswer<unknown>): boolean {
  return answer.status === 'failed' || answer.proof === 'bogus' || answer.proof === 'indeterminate';
}

function failedWhy(answer: DnsAnswer<unknown>): string {
  return `${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}`;
}

function weakest(proofs: Proof[]): Proof {
  for (const p of ['bogus', 'indeterminate', 'insecure'] as const) if (proofs.includes(p)) return p;
  return 'secure';
}

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
 * Resolve one MX host: its addresses, then TLSA only where the rules make it due.
 * `nextHop`: the next-hop domain (or its names: MxDecision.nextHopNames), `mxProof`: the
 * security of the MX RRset (or of the implicit-MX NODATA answer).
 */
export async function planHost(resolver: Resolver, host: MxHost, nextHop: string | readonly string[], mxProof: Proof, options: PlanOptions): Promise<HostPlan> {
  const nextHopNames = typeof nextHop === 'string' ? [nextHop] : [...nextHop];
  const domain = nextHopNames[0] ?? host.name;
  const dns: DnsReport[] = [];
  if (host.addressLiteral && isAddressLiteral(host.name)) {
    // A next hop given as an IP address literal: nothing to look up, and no name to find
    // TLSA records under (RFC 7672 §2.2.3 TLSA base domains are host names), so DANE cannot
    // apply; as in Postfix, level dane becomes opportunistic and dane-only defers.
    return { kind: 'usable', host, addresses: [host.name], level: { kind: 'may', why: `${host.name} is an IP address literal: no TLSA records can apply` }, dns };
  }
  const opts = { signal: options.signal };
  const [a, aaaa] = await Promise.all([resolver.lookup(host.name, 'A', opts), resolver.lookup(host.name, 'AAAA', opts)]);
  dns.push(reportAnswer(a), reportAnswer(aaaa));

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
  if (addresses.length === 0) {
    return { kind: 'no-address', host, dns, reason: `${host.name} has no A or AAAA records (${a.status})` };
  }
  const withAddrs = (level: HostLevel): HostPlan => ({ kind: 'usable', host, addresses, level, dns });

  if (options.dane === false) return withAddrs({ kind: 'may', why: 'DANE is off by local policy' });
  const mxSecure = mxProof === 'secure';
  if (!mxSecure && !options.daneWithInsecureMx) {
    // RFC 7672 §2.2.1: with an insecure MX RRset DANE does not apply (opportunistic TLS).
    return withAddrs({ kind: 'may', why: `the MX RRset of ${domain} is ${mxProof}: DANE does not apply (RFC 7672 §2.2.1)` });
  }
  // RFC 7672 §3.2.2: reference identifiers. The MX host and the next-hop domain come from
  // the MX RRset, so they count only when it is secure.
  const mxNames = mxSecure ? [host.name, ...nextHopNames] : [];
  const found = await findTlsaBase(resolver, host.name, [a, aaaa], options.port, opts);
  dns.push(...found.dns);
  const r = found.result;
  switch (r.kind) {
    case 'cname-failed':
      // RFC 7672 §2.1.1: a failed lookup is never "insecure": it must not switch DANE off.
      return { kind: 'failed', host, dns, reason: `CNAME lookup ${r.answer.qname} failed (${failedWhy(r.answer)}): cannot tell whether TLSA is due at ${host.name}; host skipped (RFC 7672 §2.2.2)` };
    case 'none':
      return withAddrs({ kind: 'may', why: `the address records of ${host.name} are ${r.addrProof}: no TLSA lookup (RFC 7672 §2.2.2)` });
    case 'tlsa-failed':
      // RFC 7672 §2.2.3: a failed or bogus TLSA lookup makes the host unusable.
      return { kind: 'failed', host, dns, reason: `TLSA lookup ${r.answer.qname} failed (${failedWhy(r.answer)}): host skipped (RFC 7672 §2.2.3)` };
    case 'found': {
      const refs = [...new Set([r.base, ...mxNames])];
      return withAddrs(levelFromTlsa(r.base, r.answer.records, refs));
    }
    case 'absent':
      return withAddrs({ kind: 'may', why: `no secure TLSA records at ${r.bases.map((b) => tlsaOwner(b, options.port)).join(' or ')}` });
  }
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

export interface TlsaBaseLookup {
  candidates: TlsaBaseCandidates;
  /** The TLSA lookups done, in order: the base domain and its answer. */
  queried: { base: string; answer: DnsAnswer<TlsaData> }[];
  /** Every answer looked up here (the first CNAME, the TLSA RRsets), as reported. */
  dns: DnsReport[];
  /** The first CNAME answer, when it was looked up. */
  firstCname?: DnsAnswer<string>;
  result: TlsaBaseResult;
}

/**
 * RFC 7672 §2.2.2: where a sending MTA finds the TLSA records of a host whose address
 * answers (none of them failed) are given: the first CNAME when it is due, then the TLSA
 * lookups at the candidates of tlsaBaseCandidates, in order, until one is failed or secure.
 */
export async function findTlsaBase(resolver: Resolver, hostName: string, addressAnswers: readonly DnsAnswer<unknown>[], port: number, opts: { signal?: AbortSignal } = {}): Promise<TlsaBaseLookup> {
  const dns: DnsReport[] = [];
  let candidates = tlsaBaseCandidates(hostName, addressAnswers);
  let firstCname: DnsAnswer<string> | undefined;
  if (candidates.kind === 'need-first-cname') {
    firstCname = await resolver.lookup(hostName, 'CNAME', opts);
    dns.push(reportAnswer(firstCname));
    candidates = tlsaBaseCandidates(hostName, addressAnswers, firstCname);
  }
  const out = (result: TlsaBaseResult, queried: TlsaBaseLookup['queried'] = []): TlsaBaseLookup => ({ candidates, queried, dns, ...(firstCname ? { firstCname } : {}), result });
  if (candidates.kind === 'cname-failed') return out({ kind: 'cname-failed', answer: candidates.answer });
  if (candidates.kind !== 'bases') return out({ kind: 'none', addrProof: candidates.addrProof });
  const queried: TlsaBaseLookup['queried'] = [];
  for (const base of candidates.bases) {
    const t = await resolver.lookup(tlsaOwner(base, port), 'TLSA', opts);
    dns.push(reportAnswer(t));
    queried.push({ base, answer: t });
    if (answerFailed(t)) return out({ kind: 'tlsa-failed', base, answer: t }, queried);
    if (t.status === 'data' && t.proof === 'secure') return out({ kind: 'found', base, answer: t }, queried);
    // No secure TLSA here: try the next candidate (the original name after the expanded one).
  }
  return out({ kind: 'absent', bases: candidates.bases }, queried);
}

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

