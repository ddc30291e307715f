/**
 * The lookups of one MX host in the order RFC 7672 §2.2 asks for them (addresses, then the
 * first CNAME and TLSA only where the rules make them due), through the injected Resolver;
 * every decision is core/rfc7672/host.ts's.
 */
import type { DnsAnswer, Proof, Resolver, TlsaData } from '../dns/types.js';
import { tlsaOwner } from '../dns/names.js';
import { reportAnswer, type DnsReport } from '../core/dns-report.js';
import { addressLiteralPlan, addressStep, daneGate, planFromTlsa, tlsaBaseCandidates, type DaneGateOptions, type HostPlan, type TlsaBaseCandidates, type TlsaBaseResult } from '../core/rfc7672/host.js';
import { answerFailed } from '../core/rfc7672/answer.js';
import type { MxHost } from '../core/rfc7672/mx.js';

export interface PlanOptions extends DaneGateOptions {
  /** SMTP port: the TLSA owner is `_<port>._tcp.<host>`. */
  port: number;
  signal?: AbortSignal;
}

/**
 * Resolve one MX host: its addresses, then TLSA only where the rules make it due.
 * `nextHop`: the next-hop domain (or its names: MxDecision.nextHopNames), `mxProof`: the
 * security of the MX RRset (or of the implicit-MX NODATA answer).
 */
export async function planHost(resolver: Resolver, host: MxHost, nextHop: string | readonly string[], mxProof: Proof, options: PlanOptions): Promise<HostPlan> {
  const nextHopNames = typeof nextHop === 'string' ? [nextHop] : [...nextHop];
  const literal = addressLiteralPlan(host);
  if (literal) return literal;
  const opts = { signal: options.signal };
  const [a, aaaa] = await Promise.all([resolver.lookup(host.name, 'A', opts), resolver.lookup(host.name, 'AAAA', opts)]);
  const dns: DnsReport[] = [reportAnswer(a), reportAnswer(aaaa)];
  const addresses = addressStep(host, a, aaaa, dns);
  if (addresses.kind !== 'addresses') return addresses;
  const gate = daneGate(host, nextHopNames, mxProof, options);
  if (gate.kind === 'may') return { kind: 'usable', host, addresses: addresses.addresses, level: gate, dns };
  const found = await findTlsaBase(resolver, host.name, [a, aaaa], options.port, opts);
  dns.push(...found.dns);
  return planFromTlsa(host, addresses.addresses, found.result, gate.mxNames, options.port, dns);
}

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

