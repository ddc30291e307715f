/**
 * A validating resolver (RFC 4033-4035, RFC 5155, RFC 6840): asks an upstream recursive
 * resolver with DO and CD, ignores its AD bit, and validates every answer from the trust
 * anchors down: DS and DNSKEY chains, RRSIGs, NSEC/NSEC3 denial, wildcards, CNAME chains,
 * insecure delegations. The four-state result of ../types.ts: secure, insecure, bogus
 * (status 'failed' with a reason naming the signature, key or proof), indeterminate.
 *
 * I/O and caching live here; the checks are pure functions of verify.ts, nsec.ts,
 * canonical.ts.
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
import { MAX_CNAME_CHAIN } from '../stub.js';
import type { DnsAnswer, DnsFailure, LookupOptions, Proof, RDataOf, RecordType, Resolver } from '../types.js';
import { describeExtendedErrors, extendedErrors, nameToWire, RCODE, rcodeName, TYPE_CODES, type WireRData } from '../wire.js';
import { isSubdomain, lastLabels, nameLabelCount, nameWire, type SignedRRset } from './canonical.js';
import { DEFAULT_NSEC3_ITERATION_LIMIT, proveNodata, proveNxdomain, proveWildcardExpansion, type DenialInput, type Nsec3RR, type NsecRR } from './nsec.js';
import type { TrustAnchor } from './trust-anchors.js';
import { exchange, type ExchangeResult } from './transport.js';
import { isSupportedAlgorithm, isSupportedDigest, matchDs, verifyRRset, zoneKeyOf, type ZoneKey } from './verify.js';
import {
  DNSKEY_FLAG_REVOKE,
  DNSKEY_FLAG_ZONE,
  parseDnskey,
  parseDs,
  parseNsec,
  parseNsec3,
  parseRrsig,
  T,
  typeName,
  type DnskeyData,
  type DsData,
  type RawMessage,
  type RawRecord,
  type RrsigData,
} from './wire-dnssec.js';

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

export const STRIPPED = 'the resolver strips DNSSEC records';

/** NSEC/NSEC3 RRsets of one response that are checked at most. */
const MAX_DENIAL_RRSETS = 16;

/**
 * `expires`: Unix time of the earliest expiration of the RRSIGs that validated the RRsets
 * behind the verdict (undefined when no signature was used).
 */
type Verdict =
  | { state: 'secure'; ttl: number; expires?: number }
  | { state: 'insecure'; ttl: number; reason: string; expires?: number }
  | { state: 'bogus'; reason: string }
  | { state: 'indeterminate'; reason: string };

/** Security of the zone that contains a name. */
type ZoneState =
  | { state: 'secure'; zone: string; keys: ZoneKey[]; expires: number }
  | { state: 'insecure'; reason: string; expires: number }
  | { state: 'bogus'; reason: string; expires: number }
  | { state: 'indeterminate'; reason: string; expires: number };

type SecureZone = Extract<ZoneState, { state: 'secure' }>;

/** What a DS lookup at a name tells about a zone cut there. */
type CutState =
  | ZoneState
  | { state: 'no-cut'; expires: number }
  | { state: 'nxdomain'; expires: number };

interface RRset extends SignedRRset {
  ttl: number;
  /** Decoded RDATA (../wire.ts), answer section only. */
  decoded: WireRData[];
}

const show = (n: string) => n || '.';

/** Shared work whose every waiter stopped waiting (a deadline or an abort): never an answer. */
class Abandoned extends Error {
  constructor() {
    super('abandoned');
  }
}

/** Work shared by concurrent callers: aborted (its signal) once nobody waits for it any more. */
interface Shared {
  promise: Promise<unknown>;
  controller: AbortController;
  waiters: number;
}

const minDefined = (...xs: (number | undefined)[]): number | undefined => {
  const ds = xs.filter((x): x is number => x !== undefined);
  return ds.length ? Math.min(...ds) : undefined;
};
const RANK: Record<Verdict['state'], number> = { secure: 0, insecure: 1, indeterminate: 2, bogus: 3 };

/** The records of one response, grouped into RRsets with their RRSIGs. */
class View {
  readonly sets = new Map<string, RRset>();
  readonly sigs = new Map<string, RrsigData[]>();
  readonly anyRrsig: boolean;
  constructor(readonly raw: RawMessage) {
    const add = (section: string, recs: RawRecord[], decoded?: WireRData[]) => {
      recs.forEach((r, i) => {
        if (r.class !== 1) return;
        if (r.type === T.RRSIG) {
          let s: RrsigData;
          try {
            s = parseRrsig(r.rdata);
          } catch {
            return;
          }
          const k = `${section}|${r.name}|${s.typeCovered}`;
          const list = this.sigs.get(k) ?? [];
          list.push(s);
          this.sigs.set(k, list);
          return;
        }
        const k = `${section}|${r.name}|${r.type}`;
        let set = this.sets.get(k);
        if (!set) {
          set = { owner: r.name, type: r.type, class: 1, rdatas: [], ttl: r.ttl, decoded: [] };
          this.sets.set(k, set);
        }
        (set.rdatas as Buffer[]).push(r.rdata);
        set.ttl = Math.min(set.ttl, r.ttl > 0x7fffffff ? 0 : r.ttl);
        if (decoded) set.decoded.push(decoded[i]!);
      });
    };
    add('an', raw.answers, raw.msg.answers.map((r) => r.data));
    add('au', raw.authorities);
    this.anyRrsig = [...raw.answers, ...raw.authorities, ...raw.additionals].some((r) => r.type === T.RRSIG);
  }
  set(section: 'an' | 'au', name: string, type: number): RRset | undefined {
    return this.sets.get(`${section}|${name}|${type}`);
  }
  sigsOf(section: 'an' | 'au', name: string, type: number): RrsigData[] {
    return this.sigs.get(`${section}|${name}|${type}`) ?? [];
  }
  setsIn(section: 'an' | 'au'): RRset[] {
    return [...this.sets.entries()].filter(([k]) => k.startsWith(`${section}|`)).map(([, v]) => v);
  }
  authoritySigners(): string[] {
    const out = new Set<string>();
    for (const [k, list] of this.sigs) if (k.startsWith('au|')) for (const s of list) out.add(s.signer);
    return [...out];
  }
  edeText(): string {
    return describeExtendedErrors(extendedErrors(this.raw.msg));
  }
}

class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  constructor(private readonly max: number) {}
  get(key: string, now: number): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key: string, value: V, expires: number, now: number): void {
    if (expires <= now) return;
    if (this.map.size >= this.max && !this.map.has(key)) {
      for (const [k, e] of this.map) {
        if (e.expires <= now) this.map.delete(k);
      }
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(key, { value, expires });
  }
  clear(): void {
    this.map.clear();
  }
}

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
  private readonly answers: TtlCache<{ answer: DnsAnswer<unknown>; at: number }>;
  private readonly zones: TtlCache<CutState>;
  private readonly inflight = new Map<string, Shared>();

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
    this.answers = new TtlCache(options.cacheSize ?? 10_000);
    this.zones = new TtlCache(options.cacheSize ?? 10_000);
  }

  /** Forgets everything cached. */
  clearCache(): void {
    this.answers.clear();
    this.zones.clear();
  }

  private nowSec(): number {
    return Math.floor(this.now() / 1000);
  }

  /**
   * Runs `fn` once for concurrent callers with the same key. A caller whose `signal` aborts
   * stops waiting (Abandoned) without disturbing the others; `fn`'s own signal aborts only
   * when every caller has stopped waiting, and a later caller then starts afresh. So one
   * lookup's deadline never fails another lookup that shares a DS or DNSKEY fetch with it.
   */
  private once<V>(key: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<V>): Promise<V> {
    if (signal.aborted) return Promise.reject(new Abandoned());
    let shared = this.inflight.get(key);
    if (!shared) {
      const controller = new AbortController();
      const entry: Shared = { controller, waiters: 0, promise: Promise.resolve() };
      entry.promise = fn(controller.signal).finally(() => {
        if (this.inflight.get(key) === entry) this.inflight.delete(key);
      });
      // Nobody may be left to observe a rejection (every waiter gone).
      entry.promise.catch(() => {});
      this.inflight.set(key, entry);
      shared = entry;
    }
    const entry = shared;
    entry.waiters++;
    return new Promise<V>((resolve, reject) => {
      const onAbort = () => {
        entry.waiters--;
        if (entry.waiters === 0) {
          if (this.inflight.get(key) === entry) this.inflight.delete(key);
          entry.controller.abort();
        }
        reject(new Abandoned());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v as V);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
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
    // deadline or abort only stops its own wait (see once()).
    const stop = new AbortController();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      stop.abort();
    }, this.timeoutMs);
    const onCallerAbort = () => stop.abort();
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await this.once(`answer|${key}`, stop.signal, (s) =>
        this.resolve(parsed.name, type, s).catch((err: unknown) => {
          if (err instanceof Abandoned || s.aborted) throw err;
          // Never an exception for what the network sent (the Resolver contract); say what broke.
          return failed(parsed.name, type, 'indeterminate', `validator error: ${String((err as Error)?.message ?? err).slice(0, 160)}`);
        }),
      ) as DnsAnswer<RDataOf[K]>;
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
    return this.once(`q|${name}|${type}`, signal, async (s) => {
      this.stats.queries++;
      const r = await exchange(this.upstream, { name, nameWire: nameWire(name), type }, this.timeoutMs, this.maxUdpSize, s);
      // Stopped because nobody waits any more: no answer, not a timeout.
      if (s.aborted) throw new Abandoned();
      return r;
    });
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
    const anchor = this.deepestAnchor(cname.owner);
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
      const z = await this.chainTo(set.owner, signal);
      if (z.state === 'insecure') return { state: 'insecure', ttl: set.ttl, reason: z.reason };
      if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
      return { state: 'bogus', reason: unsignedReason(view, what, z.zone) };
    }
    const anchor = this.deepestAnchor(set.owner);
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
      const z = await this.zoneKeys(signer, signal);
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
        const d = this.denial(view, signer, z.keys);
        const p = proveWildcardExpansion(set.owner, v.wildcardParent, d.input);
        if (p.status === 'bogus') return { state: 'bogus', reason: `${what} (wildcard expansion): ${p.reason}${d.notes}` };
        if (p.status === 'insecure') return { state: 'insecure', ttl, reason: p.reason, expires: v.expires };
        return { state: 'secure', ttl: Math.min(ttl, d.ttl), expires: minDefined(v.expires, d.expires) };
      }
      return { state: 'secure', ttl, expires: v.expires };
    }
    return { state: 'bogus', reason: `${what}: ${[...new Set(reasons)].join('; ')}` };
  }

  /**
   * NSEC/NSEC3 RRs of the authority section signed by `zone` with valid signatures; `expires`:
   * the earliest expiration of the RRSIGs that validated them.
   */
  private denial(view: View, zone: string, keys: ZoneKey[]): { input: DenialInput; ttl: number; expires: number | undefined; notes: string } {
    const nsec: NsecRR[] = [];
    const nsec3: Nsec3RR[] = [];
    const notes: string[] = [];
    let ttl = 0x7fffffff;
    let expires: number | undefined;
    let checked = 0;
    for (const set of view.setsIn('au')) {
      if (set.type !== T.NSEC && set.type !== T.NSEC3) continue;
      if (!isSubdomain(set.owner, zone)) continue;
      // A proof needs at most a few; a flood of them only costs signature checks.
      if (++checked > MAX_DENIAL_RRSETS) {
        notes.push(`more than ${MAX_DENIAL_RRSETS} NSEC/NSEC3 RRsets, the rest ignored`);
        break;
      }
      const sigs = view.sigsOf('au', set.owner, set.type).filter((s) => s.signer === zone);
      if (sigs.length === 0) {
        notes.push(`${typeName(set.type)} ${show(set.owner)} has no RRSIG by ${show(zone)}`);
        continue;
      }
      const v = verifyRRset(set, sigs, keys, { nowSec: this.nowSec(), ttl: set.ttl });
      if (!v.ok) {
        notes.push(v.reason);
        continue;
      }
      // RFC 4592 §4.7, RFC 4035 §5.3.4: NSEC/NSEC3 RRs are never synthesized from a wildcard
      // for a negative answer; one that verifies only as an expansion (RRSIG Labels below the
      // owner's) is a replayed *.<parent> record, e.g. renamed to deny a TLSA RRset.
      if (v.wildcardParent !== undefined) {
        notes.push(`${typeName(set.type)} ${show(set.owner)} verifies only as an expansion of *.${show(v.wildcardParent)}: no denial proof (RFC 4592 §4.7)`);
        continue;
      }
      ttl = Math.min(ttl, v.ttl);
      expires = minDefined(expires, v.expires);
      for (const rd of set.rdatas) {
        try {
          if (set.type === T.NSEC) nsec.push({ owner: set.owner, data: parseNsec(rd) });
          else nsec3.push({ owner: set.owner, data: parseNsec3(rd) });
        } catch (err) {
          notes.push(`malformed ${typeName(set.type)} at ${show(set.owner)}: ${(err as Error).message}`);
        }
      }
    }
    return {
      input: { zone, nsec, nsec3, nsec3IterationLimit: this.nsec3IterationLimit, stats: this.stats },
      ttl,
      expires,
      notes: notes.length ? ` [ignored: ${notes.slice(0, 2).join('; ')}]` : '',
    };
  }

  /** NXDOMAIN or NODATA for `name` (RFC 4035 §5.4, RFC 5155 §8). */
  private async validateDenial(view: View, name: string, qtype: number, nx: boolean, signal: AbortSignal): Promise<Verdict> {
    const what = nx ? `NXDOMAIN for ${show(name)}` : `NODATA for ${typeName(qtype)} ${show(name)}`;
    const soa = view.setsIn('au').find((s) => s.type === T.SOA);
    const negTtl = soa ? Math.min(soa.ttl, soa.rdatas[0]!.length >= 20 ? soa.rdatas[0]!.readUInt32BE(soa.rdatas[0]!.length - 4) : 0) : 0;
    const anchor = this.deepestAnchor(name);
    if (anchor === undefined) return { state: 'insecure', ttl: negTtl, reason: `no trust anchor above ${show(name)}` };
    const signers = view
      .authoritySigners()
      .filter((s) => isSubdomain(name, s) && isSubdomain(s, anchor))
      .sort((a, b) => nameLabelCount(b) - nameLabelCount(a));
    if (signers.length === 0) {
      const z = await this.chainTo(name, signal);
      if (z.state === 'insecure') return { state: 'insecure', ttl: negTtl, reason: z.reason };
      if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
      return { state: 'bogus', reason: unsignedReason(view, what, z.zone) };
    }
    const zone = signers[0]!;
    const z = await this.zoneKeys(zone, signal);
    if (z.state === 'insecure') return { state: 'insecure', ttl: negTtl, reason: z.reason };
    if (z.state !== 'secure') return { state: z.state, reason: `${what}: ${z.reason}` };
    const d = this.denial(view, zone, z.keys);
    const p = nx ? proveNxdomain(name, d.input) : proveNodata(name, qtype, d.input);
    if (p.status === 'bogus') return { state: 'bogus', reason: `${what}: ${p.reason}${d.notes}` };
    const ttl = Math.max(0, Math.min(negTtl, d.ttl, Math.floor((z.expires - this.now()) / 1000)));
    if (p.status === 'insecure') return { state: 'insecure', ttl, reason: p.reason, expires: d.expires };
    return { state: 'secure', ttl, expires: d.expires };
  }

  // ---------------------------------------------------------------- chain of trust

  /** The authenticated DNSKEYs of zone `zone` (a signer name): its chain must end at `zone`. */
  private async zoneKeys(zone: string, signal: AbortSignal): Promise<ZoneState> {
    const z = await this.chainTo(zone, signal);
    if (z.state === 'secure' && z.zone !== zone) {
      return { state: 'bogus', reason: `${show(zone)} signs records but is not a zone apex (its zone is ${show(z.zone)})`, expires: z.expires };
    }
    return z;
  }

  /**
   * Security of the deepest zone containing `name`: from the closest trust anchor down, a
   * DS query at each name in between finds the zone cuts (RFC 4035 §5.2, RFC 6840 §4.4).
   */
  private deepestAnchor(name: string): string | undefined {
    let best: string | undefined;
    for (const a of this.trustAnchors) {
      if (isSubdomain(name, a.owner) && (best === undefined || nameLabelCount(a.owner) > nameLabelCount(best))) best = a.owner;
    }
    return best;
  }

  private async chainTo(name: string, signal: AbortSignal): Promise<ZoneState> {
    const top = this.deepestAnchor(name);
    if (top === undefined) return { state: 'insecure', reason: `no trust anchor above ${show(name)}`, expires: Infinity };
    const anchor: ZoneState = await this.cached(`anchor|${top}`, signal, (s) => this.anchorKeys(top, s));
    if (anchor.state !== 'secure') return anchor;
    let cur: SecureZone = anchor;
    const total = nameLabelCount(name);
    for (let n = nameLabelCount(top) + 1; n <= total; n++) {
      const c = lastLabels(name, n);
      const parent: SecureZone = cur;
      const step: CutState = await this.cached<CutState>(`cut|${c}`, signal, (s) => this.cutAt(c, parent, s));
      if (step.state === 'no-cut') continue;
      if (step.state === 'nxdomain') break;
      if (step.state !== 'secure') return step;
      cur = step;
    }
    return cur;
  }

  private async cached<V extends CutState>(key: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<V>): Promise<V> {
    const hit = this.zones.get(key, this.now());
    if (hit) return hit as V;
    return this.once(key, signal, async (s) => {
      const v = await fn(s);
      // Work nobody waits for any more is never kept (its queries were cut short).
      if (s.aborted) throw new Abandoned();
      const expires = v.state === 'bogus' ? Math.min(v.expires, this.now() + this.bogusMs) : v.state === 'indeterminate' ? 0 : v.expires;
      this.zones.set(key, v, expires, this.now());
      return v;
    });
  }

  private expiresIn(seconds: number): number {
    return this.now() + Math.max(0, seconds) * 1000;
  }

  /** DNSKEY RRset of a trust anchor's zone, authenticated by the anchor (RFC 4035 §5). */
  private async anchorKeys(zone: string, signal: AbortSignal): Promise<ZoneState> {
    const anchors = this.trustAnchors.filter((a) => a.owner === zone);
    const ds: DsData[] = [];
    const anchorKeys: ZoneKey[] = [];
    for (const a of anchors) {
      if (a.type === 'DS') ds.push(a.ds);
      else if (isSupportedAlgorithm(a.dnskey.algorithm) && (a.dnskey.flags & DNSKEY_FLAG_ZONE) !== 0) anchorKeys.push(zoneKeyOf(zone, a.dnskey));
    }
    const usableDs = ds.filter((d) => isSupportedDigest(d.digestType) && isSupportedAlgorithm(d.algorithm));
    if (usableDs.length === 0 && anchorKeys.length === 0) {
      return { state: 'insecure', reason: `the trust anchors of ${show(zone)} use no supported algorithm or digest type`, expires: Infinity };
    }
    const k = await this.fetchDnskeys(zone, signal);
    if ('state' in k) return k;
    const trusted = [...anchorKeys];
    if (usableDs.length) {
      const m = matchDs(zone, usableDs, k.keys);
      if (m.kind === 'match') trusted.push(...m.keys);
      else if (anchorKeys.length === 0) return { state: 'bogus', reason: `trust anchor: ${m.reason}`, expires: this.expiresIn(k.set.ttl) };
    }
    const v = verifyRRset(k.set, k.sigs, trusted, { nowSec: this.nowSec(), ttl: k.set.ttl });
    if (!v.ok) return { state: 'bogus', reason: `DNSKEY ${show(zone)} not signed by a trust anchor key: ${v.reason}`, expires: this.expiresIn(k.set.ttl) };
    return { state: 'secure', zone, keys: zoneKeysOf(zone, k.keys), expires: this.expiresIn(v.ttl) };
  }

  private async fetchDnskeys(zone: string, signal: AbortSignal): Promise<{ set: RRset; sigs: RrsigData[]; keys: DnskeyData[] } | ZoneState> {
    const r = await this.ask(zone, T.DNSKEY, signal);
    if (!r.ok) return { state: 'indeterminate', reason: `DNSKEY ${show(zone)}: ${r.reason}`, expires: 0 };
    const view = new View(r.raw);
    const rcode = r.raw.msg.rcode;
    if (rcode !== RCODE.NOERROR) {
      return { state: rcode === RCODE.SERVFAIL ? 'indeterminate' : 'bogus', reason: `DNSKEY ${show(zone)}: ${rcodeName(rcode)}${view.edeText()}`, expires: 0 };
    }
    const set = view.set('an', zone, T.DNSKEY);
    if (!set) return { state: 'bogus', reason: `no DNSKEY RRset for ${show(zone)}, whose DS or trust anchor says it is signed`, expires: this.expiresIn(5) };
    const sigs = view.sigsOf('an', zone, T.DNSKEY);
    if (sigs.length === 0) {
      return {
        state: 'bogus',
        reason: `the DNSKEY RRset of ${show(zone)} came without RRSIG${view.anyRrsig ? '' : ` and the answer has no RRSIG at all: ${STRIPPED} (asked with DO and CD${view.raw.msg.edns ? '' : '; its answer has no EDNS0 OPT record'})`}`,
        expires: this.expiresIn(5),
      };
    }
    const keys: DnskeyData[] = [];
    for (const rd of set.rdatas) {
      try {
        keys.push(parseDnskey(rd));
      } catch {
        // a malformed key cannot sign anything
      }
    }
    return { set, sigs, keys };
  }

  /** What the DS RRset (or its proven absence) at `name`, signed by `parent`, says. */
  private async cutAt(name: string, parent: SecureZone, signal: AbortSignal): Promise<CutState> {
    const r = await this.ask(name, T.DS, signal);
    if (!r.ok) return { state: 'indeterminate', reason: `DS ${show(name)}: ${r.reason}`, expires: 0 };
    const view = new View(r.raw);
    const rcode = r.raw.msg.rcode;
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
      return { state: 'indeterminate', reason: `DS ${show(name)}: ${rcodeName(rcode)} from the upstream resolver${view.edeText()}`, expires: 0 };
    }
    const cap = (sec: number) => Math.min(parent.expires, this.expiresIn(sec));
    const ds = view.set('an', name, T.DS);
    if (ds) {
      const sigs = view.sigsOf('an', name, T.DS).filter((s) => s.signer === parent.zone);
      if (sigs.length === 0) {
        return {
          state: 'bogus',
          reason: `the DS RRset of ${show(name)} has no RRSIG by ${show(parent.zone)}${view.anyRrsig ? '' : `: ${STRIPPED}`}`,
          expires: cap(5),
        };
      }
      const v = verifyRRset(ds, sigs, parent.keys, { nowSec: this.nowSec(), ttl: ds.ttl });
      if (!v.ok) return { state: 'bogus', reason: `DS ${show(name)}: ${v.reason}`, expires: cap(5) };
      const dsList: DsData[] = [];
      for (const rd of ds.rdatas) {
        try {
          dsList.push(parseDs(rd));
        } catch {
          // ignored
        }
      }
      const usable = dsList.filter((d) => isSupportedDigest(d.digestType) && isSupportedAlgorithm(d.algorithm));
      if (usable.length === 0) {
        const list = dsList.map((d) => `${d.keyTag} alg ${d.algorithm} digest ${d.digestType}`).join(', ');
        return {
          state: 'insecure',
          reason: `${show(name)} is insecure: its DS records use no supported algorithm and digest type (${list}; RFC 4035 §5.2, RFC 6840 §5.2)`,
          expires: cap(v.ttl),
        };
      }
      const k = await this.fetchDnskeys(name, signal);
      if ('state' in k) return { ...k, expires: Math.min(k.expires, cap(5)) };
      const m = matchDs(name, usable, k.keys);
      if (m.kind !== 'match') return { state: 'bogus', reason: `${m.reason}: wrong DS digest or missing key`, expires: cap(5) };
      const kv = verifyRRset(k.set, k.sigs, m.keys, { nowSec: this.nowSec(), ttl: k.set.ttl });
      if (!kv.ok) return { state: 'bogus', reason: `DNSKEY ${show(name)} not signed by a key its DS authenticates: ${kv.reason}`, expires: cap(5) };
      return { state: 'secure', zone: name, keys: zoneKeysOf(name, k.keys), expires: cap(Math.min(v.ttl, kv.ttl)) };
    }
    // A CNAME at the name: it is no zone cut (RFC 2181 §10.1).
    const cname = view.set('an', name, T.CNAME);
    if (cname) {
      const sigs = view.sigsOf('an', name, T.CNAME).filter((s) => s.signer === parent.zone);
      const v = verifyRRset(cname, sigs, parent.keys, { nowSec: this.nowSec(), ttl: cname.ttl });
      if (!v.ok) return { state: 'bogus', reason: `DS ${show(name)}: ${v.reason}`, expires: cap(5) };
      if (v.wildcardParent !== undefined) {
        // RFC 4035 §5.3.4: a wildcard CNAME holds here only if `name` itself does not exist
        // (else it could be a delegation whose DS was withheld).
        const d = this.denial(view, parent.zone, parent.keys);
        const p = proveWildcardExpansion(name, v.wildcardParent, d.input);
        if (p.status === 'bogus') return { state: 'bogus', reason: `DS ${show(name)}: CNAME (wildcard expansion): ${p.reason}${d.notes}`, expires: cap(5) };
        if (p.status === 'insecure') return { state: 'insecure', reason: `${show(name)} is insecure: ${p.reason}`, expires: cap(Math.min(v.ttl, d.ttl)) };
        return { state: 'no-cut', expires: cap(Math.min(v.ttl, d.ttl)) };
      }
      return { state: 'no-cut', expires: cap(v.ttl) };
    }
    if (!view.anyRrsig) {
      return {
        state: 'bogus',
        reason: `no DS for ${show(name)} and no RRSIG at all in the answer, under the signed zone ${show(parent.zone)}: ${STRIPPED}`,
        expires: cap(5),
      };
    }
    const d = this.denial(view, parent.zone, parent.keys);
    const nx = rcode === RCODE.NXDOMAIN;
    const p = nx ? proveNxdomain(name, d.input) : proveNodata(name, T.DS, d.input);
    const soa = view.setsIn('au').find((s) => s.type === T.SOA);
    const ttl = Math.min(d.ttl, soa?.ttl ?? d.ttl);
    if (p.status === 'bogus') return { state: 'bogus', reason: `no DS for ${show(name)}: ${p.reason}${d.notes}`, expires: cap(5) };
    if (p.status === 'insecure') return { state: 'insecure', reason: `${show(name)} is insecure: ${p.reason}`, expires: cap(ttl) };
    if (nx) return { state: 'nxdomain', expires: cap(ttl) };
    if (p.types?.has(T.NS)) {
      return { state: 'insecure', reason: `${show(name)} is an insecure delegation: ${p.via} proves that it has no DS`, expires: cap(ttl) };
    }
    return { state: 'no-cut', expires: cap(ttl) };
  }
}

function zoneKeysOf(zone: string, keys: DnskeyData[]): ZoneKey[] {
  return keys
    .filter((k) => (k.flags & DNSKEY_FLAG_ZONE) !== 0 && (k.flags & DNSKEY_FLAG_REVOKE) === 0 && k.protocol === 3)
    .map((k) => zoneKeyOf(zone, k));
}

function unsignedReason(view: View, what: string, zone: string): string {
  // The chain of trust to `zone` was validated from signed DNSKEY and DS answers of the same
  // upstream, so it does pass RRSIGs: this answer alone is unsigned.
  return `${what} has no RRSIG although ${show(zone)} is a signed zone: an unsigned, possibly forged answer${
    view.anyRrsig ? '' : ' (no RRSIG at all in it, while the keys of the zone came signed)'
  }`;
}

function failed<K extends RecordType>(qname: string, qtype: K, proof: Proof, reason: string, failure: DnsFailure = { kind: 'validation' }): DnsAnswer<RDataOf[K]> {
  return { qname, qtype, status: 'failed', proof, records: [], ttl: 0, cnameChain: [qname], canonicalName: qname, reason, failure };
}

