/**
 * The chain of trust (RFC 4035 §5, RFC 6840 §4.4): from the closest trust anchor down to
 * the zone that holds a name, the DNSKEY RRset of each zone authenticated by the DS RRset
 * its parent signed, and insecure delegations proven by NSEC/NSEC3. Each step (an anchor's
 * keys, a zone cut) is cached until its signatures or TTLs run out (a bogus one briefly,
 * RFC 4035 §4.7) and shared by concurrent lookups (../in-flight.ts).
 */
import { Abandoned, type InFlight } from '../in-flight.js';
import { TtlMap } from '../ttl-map.js';
import { RCODE, rcodeName } from '../wire.js';
import { lastLabels, nameLabelCount, isSubdomain } from './canonical.js';
import { proveNodata, proveNxdomain, proveWildcardExpansion } from './nsec.js';
import type { TrustAnchor } from './trust-anchors.js';
import type { ExchangeResult } from './transport.js';
import { isSupportedAlgorithm, isSupportedDigest, matchDs, verifyRRset, zoneKeyOf, type ZoneKey } from './verify.js';
import { denialOf, show, STRIPPED, View, type DenialContext, type RRset } from './view.js';
import { DNSKEY_FLAG_REVOKE, DNSKEY_FLAG_ZONE, parseDnskey, parseDs, T, type DnskeyData, type DsData, type RrsigData } from './wire-dnssec.js';

/** Security of the zone that contains a name. */
export type ZoneState =
  | { state: 'secure'; zone: string; keys: ZoneKey[]; expires: number }
  | { state: 'insecure'; reason: string; expires: number }
  | { state: 'bogus'; reason: string; expires: number }
  | { state: 'indeterminate'; reason: string; expires: number };

export type SecureZone = Extract<ZoneState, { state: 'secure' }>;

/** What a DS lookup at a name tells about a zone cut there. */
export type CutState =
  | ZoneState
  | { state: 'no-cut'; expires: number }
  | { state: 'nxdomain'; expires: number };

/** What the walk needs from the resolver. */
export interface ChainDeps {
  trustAnchors: readonly TrustAnchor[];
  /** One upstream query with DO and CD (shared among concurrent callers). */
  ask: (name: string, type: number, signal: AbortSignal) => Promise<ExchangeResult>;
  /** Clock, milliseconds since the epoch. */
  now: () => number;
  /** Milliseconds a bogus step is remembered. */
  bogusMs: number;
  /** Steps kept at most. */
  cacheSize: number;
  /** The sharing of work in flight (the resolver's, so its keys never collide). */
  inFlight: InFlight;
  /** For the NSEC/NSEC3 proofs of insecure delegations. */
  denial: () => DenialContext;
}

export class TrustChain {
  private readonly zones: TtlMap<CutState>;
  private readonly inFlight: InFlight;

  constructor(private readonly deps: ChainDeps) {
    this.zones = new TtlMap(deps.cacheSize);
    this.inFlight = deps.inFlight;
  }

  /** Forgets every step. */
  clear(): void {
    this.zones.clear();
  }

  /** The authenticated DNSKEYs of zone `zone` (a signer name): its chain must end at `zone`. */
  async zoneKeys(zone: string, signal: AbortSignal): Promise<ZoneState> {
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
  deepestAnchor(name: string): string | undefined {
    let best: string | undefined;
    for (const a of this.deps.trustAnchors) {
      if (isSubdomain(name, a.owner) && (best === undefined || nameLabelCount(a.owner) > nameLabelCount(best))) best = a.owner;
    }
    return best;
  }

  async chainTo(name: string, signal: AbortSignal): Promise<ZoneState> {
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
    const hit = this.zones.get(key, this.deps.now());
    if (hit) return hit as V;
    return this.inFlight.run(key, signal, async (s) => {
      const v = await fn(s);
      // Work nobody waits for any more is never kept (its queries were cut short).
      if (s.aborted) throw new Abandoned();
      const expires = v.state === 'bogus' ? Math.min(v.expires, this.deps.now() + this.deps.bogusMs) : v.state === 'indeterminate' ? 0 : v.expires;
      this.zones.set(key, v, expires, this.deps.now());
      return v;
    }).promise;
  }

  private expiresIn(seconds: number): number {
    return this.deps.now() + Math.max(0, seconds) * 1000;
  }

  /** DNSKEY RRset of a trust anchor's zone, authenticated by the anchor (RFC 4035 §5). */
  private async anchorKeys(zone: string, signal: AbortSignal): Promise<ZoneState> {
    const anchors = this.deps.trustAnchors.filter((a) => a.owner === zone);
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
    const v = verifyRRset(k.set, k.sigs, trusted, { nowSec: Math.floor(this.deps.now() / 1000), ttl: k.set.ttl });
    if (!v.ok) return { state: 'bogus', reason: `DNSKEY ${show(zone)} not signed by a trust anchor key: ${v.reason}`, expires: this.expiresIn(k.set.ttl) };
    return { state: 'secure', zone, keys: zoneKeysOf(zone, k.keys), expires: this.expiresIn(v.ttl) };
  }

  private async fetchDnskeys(zone: string, signal: AbortSignal): Promise<{ set: RRset; sigs: RrsigData[]; keys: DnskeyData[] } | ZoneState> {
    const r = await this.deps.ask(zone, T.DNSKEY, signal);
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
    const r = await this.deps.ask(name, T.DS, signal);
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
      const v = verifyRRset(ds, sigs, parent.keys, { nowSec: Math.floor(this.deps.now() / 1000), ttl: ds.ttl });
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
      const kv = verifyRRset(k.set, k.sigs, m.keys, { nowSec: Math.floor(this.deps.now() / 1000), ttl: k.set.ttl });
      if (!kv.ok) return { state: 'bogus', reason: `DNSKEY ${show(name)} not signed by a key its DS authenticates: ${kv.reason}`, expires: cap(5) };
      return { state: 'secure', zone: name, keys: zoneKeysOf(name, k.keys), expires: cap(Math.min(v.ttl, kv.ttl)) };
    }
    // A CNAME at the name: it is no zone cut (RFC 2181 §10.1).
    const cname = view.set('an', name, T.CNAME);
    if (cname) {
      const sigs = view.sigsOf('an', name, T.CNAME).filter((s) => s.signer === parent.zone);
      const v = verifyRRset(cname, sigs, parent.keys, { nowSec: Math.floor(this.deps.now() / 1000), ttl: cname.ttl });
      if (!v.ok) return { state: 'bogus', reason: `DS ${show(name)}: ${v.reason}`, expires: cap(5) };
      if (v.wildcardParent !== undefined) {
        // RFC 4035 §5.3.4: a wildcard CNAME holds here only if `name` itself does not exist
        // (else it could be a delegation whose DS was withheld).
        const d = denialOf(view, parent.zone, parent.keys, this.deps.denial());
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
    const d = denialOf(view, parent.zone, parent.keys, this.deps.denial());
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
