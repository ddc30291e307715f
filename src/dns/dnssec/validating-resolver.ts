/**
 * A validating resolver (RFC 4033-4035, RFC 5155, RFC 6840): asks an upstream recursive
 * resolver with DO and CD, ignores its AD bit, and validates every answer from the trust
 * anchors down: DS and DNSKEY chains, RRSIGs, NSEC/NSEC3 denial, wildcards, CNAME chains,
 * insecure delegations. The four-state result of ../types.ts: secure, insecure, bogus
 * (status 'failed' with a reason naming the signature, key or proof), indeterminate.
 *
 * This file is the lookup: the deadline, the answer cache, following CNAMEs and validating
 * the RRsets and denials of an answer. The chain of trust is chain.ts, a response as read
 * is view.ts, the sharing of work in flight ../in-flight.ts and the TTL map ../ttl-map.ts
 * (both shared with the caching resolver); the checks are pure functions of verify.ts,
 * nsec.ts and canonical.ts.
 *
 * One deadline (`timeoutMs`) per lookup, however many DS and DNSKEY queries its chain of
 * trust needs; past it the answer is `failed`/`indeterminate` ("timeout after …"). Work is
 * shared among concurrent lookups (the same question, the same zone cut) and stopped only
 * when nobody waits for it any more; what it had not finished is never cached.
 * `signatureExpires` is the earliest expiration of the RRSIGs that validated the answer:
 * its RRset or the NSEC/NSEC3 records of its denial, and the CNAMEs (DNAMEs) of its chain.
 */
import { isIP } from 'node:net';
import { DaneSmtpError } from '../../errors.js';
import { Abandoned, InFlight } from '../in-flight.js';
import { MAX_CNAME_CHAIN } from '../stub.js';
import { TtlMap } from '../ttl-map.js';
import type { DnsAnswer, DnsFailure, LookupOptions, Proof, RDataOf, RecordType, Resolver } from '../types.js';
import { extendedErrors, nameToWire, RCODE, rcodeName, TYPE_CODES } from '../wire.js';
import { isSubdomain, nameLabelCount, nameWire } from './canonical.js';
import { TrustChain } from './chain.js';
import { DEFAULT_NSEC3_ITERATION_LIMIT, proveNodata, proveNxdomain, proveWildcardExpansion } from './nsec.js';
import type { TrustAnchor } from './trust-anchors.js';
import { exchange, type ExchangeResult } from './transport.js';
import { verifyRRset } from './verify.js';
import { denialOf, minDefined, show, unsignedReason, View, type DenialContext, type RRset } from './view.js';
import { T, typeName } from './wire-dnssec.js';

export { STRIPPED } from './view.js';

export interface ValidatingResolverOptions {
  /** The recursive resolver asked (with DO and CD); its AD bit is ignored. */
  upstream: { server: string; port?: number; localAddress?: string };
  /**
   * Deadline of one lookup as a whole: every query it makes to the upstream (with a cold
   * cache, DS and DNSKEY queries per zone cut, in turn) included. A lookup past it ends as
   * `failed`/`indeterminate` with a reason starting with "timeout". Also the deadline of
   * each query (UDP and the TCP retry).
   */
  timeoutMs: number;
  /** DS or DNSKEY records (parseTrustAnchors, IANA_ROOT_ANCHORS). */
  trustAnchors: readonly TrustAnchor[];
  /** NSEC3 proofs with more iterations are insecure (RFC 9276 §3.2); default 150. */
  nsec3IterationLimit?: number;
  /** Clock in milliseconds since the epoch (default Date.now), for signature validity and the cache. */
  now?: () => number;
  /** EDNS UDP payload size advertised; default 1232. */
  maxUdpSize?: number;
  /** Cache entries kept at most; default 10000. */
  cacheSize?: number;
  /** Seconds a bogus chain result is remembered (RFC 4035 §4.7); default 5. */
  bogusCacheSeconds?: number;
}

/** Counters, for benchmarks and tests. */
export interface ValidatingResolverStats {
  queries: number;
  cacheHits: number;
  lookups: number;
  /** NSEC3 name hashes computed (at most NSEC3_HASH_BUDGET per proof). */
  nsec3Hashes: number;
}

/**
 * `expires`: Unix time of the earliest expiration of the RRSIGs that validated the RRsets
 * behind the verdict (undefined when no signature was used).
 */
type Verdict =
  | { state: 'secure'; ttl: number; expires?: number }
  | { state: 'insecure'; ttl: number; reason: string; expires?: number }
  | { state: 'bogus'; reason: string }
  | { state: 'indeterminate'; reason: string };

const RANK: Record<Verdict['state'], number> = { secure: 0, insecure: 1, indeterminate: 2, bogus: 3 };

export class ValidatingResolver implements Resolver {
  readonly upstream: { server: string; port: number; localAddress?: string };
  readonly timeoutMs: number;
  readonly trustAnchors: readonly TrustAnchor[];
  readonly nsec3IterationLimit: number;
  readonly validatesItself = true;
  readonly stats: ValidatingResolverStats = { queries: 0, cacheHits: 0, lookups: 0, nsec3Hashes: 0 };
  private readonly now: () => number;
  private readonly maxUdpSize: number;
  private readonly bogusMs: number;
  private readonly answers: TtlMap<{ answer: DnsAnswer<unknown>; at: number }>;
  private readonly inFlight = new InFlight(() => new Abandoned());
  private readonly chain: TrustChain;

  constructor(options: ValidatingResolverOptions) {
    const { upstream, timeoutMs, trustAnchors, nsec3IterationLimit = DEFAULT_NSEC3_ITERATION_LIMIT } = options;
    const port = upstream?.port ?? 53;
    if (!upstream || typeof upstream.server !== 'string' || isIP(upstream.server.split('%')[0]!) === 0) {
      throw new DaneSmtpError('USAGE', `upstream resolver address is not an IP address: ${String(upstream?.server).slice(0, 80)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DaneSmtpError('USAGE', `bad resolver port ${port}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) throw new DaneSmtpError('USAGE', `bad DNS timeout ${timeoutMs} ms`);
    if (!Array.isArray(trustAnchors) || trustAnchors.length === 0) throw new DaneSmtpError('USAGE', 'no DNSSEC trust anchor');
    if (!Number.isInteger(nsec3IterationLimit) || nsec3IterationLimit < 0 || nsec3IterationLimit > 65535) {
      throw new DaneSmtpError('USAGE', `bad NSEC3 iteration limit ${nsec3IterationLimit}`);
    }
    this.upstream = { server: upstream.server, port, ...(upstream.localAddress ? { localAddress: upstream.localAddress } : {}) };
    this.timeoutMs = timeoutMs;
    this.trustAnchors = [...trustAnchors];
    this.nsec3IterationLimit = nsec3IterationLimit;
    this.now = options.now ?? Date.now;
    this.maxUdpSize = options.maxUdpSize ?? 1232;
    this.bogusMs = (options.bogusCacheSeconds ?? 5) * 1000;
    this.answers = new TtlMap(options.cacheSize ?? 10_000);
    this.chain = new TrustChain({
      trustAnchors: this.trustAnchors,
      ask: (name, type, signal) => this.ask(name, type, signal),
      now: this.now,
      bogusMs: this.bogusMs,
      cacheSize: options.cacheSize ?? 10_000,
      inFlight: this.inFlight,
      denial: () => this.denialContext(),
    });
  }

  /** Forgets everything cached. */
  clearCache(): void {
    this.answers.clear();
    this.chain.clear();
  }

  private nowSec(): number {
    return Math.floor(this.now() / 1000);
  }

  private denialContext(): DenialContext {
    return { nowSec: this.nowSec(), nsec3IterationLimit: this.nsec3IterationLimit, stats: this.stats };
  }

  async lookup<K extends RecordType>(name: string, type: K, options: LookupOptions = {}): Promise<DnsAnswer<RDataOf[K]>> {
    if (!Object.hasOwn(TYPE_CODES, type)) throw new DaneSmtpError('USAGE', `unsupported record type ${String(type).slice(0, 20)}`);
    const signal = options.signal;
    const aborted = () => new DaneSmtpError('ABORTED', undefined, { cause: signal?.reason });
    if (signal?.aborted) throw aborted();
    const parsed = nameToWire(name);
    if ('error' in parsed) {
      const qname = typeof name === 'string' ? name.toLowerCase().slice(0, 300) : '';
      return failed(qname, type, 'indeterminate', parsed.error);
    }
    this.stats.lookups++;
    const key = `${parsed.name}|${type}`;
    const cached = this.answers.get(key, this.now());
    if (cached) {
      this.stats.cacheHits++;
      const a = cached.answer as DnsAnswer<RDataOf[K]>;
      // The TTL counts down while cached (RFC 1035 §3.2.1).
      return a.ttl > 0 ? { ...a, ttl: Math.max(0, a.ttl - Math.floor((this.now() - cached.at) / 1000)) } : a;
    }
    // One deadline for the whole lookup, however many upstream queries the chain of trust
    // needs. The work is shared with concurrent lookups of the same question: this caller's
    // deadline or abort only stops its own wait (../in-flight.ts).
    const stop = new AbortController();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      stop.abort();
    }, this.timeoutMs);
    const onCallerAbort = () => stop.abort();
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return (await this.inFlight.run(`answer|${key}`, stop.signal, (s) =>
        this.resolve(parsed.name, type, s).catch((err: unknown) => {
          if (err instanceof Abandoned || s.aborted) throw err;
          // Never an exception for what the network sent (the Resolver contract); say what broke.
          return failed(parsed.name, type, 'indeterminate', `validator error: ${String((err as Error)?.message ?? err).slice(0, 160)}`);
        }),
      ).promise) as DnsAnswer<RDataOf[K]>;
    } catch (err) {
      if (signal?.aborted) throw aborted();
      if (err instanceof Abandoned && late) {
        return failed(
          parsed.name,
          type,
          'indeterminate',
          `timeout after ${this.timeoutMs / 1000}s: the DNSSEC validation of ${type} ${show(parsed.name)} did not finish in time (its chain of trust needs DS and DNSKEY queries to the upstream resolver, which answers too slowly or not at all)`,
          { kind: 'unreachable', cause: 'timeout' },
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  // ---------------------------------------------------------------- upstream

  private ask(name: string, type: number, signal: AbortSignal): Promise<ExchangeResult> {
    return this.inFlight.run(`q|${name}|${type}`, signal, async (s) => {
      this.stats.queries++;
      const r = await exchange(this.upstream, { name, nameWire: nameWire(name), type }, this.timeoutMs, this.maxUdpSize, s);
      // Stopped because nobody waits any more: no answer, not a timeout.
      if (s.aborted) throw new Abandoned();
      return r;
    }).promise;
  }

  // ---------------------------------------------------------------- answers

  private async resolve<K extends RecordType>(qname: string, type: K, signal: AbortSignal): Promise<DnsAnswer<RDataOf[K]>> {
    const qtype = TYPE_CODES[type];
    const r = await this.ask(qname, qtype, signal);
    if (!r.ok) return failed(qname, type, 'indeterminate', r.reason, r.unreachable ? { kind: 'unreachable', cause: r.unreachable } : { kind: 'bad-answer' });
    let view = new View(r.raw);
    const upstreamFailure = (v: View): { why: string; failure: DnsFailure } | undefined => {
      const rcode = v.raw.msg.rcode;
      if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
        return { why: `${rcodeName(rcode)} from the upstream resolver${v.edeText()}`, failure: { kind: 'rcode', rcode: rcodeName(rcode), ede: extendedErrors(v.raw.msg) } };
      }
      // An authoritative-only upstream answers with referrals; never read them as NODATA.
      if (!v.raw.msg.ra) return { why: 'the upstream resolver does not offer recursion (RA=0): use a recursive resolver', failure: { kind: 'bad-answer' } };
      const au = v.setsIn('au');
      if (rcode === RCODE.NOERROR && v.raw.msg.answers.length === 0 && au.some((x) => x.type === T.NS) && !au.some((x) => x.type === T.SOA)) {
        return { why: 'the upstream resolver answered with a referral instead of an answer: it does not recurse', failure: { kind: 'bad-answer' } };
      }
      return undefined;
    };
    const bad = upstreamFailure(view);
    if (bad) return failed(qname, type, 'indeterminate', bad.why, bad.failure);

    const verdicts: Verdict[] = [];
    const chain = [qname];
    const seen = new Set(chain);
    let name = qname;
    let data: RRset | undefined;
    for (let restarts = 0; ; restarts++) {
      const viewStart = name;
      if (qtype !== T.CNAME) {
        for (;;) {
          const cname = view.set('an', name, T.CNAME);
          if (!cname) break;
          if (cname.decoded.length !== 1 || cname.rdatas.length !== 1) {
            return failed(qname, type, 'bogus', `several CNAME records at ${show(name)} (RFC 2181 §10.1)`);
          }
          const v = await this.validateCname(view, cname, signal);
          verdicts.push(v);
          if (v.state === 'bogus' || v.state === 'indeterminate') return this.finish(qname, type, chain, v);
          const target = cname.decoded[0] as string;
          if (seen.has(target)) return failed(qname, type, 'indeterminate', `CNAME loop at ${show(target)}`);
          if (chain.length > MAX_CNAME_CHAIN) return failed(qname, type, 'indeterminate', `CNAME chain longer than ${MAX_CNAME_CHAIN}`);
          seen.add(target);
          chain.push(target);
          name = target;
        }
      }
      data = view.set('an', name, qtype);
      // An upstream that does not chase the chain: nothing about the target in this answer.
      const incomplete =
        !data &&
        name !== viewStart &&
        view.raw.msg.rcode === RCODE.NOERROR &&
        !view.setsIn('au').some((x) => x.type === T.SOA || x.type === T.NSEC || x.type === T.NSEC3);
      if (!incomplete || restarts >= 3) break;
      const next = await this.ask(name, qtype, signal);
      if (!next.ok) return this.finish(qname, type, chain, { state: 'indeterminate', reason: next.reason });
      view = new View(next.raw);
      const bad2 = upstreamFailure(view);
      if (bad2) return this.finish(qname, type, chain, { state: 'indeterminate', reason: `${show(name)}: ${bad2}` });
    }
    let status: 'data' | 'nodata' | 'nxdomain';
    if (data) {
      status = 'data';
      verdicts.push(await this.validateRRset(view, 'an', data, signal));
    } else {
      status = view.raw.msg.rcode === RCODE.NXDOMAIN ? 'nxdomain' : 'nodata';
      verdicts.push(await this.validateDenial(view, name, qtype, status === 'nxdomain', signal));
    }
    const worst = verdicts.reduce((a, b) => (RANK[b.state] > RANK[a.state] ? b : a));
    if (worst.state === 'bogus' || worst.state === 'indeterminate') return this.finish(qname, type, chain, worst);
    const ttl = Math.min(...verdicts.map((v) => (v.state === 'secure' || v.state === 'insecure' ? v.ttl : 0)));
    const canonicalName = chain[chain.length - 1]!;
    // The earliest expiration of the RRSIGs that validated the answer: its RRset (or the
    // NSEC/NSEC3 proof of its absence) and the CNAMEs (DNAMEs) of the chain; as the stub reports it.
    const expires = minDefined(...verdicts.map((v) => (v.state === 'secure' || v.state === 'insecure' ? v.expires : undefined)));
    const answer: DnsAnswer<RDataOf[K]> = {
      qname,
      qtype: type,
      status,
      proof: worst.state,
      records: data ? (data.decoded as RDataOf[K][]) : [],
      ttl: data ? ttl : 0,
      cnameChain: chain,
      canonicalName,
      ...(worst.state === 'insecure' ? { reason: worst.reason } : {}),
      ...(expires !== undefined ? { signatureExpires: new Date(expires * 1000).toISOString() } : {}),
    };
    if (signal.aborted) throw new Abandoned();
    // Kept within its TTL, which verifyRRset capped by the original TTL and the signature expirations.
    this.answers.set(`${qname}|${type}`, { answer, at: this.now() }, this.now() + ttl * 1000, this.now());
    return answer;
  }

  private finish<K extends RecordType>(qname: string, type: K, chain: string[], v: Verdict): DnsAnswer<RDataOf[K]> {
    const proof: Proof = v.state === 'bogus' ? 'bogus' : 'indeterminate';
    const reason = v.state === 'bogus' || v.state === 'indeterminate' ? v.reason : 'validation failed';
    const answer: DnsAnswer<RDataOf[K]> = { ...failed(qname, type, proof, reason), cnameChain: chain, canonicalName: chain[chain.length - 1]! };
    if (proof === 'bogus') this.answers.set(`${qname}|${type}`, { answer, at: this.now() }, this.now() + this.bogusMs, this.now());
    return answer;
  }

  /**
   * A CNAME link: signed itself, or synthesized from a signed DNAME above it (RFC 6672 §5.3.3:
   * the synthesized CNAME is not signed; it must match the validated DNAME).
   */
  private async validateCname(view: View, cname: RRset, signal: AbortSignal): Promise<Verdict> {
    if (view.sigsOf('an', cname.owner, T.CNAME).length > 0) return this.validateRRset(view, 'an', cname, signal);
    const dname = view
      .setsIn('an')
      .find((s) => s.type === T.DNAME && s.owner !== cname.owner && isSubdomain(cname.owner, s.owner) && s.decoded.length === 1);
    if (!dname) return this.validateRRset(view, 'an', cname, signal);
    const owner = dname.owner;
    // RFC 4035 §5: a name under a trust anchor is validated from that anchor. A DNAME above it
    // cannot be, and would otherwise make the name insecure (a downgrade): bogus.
    const anchor = this.chain.deepestAnchor(cname.owner);
    if (anchor !== undefined && !isSubdomain(owner, anchor)) {
      return { state: 'bogus', reason: `DNAME ${show(owner)} is above the trust anchor ${show(anchor)} of ${show(cname.owner)}: it cannot be validated` };
    }
    const prefix = owner === '' ? cname.owner : cname.owner.slice(0, cname.owner.length - owner.length - 1);
    const target = dname.decoded[0] as string;
    const expected = target === '' ? prefix : `${prefix}.${target}`;
    if (cname.decoded[0] !== expected) {
      return { state: 'bogus', reason: `CNAME ${show(cname.owner)} -> ${show(String(cname.decoded[0]))} does not match the DNAME ${show(owner)} -> ${show(target)}` };
    }
    const v = await this.validateRRset(view, 'an', dname, signal);
    if (v.state === 'secure' || v.state === 'insecure') return { ...v, ttl: Math.min(v.ttl, cname.ttl) };
    return v;
  }

  /** Validates one RRset of a response (RFC 4035 §5.3), wildcard expansions included. */
  private async validateRRset(view: View, section: 'an' | 'au', set: RRset, signal: AbortSignal): Promise<Verdict> {
    const what = `${typeName(set.type)} ${show(set.owner)}`;
    const sigs = view.sigsOf(section, set.owner, set.type);
    if (sigs.length === 0) {
      const z = await this.chain.chainTo(set.owner, signal);
      if (z.state === 'insecure') return { state: 'insecure', ttl: set.ttl, reason: z.reason };
      if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
      return { state: 'bogus', reason: unsignedReason(view, what, z.zone) };
    }
    const anchor = this.chain.deepestAnchor(set.owner);
    if (anchor === undefined) return { state: 'insecure', ttl: set.ttl, reason: `no trust anchor above ${show(set.owner)}` };
    // A signer above the closest trust anchor cannot be right (and could be insecure: a downgrade).
    const signers = [...new Set(sigs.map((s) => s.signer))]
      .filter((s) => isSubdomain(set.owner, s) && isSubdomain(s, anchor) && !(set.type === T.DS && s === set.owner))
      .sort((a, b) => nameLabelCount(b) - nameLabelCount(a));
    if (signers.length === 0) {
      return { state: 'bogus', reason: `${what}: RRSIG signer ${show(sigs[0]!.signer)} is not a zone between the trust anchor ${show(anchor)} and the owner` };
    }
    const reasons: string[] = [];
    for (const signer of signers.slice(0, 2)) {
      const z = await this.chain.zoneKeys(signer, signal);
      if (z.state === 'insecure') return { state: 'insecure', ttl: set.ttl, reason: z.reason };
      if (z.state !== 'secure') {
        reasons.push(z.reason);
        if (z.state === 'indeterminate') return { state: 'indeterminate', reason: `${what}: ${z.reason}` };
        continue;
      }
      const v = verifyRRset(set, sigs.filter((s) => s.signer === signer), z.keys, { nowSec: this.nowSec(), ttl: set.ttl });
      if (!v.ok) {
        reasons.push(v.reason);
        continue;
      }
      const ttl = Math.max(0, Math.min(v.ttl, Math.floor((z.expires - this.now()) / 1000)));
      if (v.wildcardParent !== undefined) {
        // RFC 4035 §5.3.4: a wildcard expansion needs proof that the name itself does not exist.
        const d = denialOf(view, signer, z.keys, this.denialContext());
        const p = proveWildcardExpansion(set.owner, v.wildcardParent, d.input);
        if (p.status === 'bogus') return { state: 'bogus', reason: `${what} (wildcard expansion): ${p.reason}${d.notes}` };
        if (p.status === 'insecure') return { state: 'insecure', ttl, reason: p.reason, expires: v.expires };
        return { state: 'secure', ttl: Math.min(ttl, d.ttl), expires: minDefined(v.expires, d.expires) };
      }
      return { state: 'secure', ttl, expires: v.expires };
    }
    return { state: 'bogus', reason: `${what}: ${[...new Set(reasons)].join('; ')}` };
  }

  /** NXDOMAIN or NODATA for `name` (RFC 4035 §5.4, RFC 5155 §8). */
  private async validateDenial(view: View, name: string, qtype: number, nx: boolean, signal: AbortSignal): Promise<Verdict> {
    const what = nx ? `NXDOMAIN for ${show(name)}` : `NODATA for ${typeName(qtype)} ${show(name)}`;
    const soa = view.setsIn('au').find((s) => s.type === T.SOA);
    const negTtl = soa ? Math.min(soa.ttl, soa.rdatas[0]!.length >= 20 ? soa.rdatas[0]!.readUInt32BE(soa.rdatas[0]!.length - 4) : 0) : 0;
    const anchor = this.chain.deepestAnchor(name);
    if (anchor === undefined) return { state: 'insecure', ttl: negTtl, reason: `no trust anchor above ${show(name)}` };
    const signers = view
      .authoritySigners()
      .filter((s) => isSubdomain(name, s) && isSubdomain(s, anchor))
      .sort((a, b) => nameLabelCount(b) - nameLabelCount(a));
    if (signers.length === 0) {
      const z = await this.chain.chainTo(name, signal);
      if (z.state === 'insecure') return { state: 'insecure', ttl: negTtl, reason: z.reason };
      if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
      return { state: 'bogus', reason: unsignedReason(view, what, z.zone) };
    }
    const zone = signers[0]!;
    const z = await this.chain.zoneKeys(zone, signal);
    if (z.state === 'insecure') return { state: 'insecure', ttl: negTtl, reason: z.reason };
    if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
    const d = denialOf(view, zone, z.keys, this.denialContext());
    const p = nx ? proveNxdomain(name, d.input) : proveNodata(name, qtype, d.input);
    if (p.status === 'bogus') return { state: 'bogus', reason: `${what}: ${p.reason}${d.notes}` };
    const ttl = Math.max(0, Math.min(negTtl, d.ttl, Math.floor((z.expires - this.now()) / 1000)));
    if (p.status === 'insecure') return { state: 'insecure', ttl, reason: p.reason, expires: d.expires };
    return { state: 'secure', ttl, expires: d.expires };
  }
}

function failed<K extends RecordType>(qname: string, qtype: K, proof: Proof, reason: string, failure: DnsFailure = { kind: 'validation' }): DnsAnswer<RDataOf[K]> {
  return { qname, qtype, status: 'failed', proof, records: [], ttl: 0, cnameChain: [qname], canonicalName: qname, reason, failure };
}

